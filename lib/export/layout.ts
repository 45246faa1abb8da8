/**
 * The parameter layout of an exported model (lib/nn/layout.ts: `moe0.*` for an MoE layer,
 * `moe<l>.*` and `dense<l>.*` for a deep MoE), and the check that a ParamSet matches it.
 */
import type { FloatDType } from "../graph/dtype.ts";
import { deepParamShapes, moeModelParamShapes } from "../nn/layout.ts";
import type { ParamSet } from "../nn/params.ts";
import type { ModelSpec } from "./format.ts";

/** Expected parameter names and dims of a model, in layout order. */
export function modelParamShapes(model: ModelSpec): { name: string; dims: number[] }[] {
  const shapes = model.kind === "moe"
    ? moeModelParamShapes(model.config)
    : deepParamShapes(model.config);
  return shapes.map((p) => ({ name: p.name, dims: p.dims }));
}

export /** The dtype of a ParamSet that matches the model's layout exactly; throws naming the param. */
function checkParams(model: ModelSpec, params: ParamSet): FloatDType {
  const want = modelParamShapes(model);
  const names = new Set(want.map((p) => p.name));
  for (const name of params.keys()) {
    if (!names.has(name)) {
      throw new Error(
        `params: unexpected '${name}' (the ${model.kind} layout has: ${[...names].join(", ")})`,
      );
    }
  }
  let dtype: FloatDType | undefined;
  for (const p of want) {
    const t = params.get(p.name);
    if (!t) throw new Error(`params: missing '${p.name}' (expected dims [${p.dims.join(", ")}])`);
    if (t.dims.length !== p.dims.length || t.dims.some((d, i) => d !== p.dims[i])) {
      throw new Error(
        `params: '${p.name}' has dims [${t.dims.join(", ")}], expected [${p.dims.join(", ")}]`,
      );
    }
    if (t.dtype !== "float32" && t.dtype !== "float64") {
      throw new Error(`params: '${p.name}' must be float32 or float64, got ${t.dtype}`);
    }
    if (dtype && t.dtype !== dtype) {
      throw new Error(`params: '${p.name}' is ${t.dtype} but the others are ${dtype}`);
    }
    dtype = t.dtype;
  }
  return dtype ?? "float32";
}
