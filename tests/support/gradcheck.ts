/**
 * Gradient checks against central finite differences, in float64, on onnxruntime.
 * The checked function's output y is reduced to a scalar with fixed random weights, so a
 * transposed or mis-broadcast gradient cannot pass by symmetry.
 */
import { Graph, type Value } from "../../lib/graph/builder.ts";
import { encodeModel } from "../../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../../lib/graph/tensor.ts";
import { grad } from "../../lib/autodiff/grad.ts";
import { Session } from "../../lib/runtime/session.ts";
import { key, normal, uniform } from "../../lib/random/prng.ts";

export type Build = (g: Graph, inputs: Record<string, Value>) => Value;

/** A float64 tensor of N(0,1) (or U[lo,hi)) values from a fixed seed. */
export function rand(dims: number[], seed: number, range?: [number, number]): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = range
    ? uniform(key(seed), new Float64Array(n), range[0], range[1])
    : normal(key(seed), new Float64Array(n));
  return tensor("float64", dims, data);
}

async function outputDims(inputs: Record<string, HostTensor>, build: Build): Promise<number[]> {
  const g = new Graph("probe");
  const vals = Object.fromEntries(
    Object.entries(inputs).map(([k, t]) => [k, g.input(k, t.dtype, t.dims)]),
  );
  g.output(build(g, vals), "y");
  const s = await Session.create(encodeModel(g));
  const res = await s.run(inputs);
  await s.release();
  return [...res.y.dims];
}

export interface GradCheckOptions {
  /** Inputs to differentiate (default: all float inputs). */
  wrt?: string[];
  /** Symbolic dims to declare instead of static ones, per input (exercises dynamic paths). */
  symbolic?: Record<string, (string | number)[]>;
  h?: number;
  /** Most elements per input to probe by finite differences. */
  maxProbes?: number;
}

/**
 * Returns the worst normalized error max|analytic - numeric| / max|numeric| over the inputs
 * differentiated.
 */
export async function gradCheck(
  inputs: Record<string, HostTensor>,
  build: Build,
  opts: GradCheckOptions = {},
): Promise<number> {
  const yDims = await outputDims(inputs, build);
  const wrt = opts.wrt ?? Object.keys(inputs).filter((k) => inputs[k].dtype === "float64");
  const g = new Graph("gradcheck");
  const vals: Record<string, Value> = {};
  for (const [k, t] of Object.entries(inputs)) {
    vals[k] = g.input(k, t.dtype, opts.symbolic?.[k] ?? t.dims);
  }
  const y = build(g, vals);
  const weights = g.constant(rand(yDims, 99));
  const loss = g.op.ReduceSum(g.op.Mul(y, weights), undefined, { keepdims: 0 });
  g.output(loss, "loss");
  const grads = grad(g, loss, wrt.map((k) => vals[k]));
  grads.forEach((gv, i) => g.output(gv, `grad_${wrt[i]}`));
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const base = await s.run(inputs);
  const h = opts.h ?? 1e-5;
  let worst = 0;
  for (const k of wrt) {
    const t = inputs[k];
    const analytic = base[`grad_${k}`].data as Float64Array;
    if (analytic.length !== t.data.length) {
      throw new Error(`grad of ${k} has ${analytic.length} elements, expected ${t.data.length}`);
    }
    const n = t.data.length;
    const probes = Math.min(n, opts.maxProbes ?? 48);
    let errMax = 0;
    let scale = 0;
    for (let p = 0; p < probes; p++) {
      const i = Math.floor((p * n) / probes);
      const at = (delta: number) => {
        const d = Float64Array.from(t.data as Float64Array);
        d[i] += delta;
        return s.run({ ...inputs, [k]: tensor("float64", t.dims, d) }, ["loss"]);
      };
      const [up, down] = [await at(h), await at(-h)];
      const numeric = ((up.loss.data[0] as number) - (down.loss.data[0] as number)) / (2 * h);
      errMax = Math.max(errMax, Math.abs(numeric - analytic[i]));
      scale = Math.max(scale, Math.abs(numeric));
    }
    worst = Math.max(worst, errMax / Math.max(scale, 1e-8));
  }
  await s.release();
  return worst;
}
