/**
 * Routers as the theory sees them: m routing vectors r_j in R^d (plus an optional bias), scores
 * s(x) = x @ W + b with W = [r_1 ... r_m] stored [d, m] row-major (the toolkit's layout of
 * `router.weight`). Also the Gaussian routers of Lemma 3.2 and orthonormal 2-D slices of R^d.
 */
import type { HostTensor } from "../graph/tensor.ts";
import { foldIn, type Key, normal, Stream } from "../random/prng.ts";
import { MAX_EXPERTS } from "./subsets.ts";

/** m routing vectors in R^d: `weight` is [d, m] row-major (column j = r_j); `bias` is [m]. */
export interface Router {
  /** Dimension. */
  d: number;
  /** Number of experts. */
  m: number;
  /** Routing vectors, [d, m] row-major. */
  weight: Float64Array;
  /** Router bias, [m]. */
  bias?: Float64Array;
}

/** Checks a router's sizes; one-line errors naming the field. */
export function checkRouter(r: Router): void {
  if (!Number.isInteger(r.d) || r.d < 1) throw new Error(`router.d: must be >= 1, got ${r.d}`);
  if (!Number.isInteger(r.m) || r.m < 1 || r.m > MAX_EXPERTS) {
    throw new Error(`router.m: must be an integer in 1..${MAX_EXPERTS}, got ${r.m}`);
  }
  if (r.weight.length !== r.d * r.m) {
    throw new Error(`router.weight: must hold d*m = ${r.d * r.m} values, got ${r.weight.length}`);
  }
  if (r.bias && r.bias.length !== r.m) {
    throw new Error(`router.bias: must hold m = ${r.m} values, got ${r.bias.length}`);
  }
}

/**
 * Lemma 3.2's router: r_1..r_m i.i.d. N(0, I_d), drawn from foldIn(k, `router-d<d>-m<m>`), so one
 * seed gives the same routing vectors to every k (a low- and a high-granularity router with the
 * same experts differ only in k).
 */
export function gaussianRouter(k: Key, d: number, m: number): Router {
  const r: Router = { d, m, weight: new Float64Array(d * m) };
  checkRouter(r);
  normal(foldIn(k, `router-d${d}-m${m}`), r.weight);
  return r;
}

/** A router from an MoE layer's `router.weight` [dIn, m] and optional `router.bias` [m]. */
export function routerFromParams(weight: HostTensor, bias?: HostTensor): Router {
  if (weight.dims.length !== 2) {
    throw new Error(`router.weight: must be 2-D [dIn, m], got [${weight.dims.join(", ")}]`);
  }
  const r: Router = {
    d: weight.dims[0],
    m: weight.dims[1],
    weight: Float64Array.from(weight.data as ArrayLike<number>),
    bias: bias ? Float64Array.from(bias.data as ArrayLike<number>) : undefined,
  };
  checkRouter(r);
  return r;
}

/** The router's scores for one input x (length d): s_j = <r_j, x> + b_j. */
export function routerScores(r: Router, x: ArrayLike<number>): Float64Array {
  const s = new Float64Array(r.m);
  for (let i = 0; i < r.d; i++) {
    const xi = x[i];
    for (let j = 0; j < r.m; j++) s[j] += xi * r.weight[i * r.m + j];
  }
  if (r.bias) { for (let j = 0; j < r.m; j++) s[j] += r.bias[j]; }
  return s;
}

/**
 * `count` orthonormal vectors in R^d (rows of a [count, d] array): Gram-Schmidt on Gaussian
 * draws from `k`; for d = count = 2 (and `standard`), the standard basis.
 */
export function orthonormalDirections(
  k: Key,
  d: number,
  count: number,
  standard = false,
): Float64Array[] {
  if (!Number.isInteger(count) || count < 1 || count > d) {
    throw new Error(`count: must be an integer in 1..d (=${d}), got ${count}`);
  }
  if (standard) {
    return Array.from({ length: count }, (_, i) => {
      const e = new Float64Array(d);
      e[i] = 1;
      return e;
    });
  }
  const s = new Stream(k);
  const out: Float64Array[] = [];
  while (out.length < count) {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = s.normal();
    for (const u of out) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += u[i] * v[i];
      for (let i = 0; i < d; i++) v[i] -= dot * u[i];
    }
    let n = 0;
    for (let i = 0; i < d; i++) n += v[i] * v[i];
    n = Math.sqrt(n);
    // A Gaussian draw in the span of the previous ones has probability 0; redraw if it happens.
    if (n < 1e-9) continue;
    for (let i = 0; i < d; i++) v[i] /= n;
    out.push(v);
  }
  return out;
}

/**
 * The top-k experts of `scores`, in decreasing score order; equal scores go to the lower index
 * (as ONNX TopK and the MoE layer do).
 */
export function topKSet(scores: ArrayLike<number>, k: number): number[] {
  if (!Number.isInteger(k) || k < 1 || k > scores.length) {
    throw new Error(`k: must be an integer between 1 and m (=${scores.length}), got ${k}`);
  }
  const idx = Array.from({ length: scores.length }, (_, j) => j);
  idx.sort((a, b) => scores[b] - scores[a] || a - b);
  return idx.slice(0, k);
}
