/**
 * Expert activations as graph code, forward and (for hand-written backward passes such as the
 * sparse dispatch's) their derivative.
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { Activation } from "./config.ts";

/** act(z) elementwise; `constant` is built without it (its experts do not read their input). */
export function activate(g: Graph, z: Value, a: Activation): Value {
  const { op } = g;
  switch (a) {
    case "relu":
      return op.Relu(z);
    case "linear":
      return z;
    case "gelu": {
      // Exact GELU: z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)). onnxruntime's CPU Erf is
      // float32-only, so float64 graphs evaluate erf in float32 (about 1e-7 relative).
      const e = erf(g, op.Mul(z, Math.SQRT1_2));
      return op.Mul(op.Mul(z, 0.5), op.Add(e, 1));
    }
    case "constant":
      throw new Error("activation: 'constant' experts are built without an activation");
  }
}

function erf(g: Graph, u: Value): Value {
  const { op } = g;
  return u.dtype === "float32" ? op.Erf(u) : op.Cast(op.Erf(op.Cast(u, "float32")), u.dtype);
}

/**
 * The gradient through act: dz = dh * act'(z), given z, h = act(z) and dh. ReLU reads its mask
 * off h (one Greater, one Cast, one Mul: cheaper on onnxruntime CPU than Where).
 */
export function activateGrad(g: Graph, z: Value, h: Value, dh: Value, a: Activation): Value {
  const { op } = g;
  switch (a) {
    case "relu":
      return op.Mul(dh, op.Cast(op.Greater(h, 0), dh.dtype));
    case "linear":
      return dh;
    case "gelu": {
      // The chain rule through `activate`'s ops, in their order and precision (erf' in
      // float32 like erf), so it matches the generic autodiff of the dense strategy.
      const u = op.Mul(z, Math.SQRT1_2);
      const e = erf(g, u);
      const dzA = op.Mul(op.Mul(dh, op.Add(e, 1)), 0.5);
      const de = op.Mul(dh, op.Mul(z, 0.5));
      const d32 = dh.dtype === "float32" ? de : op.Cast(de, "float32");
      const u32 = u.dtype === "float32" ? u : op.Cast(u, "float32");
      const slope = op.Mul(op.Exp(op.Neg(op.Mul(u32, u32))), 2 / Math.sqrt(Math.PI));
      const dU = op.Mul(d32, slope);
      const du = dh.dtype === "float32" ? dU : op.Cast(dU, dh.dtype);
      return op.Add(dzA, op.Mul(du, Math.SQRT1_2));
    }
    case "constant":
      throw new Error("activation: 'constant' experts are built without an activation");
  }
}
