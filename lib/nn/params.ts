/**
 * Parameter sets: ordered, named host tensors (`moe0.router.weight`, `moe0.experts.w1`, ...),
 * and the ways to put them into a graph. Forward builders take parameter *values*, so one
 * builder serves params as graph inputs (training), initializers (export, a frozen teacher
 * inside a training graph) or loop-carried values.
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { type HostTensor, numel, tensor } from "../graph/tensor.ts";

/** Named parameters in a fixed order (Map keeps insertion order). */
export type ParamSet = Map<string, HostTensor>;

/** Graph values of parameters, by parameter name. */
export type ParamValues = Record<string, Value>;

/** Declares every parameter as a graph input of the same name (for training graphs). */
export function paramInputs(g: Graph, ps: ParamSet): ParamValues {
  const out: ParamValues = {};
  for (const [name, t] of ps) out[name] = g.input(name, t.dtype, t.dims);
  return out;
}

/** Stores every parameter as an initializer of the same name (export, frozen teachers). */
export function paramInitializers(g: Graph, ps: ParamSet): ParamValues {
  const out: ParamValues = {};
  for (const [name, t] of ps) out[name] = g.initializer(name, t);
  return out;
}

/** Session feeds for parameters declared with `paramInputs`. */
export function paramFeeds(ps: ParamSet): Record<string, HostTensor> {
  return Object.fromEntries(ps);
}

/** Total number of scalars. */
export function paramCount(ps: ParamSet): number {
  let n = 0;
  for (const t of ps.values()) n += numel(t.dims);
  return n;
}

/** The same parameters in another float dtype (float64 -> float32 rounds to nearest). */
export function castParams(ps: ParamSet, dtype: FloatDType): ParamSet {
  const out: ParamSet = new Map();
  for (const [name, t] of ps) {
    out.set(name, t.dtype === dtype ? t : tensor(dtype, t.dims, t.data as Float64Array));
  }
  return out;
}

/** Looks up `prefix + name`, with an error listing what is there when it is missing. */
export function getParam<T>(params: Record<string, T>, prefix: string, name: string): T {
  const v = params[prefix + name];
  if (v === undefined) {
    const have = Object.keys(params).filter((n) => n.startsWith(prefix));
    throw new Error(
      `params: missing '${prefix}${name}' (have under '${prefix}': ${have.join(", ") || "none"})`,
    );
  }
  return v;
}

/** `getParam` on a ParamSet. */
export function getTensor(ps: ParamSet, prefix: string, name: string): HostTensor {
  return getParam(Object.fromEntries(ps), prefix, name);
}
