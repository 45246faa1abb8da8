/**
 * Ops that make values or change their type: Cast, CastLike, Range, Constant, ConstantOfShape,
 * RandomNormal, RandomUniform; and the control flow ops (built with `g.loop` and `g.ifElse`).
 */
import type { Graph, Operand, Value } from "../builder.ts";
import type { HostTensor } from "../tensor.ts";
import { type DType, isFloat, ONNX_DTYPE } from "../dtype.ts";
import { type AttrType, binaryW, def, type GradOut, type OpDef, sameShape, single } from "./def.ts";
import { constInts, ints } from "../shapes.ts";

type G = GradOut[];

const randomAttrs = (ps: string[]): Record<string, AttrType> =>
  Object.fromEntries([
    ["dtype", "int"],
    ["seed", "float"],
    ["shape", "ints"],
    ...ps.map((p) => [p, "float"]),
  ]);
type RandomAt = { dtype?: DType; seed?: number };

/** RandomNormal and RandomUniform: a tensor of `shape` drawn with the distribution's two `ps`. */
function randomDef<P extends string>(ps: [P, P]) {
  return def({
    inputs: [],
    outputs: ["attr:dtype"],
    attrs: randomAttrs(ps),
    wrap: (e) => (shape: number[], at: RandomAt & Partial<Record<P, number>> = {}) =>
      e([], {
        shape,
        dtype: ONNX_DTYPE[at.dtype ?? "float32"],
        [ps[0]]: at[ps[0]],
        [ps[1]]: at[ps[1]],
        seed: at.seed,
      })[0],
    shape: ({ attrs }) => [ints(attrs.get("shape"))],
  });
}

export const CREATE = {
  Cast: def({
    inputs: ["T"],
    outputs: ["attr:to"],
    attrs: { to: "int" },
    wrap: (e) => (x: Operand, to: DType): Value => e([x], { to: ONNX_DTYPE[to] })[0],
    shape: sameShape,
    grad: single((c, [x], gy): G => [isFloat(x.dtype) ? c.op.Cast(gy, x.dtype) : undefined]),
  }),
  CastLike: def({
    inputs: ["T", "U"],
    outputs: ["U"],
    wrap: binaryW,
    shape: sameShape,
    noGrad: "no rule yet (use Cast)",
  }),
  Range: def({
    inputs: ["T", "T", "T"],
    outputs: ["T"],
    wrap: (e) => (start: Operand, limit: Operand, delta: Operand): Value =>
      e([start, limit, delta])[0],
    shape: ({ g, ins }) => {
      const [st, lim, dl] = [0, 1, 2].map((i) => constInts(g, ins[i]));
      if (st && lim && dl) return [[Math.max(0, Math.ceil((lim[0] - st[0]) / dl[0]))]];
      return [[null]];
    },
    noGrad: "piecewise constant in its bounds",
  }),
  Constant: def({
    inputs: [],
    outputs: ["attr:value"],
    attrs: { value: "tensor" },
    wrap: (e) => (t: HostTensor): Value => e([], { value: t })[0],
    shape: ({ attrs }) => [(attrs.get("value")?.value as HostTensor).dims],
  }),
  ConstantOfShape: def({
    inputs: ["int64"],
    outputs: ["attr:value"],
    attrs: { value: "tensor" },
    wrap: (e) => (shape: Operand, value?: HostTensor): Value => e([shape], { value })[0],
    shape: ({ g, ins }) => {
      const target = constInts(g, ins[0]);
      return [
        target ??
          (ins[0]?.shape?.[0] != null ? Array(ins[0].shape![0] as number).fill(null) : undefined),
      ];
    },
  }),
  RandomNormal: randomDef(["mean", "scale"]),
  RandomUniform: randomDef(["low", "high"]),
  Loop: def({
    inputs: ["int64?", "bool?", "*..."],
    outputs: ["graph"],
    attrs: { body: "graph" },
    shape: ({ ins, attrs }) => {
      const body = attrs.get("body")!.value as Graph;
      return body.outputs.slice(1).map((o, i) =>
        i < ins.length - 2 ? ins[i + 2]?.shape : o.shape && [null, ...o.shape]
      );
    },
    noGrad: "control flow: take the gradient inside the body",
  }),
  If: def({
    inputs: ["bool"],
    outputs: ["graph"],
    attrs: { then_branch: "graph", else_branch: "graph" },
    shape: ({ attrs }) => (attrs.get("then_branch")!.value as Graph).outputs.map(() => undefined),
    noGrad: "control flow: take the gradient inside the branches",
  }),
} satisfies Record<string, OpDef>;
