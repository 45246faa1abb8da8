/**
 * The packing of Lemma 3.3 (arXiv 2505.06839): constant experts u_1..u_m ~ N(0, I_d / (2 d k)) give sums
 * u_S = sum_{j in S} u_j over k-subsets S with
 *   boundedness  ||u_S||^2 <= 1                         for every S, and
 *   separation   ||u_S - u_S'||^2 >= |S delta S'| / (4k) for every S != S',
 * with high probability once d > C k log m.
 *
 * Computation: everything goes through the Gram matrix G = (<u_i, u_j>), so ||u_S||^2 is the sum
 * of G over S x S. For a pair S != S' only A = S \ S' and B = S' \ S matter (the common part
 * cancels): u_S - u_S' = u_A - u_B with |A| = |B| = t, |S delta S'| = 2t, t in 1..min(k, m-k).
 * So the separation check runs over disjoint pairs (A, B) of t-subsets, stratum by stratum.
 *
 * Search: a quantity is checked exhaustively when its candidates number at most `budget`;
 * otherwise `budget` random candidates are drawn and the best few are improved by local search
 * (single-element swaps) -- a heuristic, so a reported max (min) is then a lower (upper) bound on
 * the true one. Each result says which search it used.
 */
import { type Key, normal, Stream } from "../random/prng.ts";
import { binomial, forEachSubset } from "./subsets.ts";

/** u_1..u_m ~ N(0, I_d / (2 d k)), drawn from `k`: rows of an [m, d] array. */
export function constantExperts(k: Key, d: number, m: number, kActive: number): Float64Array[] {
  for (const [name, v] of [["d", d], ["m", m], ["k", kActive]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`${name}: must be an integer >= 1, got ${v}`);
    }
  }
  const all = normal(k, new Float64Array(m * d), 0, Math.sqrt(1 / (2 * d * kActive)));
  return Array.from({ length: m }, (_, j) => all.subarray(j * d, (j + 1) * d));
}

/** The Gram matrix of `u` (row-major [m, m]). */
export function gramMatrix(u: readonly Float64Array[]): Float64Array {
  const m = u.length;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      let s = 0;
      const a = u[i], b = u[j];
      if (a.length !== b.length) throw new Error(`u: vectors ${i} and ${j} differ in length`);
      for (let p = 0; p < a.length; p++) s += a[p] * b[p];
      g[i * m + j] = s;
      g[j * m + i] = s;
    }
  }
  return g;
}

function blockSum(g: Float64Array, m: number, a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (const i of a) for (const j of b) s += g[i * m + j];
  return s;
}

/** ||u_S||^2 from the Gram matrix. */
export function normSq(g: Float64Array, m: number, s: readonly number[]): number {
  return blockSum(g, m, s, s);
}

/** ||u_A - u_B||^2 from the Gram matrix. */
export function diffSq(
  g: Float64Array,
  m: number,
  a: readonly number[],
  b: readonly number[],
): number {
  return blockSum(g, m, a, a) + blockSum(g, m, b, b) - 2 * blockSum(g, m, a, b);
}

/** How a quantity was searched. */
export type Search = "exhaustive" | "sampled+local";

/** The outcome of `packingCheck` for one set of experts. */
export interface PackingStats {
  /** Number of experts. */
  m: number;
  /** Subset size. */
  k: number;
  /** Subsets S whose ||u_S||^2 was evaluated. */
  subsets_checked: number;
  /** How ||u_S||^2 was searched. */
  norm_search: Search;
  /** Maximum of ||u_S||^2 over the evaluated subsets. */
  max_norm_sq: number;
  /** Mean of ||u_S||^2 over the evaluated subsets (E = 1/2 under the lemma's distribution). */
  mean_norm_sq: number;
  /** Pairs (S, S') whose ratio was evaluated, over all strata. */
  pairs_checked: number;
  /** "exhaustive" only if every stratum was. */
  ratio_search: Search;
  /** min ||u_S - u_S'||^2 / |S delta S'| over the evaluated pairs (null when k = m: no pairs). */
  min_ratio: number | null;
  /** |S delta S'| of the minimizing pair. */
  min_ratio_sym_diff: number | null;
}

/** Options of `packingCheck`. */
export interface PackingCheckOptions {
  /** Candidates per quantity (and per stratum) before switching to sampling (default 20000). */
  budget?: number;
  /** Randomness for the sampled searches. */
  key: Key;
  /** Random candidates improved by local search when sampling (default 8). */
  starts?: number;
}

/** Partial Fisher-Yates: `n` distinct indices of 0..m-1. */
function drawDistinct(s: Stream, m: number, n: number, scratch: number[]): number[] {
  for (let i = 0; i < m; i++) scratch[i] = i;
  for (let i = 0; i < n; i++) {
    const j = i + s.int(m - i);
    [scratch[i], scratch[j]] = [scratch[j], scratch[i]];
  }
  return scratch.slice(0, n);
}

/**
 * Hill climbing: replaces one member of one of `parts` by a non-member (of any part) while that
 * improves `f` (to be maximized); returns the best value and the evaluations spent.
 */
function climb(
  m: number,
  parts: number[][],
  f: (parts: number[][]) => number,
): { value: number; evals: number } {
  let best = f(parts);
  let evals = 1;
  for (let improved = true; improved;) {
    improved = false;
    const used = new Set(parts.flat());
    for (let p = 0; p < parts.length && !improved; p++) {
      for (let i = 0; i < parts[p].length && !improved; i++) {
        for (let c = 0; c < m && !improved; c++) {
          if (used.has(c)) continue;
          const old = parts[p][i];
          parts[p][i] = c;
          const v = f(parts);
          evals++;
          if (v > best + 1e-15) {
            best = v;
            improved = true;
          } else parts[p][i] = old;
        }
      }
    }
  }
  return { value: best, evals };
}

/**
 * Checks boundedness and separation of the sums of `u` over k-subsets (see the module comment
 * for how the candidates are searched).
 */
export function packingCheck(
  u: readonly Float64Array[],
  k: number,
  opts: PackingCheckOptions,
): PackingStats {
  const m = u.length;
  if (!Number.isInteger(k) || k < 1 || k > m) {
    throw new Error(`k: must be an integer between 1 and m (=${m}), got ${k}`);
  }
  const budget = opts.budget ?? 20000;
  if (!Number.isInteger(budget) || budget < 1) {
    throw new Error(`budget: must be an integer >= 1, got ${budget}`);
  }
  const starts = opts.starts ?? 8;
  const g = gramMatrix(u);
  const stream = new Stream(opts.key);
  const scratch = new Array<number>(m);

  // Boundedness: max over S of ||u_S||^2.
  let subsets = 0;
  let maxNorm = -Infinity;
  let sumNorm = 0;
  let normSearch: Search = "exhaustive";
  if (binomial(m, k) <= BigInt(budget)) {
    forEachSubset(m, k, (s) => {
      const v = normSq(g, m, s);
      subsets++;
      sumNorm += v;
      maxNorm = Math.max(maxNorm, v);
    });
  } else {
    normSearch = "sampled+local";
    const seeds: { v: number; s: number[] }[] = [];
    for (let i = 0; i < budget; i++) {
      const s = drawDistinct(stream, m, k, scratch);
      const v = normSq(g, m, s);
      subsets++;
      sumNorm += v;
      maxNorm = Math.max(maxNorm, v);
      seeds.push({ v, s });
      if (seeds.length > 4 * starts) seeds.sort((a, b) => b.v - a.v).length = starts;
    }
    seeds.sort((a, b) => b.v - a.v);
    for (const { s } of seeds.slice(0, starts)) {
      const r = climb(m, [s], ([a]) => normSq(g, m, a));
      maxNorm = Math.max(maxNorm, r.value);
      subsets += r.evals;
    }
  }
  const meanNorm = sumNorm / (normSearch === "exhaustive" ? subsets : budget);

  // Separation: per stratum t = |S \ S'|, min over disjoint t-subsets A, B of ||u_A - u_B||^2/(2t).
  let pairs = 0;
  let minRatio = Infinity;
  let minSym: number | null = null;
  let ratioSearch: Search = "exhaustive";
  const note = (v: number, t: number) => {
    if (v < minRatio) {
      minRatio = v;
      minSym = 2 * t;
    }
  };
  for (let t = 1; t <= Math.min(k, m - k); t++) {
    // Unordered disjoint pairs {A, B}: C(m, t) C(m - t, t) / 2.
    const count = (binomial(m, t) * binomial(m - t, t)) / 2n;
    if (count <= BigInt(budget)) {
      forEachSubset(m, t, (a) => {
        const rest: number[] = [];
        for (let j = 0; j < m; j++) if (!a.includes(j)) rest.push(j);
        forEachSubset(m - t, t, (bi) => {
          if (rest[bi[0]] < a[0]) return; // count each unordered pair once
          const b = bi.map((i) => rest[i]);
          note(diffSq(g, m, a, b) / (2 * t), t);
          pairs++;
        });
      });
    } else {
      ratioSearch = "sampled+local";
      const seeds: { v: number; a: number[]; b: number[] }[] = [];
      for (let i = 0; i < budget; i++) {
        const ab = drawDistinct(stream, m, 2 * t, scratch);
        const a = ab.slice(0, t), b = ab.slice(t);
        const v = diffSq(g, m, a, b) / (2 * t);
        pairs++;
        note(v, t);
        seeds.push({ v, a, b });
        if (seeds.length > 4 * starts) seeds.sort((x, y) => x.v - y.v).length = starts;
      }
      seeds.sort((x, y) => x.v - y.v);
      for (const { a, b } of seeds.slice(0, starts)) {
        const r = climb(m, [a, b], ([aa, bb]) => -diffSq(g, m, aa, bb) / (2 * t));
        note(-r.value, t);
        pairs += r.evals;
      }
    }
  }
  return {
    m,
    k,
    subsets_checked: subsets,
    norm_search: normSearch,
    max_norm_sq: maxNorm,
    mean_norm_sq: meanNorm,
    pairs_checked: pairs,
    ratio_search: ratioSearch,
    min_ratio: minSym === null ? null : minRatio,
    min_ratio_sym_diff: minSym,
  };
}
