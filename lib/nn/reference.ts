/**
 * Plain-TypeScript evaluation of the MoE formulas, token by token in float64 with loops, for
 * testing the graph code. Reads parameters in the layout of layout.ts.
 */
import type { HostTensor } from "../graph/tensor.ts";
import {
  type Activation,
  type DeepMoeConfig,
  type MoeLayerConfig,
  type MoeLayerSpec,
} from "./config.ts";
import { getTensor, type ParamSet } from "./params.ts";
import { deepBlocks } from "./layout.ts";

/** The output of the plain-TS reference forward. */
export interface ReferenceResult {
  /** [B, dOut] row-major. */
  y: Float64Array;
  /** [B, m]. */
  scores: Float64Array;
  /**
   * Token choice: [B, k] experts, decreasing score, ties to the lower index. Expert choice:
   * [m, c] tokens of each expert, decreasing probability, ties to the lower token.
   */
  indices: Int32Array;
  /** The gate weights of `indices`: [B, k] (token choice) or [m, c] (expert choice). */
  gates: Float64Array;
}

const num = (t: HostTensor): Float64Array => Float64Array.from(t.data as ArrayLike<number>);

function act(z: number, a: Activation): number {
  switch (a) {
    case "relu":
      return Math.max(0, z);
    case "linear":
      return z;
    case "constant":
      return 1;
    case "gelu":
      return 0.5 * z * (1 + erf(z / Math.SQRT2));
  }
}

/** erf to ~1e-16 relative: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= -ax * ax / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Indices of the k largest entries of `s`, largest first, ties to the lower index. */
export function topK(s: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: s.length }, (_, i) => i);
  idx.sort((a, b) => (s[b] - s[a]) || (a - b));
  return idx.slice(0, k);
}

/**
 * The selection and gate weights of one token from its scores `sc` [m] (see `Gate`): top-k of
 * the affinities (sigma(s) for `sigmoid-topk`, else s) plus the selection bias `sb`, weights
 * from the unbiased scores, times `routedScale`.
 */
export function referenceGates(
  s: Pick<MoeLayerConfig, "k" | "gate" | "routedScale">,
  sc: ArrayLike<number>,
  sb?: ArrayLike<number>,
): { sel: number[]; gates: number[] } {
  const aff = Array.from(sc, (v) => (s.gate === "sigmoid-topk" ? 1 / (1 + Math.exp(-v)) : v));
  const sel = topK(sb ? aff.map((v, j) => v + sb[j]) : aff, s.k);
  let gates: number[];
  switch (s.gate) {
    case "equal":
      gates = sel.map(() => 1);
      break;
    case "sigmoid-topk": {
      const z = sel.reduce((a, j) => a + aff[j], 0);
      gates = sel.map((j) => aff[j] / z);
      break;
    }
    case "softmax-topk":
    case "softmax-all": {
      const pool = s.gate === "softmax-topk" ? sel.map((j) => aff[j]) : aff;
      const mx = Math.max(...pool);
      const z = pool.reduce((a, v) => a + Math.exp(v - mx), 0);
      gates = sel.map((j) => Math.exp(aff[j] - mx) / z);
      break;
    }
    case "expert-choice":
      throw new Error("gate: expert-choice selects per expert (referenceExpertChoice)");
    default: {
      const never: never = s.gate;
      throw new Error(`gate: unknown value '${never}'`);
    }
  }
  const scale = s.routedScale ?? 1;
  return { sel, gates: scale === 1 ? gates : gates.map((v) => v * scale) };
}

/**
 * Expert choice on the scores of a batch (`scores` [B, m] row-major): P = softmax over each
 * token's m scores; expert e takes the c = ceil(k B / m) tokens of largest P[t, e] (ties to
 * the lower token) with gates P[t, e] times `routedScale`. Returns [m, c] tokens and gates.
 */
export function referenceExpertChoice(
  s: Pick<MoeLayerConfig, "m" | "k" | "routedScale">,
  scores: ArrayLike<number>,
): { c: number; tokens: Int32Array; gates: Float64Array } {
  const { m } = s;
  const B = scores.length / m;
  const c = Math.ceil((s.k * B) / m);
  const P = new Float64Array(B * m);
  for (let t = 0; t < B; t++) {
    const row = Array.from({ length: m }, (_, j) => scores[t * m + j]);
    const mx = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
    row.forEach((v, j) => (P[t * m + j] = Math.exp(v - mx) / z));
  }
  const tokens = new Int32Array(m * c);
  const gates = new Float64Array(m * c);
  const scale = s.routedScale ?? 1;
  for (let e = 0; e < m; e++) {
    const col = Array.from({ length: B }, (_, t) => P[t * m + e]);
    topK(col, c).forEach((t, r) => {
      tokens[e * c + r] = t;
      gates[e * c + r] = P[t * m + e] * scale;
    });
  }
  return { c, tokens, gates };
}

/** Reference forward of one layer spec on x ([B, dIn] row-major). */
export function moeLayerReference(
  s: MoeLayerSpec,
  params: ParamSet,
  x: ArrayLike<number>,
  prefix: string,
): ReferenceResult {
  const { m, k, w, dIn, dOut } = s;
  const B = x.length / dIn;
  if (!Number.isInteger(B)) throw new Error(`x: length ${x.length} is not a multiple of ${dIn}`);
  const get = (name: string) => num(getTensor(params, prefix, name));
  const R = get("router.weight");
  const rb = s.routerBias ? get("router.bias") : undefined;
  const sb = s.selectBias ? get("router.select_bias") : undefined;
  const W1 = get("experts.w1");
  const W2 = get("experts.w2");
  const b1 = s.expertBias ? get("experts.b1") : undefined;
  const b2 = s.expertBias ? get("experts.b2") : undefined;
  const Wh: Float64Array[] = [];
  const bh: (Float64Array | undefined)[] = [];
  for (let i = 1; i < s.depth; i++) {
    Wh.push(get(`experts.wh${i}`));
    bh.push(s.expertBias ? get(`experts.bh${i}`) : undefined);
  }
  const scores = new Float64Array(B * m);
  const xs: number[][] = [];
  for (let t = 0; t < B; t++) {
    const xt = Array.from({ length: dIn }, (_, i) => Number(x[t * dIn + i]));
    xs.push(xt);
    for (let j = 0; j < m; j++) {
      let v = rb ? rb[j] : 0;
      for (let i = 0; i < dIn; i++) v += xt[i] * R[i * m + j];
      scores[t * m + j] = v;
    }
  }
  // Each token's (expert, gate) pairs, from the selection of the gate family.
  const pairs: [number, number][][] = Array.from({ length: B }, () => []);
  let indices: Int32Array;
  let gateOut: Float64Array;
  if (s.gate === "expert-choice") {
    const ec = referenceExpertChoice(s, scores);
    for (let e = 0; e < m; e++) {
      for (let r = 0; r < ec.c; r++) {
        pairs[ec.tokens[e * ec.c + r]].push([e, ec.gates[e * ec.c + r]]);
      }
    }
    indices = ec.tokens;
    gateOut = ec.gates;
  } else {
    indices = new Int32Array(B * k);
    gateOut = new Float64Array(B * k);
    for (let t = 0; t < B; t++) {
      const { sel, gates } = referenceGates(s, scores.subarray(t * m, (t + 1) * m), sb);
      sel.forEach((j, r) => {
        indices[t * k + r] = j;
        gateOut[t * k + r] = gates[r];
        pairs[t].push([j, gates[r]]);
      });
    }
  }
  const y = new Float64Array(B * dOut);
  for (let t = 0; t < B; t++) {
    const xt = xs[t];
    for (const [j, gate] of pairs[t]) {
      // Expert j: y_j = A_j act(B_j^T x + c_j) + e_j (with extra hidden layers when depth > 1).
      let h = new Float64Array(w);
      for (let u = 0; u < w; u++) {
        let z = b1 ? b1[j * w + u] : 0;
        for (let i = 0; i < dIn; i++) z += xt[i] * W1[i * m * w + j * w + u];
        h[u] = act(z, s.activation);
      }
      for (let l = 0; l < Wh.length; l++) {
        const next = new Float64Array(w);
        for (let o = 0; o < w; o++) {
          let z = bh[l] ? bh[l]![j * w + o] : 0;
          for (let u = 0; u < w; u++) z += h[u] * Wh[l][j * w * w + u * w + o];
          next[o] = act(z, s.activation);
        }
        h = next;
      }
      for (let o = 0; o < dOut; o++) {
        let v = b2 ? b2[j * dOut + o] : 0;
        for (let u = 0; u < w; u++) v += h[u] * W2[(j * w + u) * dOut + o];
        y[t * dOut + o] += gate * v;
      }
    }
    if (s.sharedExperts) sharedReference(s, get, xt, y.subarray(t * dOut, (t + 1) * dOut));
  }
  return { y, scores, indices, gates: gateOut };
}

/** Adds the shared experts' outputs (weight 1 each) for one token `xt` to `y` [dOut]. */
function sharedReference(
  s: MoeLayerSpec,
  get: (name: string) => Float64Array,
  xt: number[],
  y: Float64Array,
): void {
  const { dIn, dOut } = s;
  const ws = s.sharedWidth ?? s.w;
  const n = s.sharedExperts ?? 0;
  const W1 = get("shared.w1");
  const W2 = get("shared.w2");
  const b1 = s.expertBias ? get("shared.b1") : undefined;
  const b2 = s.expertBias ? get("shared.b2") : undefined;
  for (let j = 0; j < n; j++) {
    for (let o = 0; o < dOut; o++) {
      let v = b2 ? b2[j * dOut + o] : 0;
      for (let u = 0; u < ws; u++) {
        const c = j * ws + u;
        let z = b1 ? b1[c] : 0;
        for (let i = 0; i < dIn; i++) z += xt[i] * W1[i * n * ws + c];
        v += act(z, s.activation) * W2[c * dOut + o];
      }
      y[o] += v;
    }
  }
}

/** Reference forward of an (m, k, w, d)-MoE layer on x ([B, dIn] row-major). */
export function moeReference(
  config: MoeLayerConfig,
  params: ParamSet,
  x: ArrayLike<number>,
  prefix = "moe0.",
): ReferenceResult {
  return moeLayerReference({ ...config, depth: 1 }, params, x, prefix);
}

/** Reference forward of a deep MoE on x ([B, dIn] row-major); returns y [B, dOut] and routes. */
export function deepMoeReference(
  config: DeepMoeConfig,
  params: ParamSet,
  x: ArrayLike<number>,
): { y: Float64Array; layers: ReferenceResult[] } {
  let h: Float64Array = Float64Array.from(x);
  const layers: ReferenceResult[] = [];
  for (const blk of deepBlocks(config)) {
    if (blk.kind === "moe") {
      const r = moeLayerReference(blk.spec, params, h, blk.prefix);
      layers.push(r);
      h = config.residual && blk.spec.dIn === blk.spec.dOut ? r.y.map((v, i) => v + h[i]) : r.y;
      continue;
    }
    const H = blk.dim;
    const W = num(getTensor(params, blk.prefix, "weight"));
    const b = num(getTensor(params, blk.prefix, "bias"));
    const B = h.length / H;
    const z = new Float64Array(B * H);
    for (let t = 0; t < B; t++) {
      for (let o = 0; o < H; o++) {
        let v = b[o];
        for (let i = 0; i < H; i++) v += h[t * H + i] * W[i * H + o];
        z[t * H + o] = act(v, config.activation);
      }
    }
    h = z;
  }
  return { y: h, layers };
}
