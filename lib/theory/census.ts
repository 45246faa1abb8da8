/**
 * The region census of Lemma 3.2 (arXiv 2505.06839): Gaussian routing vectors r_1..r_m ~ N(0, I_d) split
 * a rotation-invariant input distribution into the C(m, k) regions U_S (S = the top-k set of
 * <r_j, x>); the lemma says that for d > C k (log m)^2 a constant fraction of the regions carry
 * mass >= 1 / (2 C(m, k)). The census estimates every visited region's mass from Monte-Carlo
 * inputs x ~ N(0, I_d) (regions are cones, so any rotation-invariant distribution gives the same
 * masses) and summarizes them.
 *
 * Honesty about resolution: a region's mass is estimated from its count, so the per-region
 * numbers (fraction of regions above 1/(2C), smallest visited mass) are reported only when
 * C(m, k) <= samples / RESOLVE_FACTOR (at least that many samples per region on average).
 * Otherwise the census reports how many distinct regions were hit against the number expected if
 * all C(m, k) regions had equal mass, C (1 - (1 - 1/C)^N), and the collision ratio, which stays
 * estimable: rho = C * sum_S mu(U_S)^2, estimated without bias as C * sum n_S (n_S - 1) /
 * (N (N - 1)) (the probability that two independent inputs share a region, times C). rho = 1 iff
 * all regions have equal mass; the proof of Lemma 3.2 bounds its mean over routers by 3
 * (Lemma A.5), and by Paley-Zygmund at least 1 / (4 rho) of the regions have mass > 1/(2C).
 *
 * Sampling: for each d, inputs come in chunks of CHUNK rows, chunk c drawn from
 * foldIn(foldIn(key(seed), "inputs-d<d>"), c); the same inputs serve every (m, k) (common random
 * numbers). The router for (d, m) is gaussianRouter(foldIn(key(seed), "routers"), d, m), shared
 * by every k.
 */
import { sampleInputs } from "../data/inputs.ts";
import { foldIn, type Key, key } from "../random/prng.ts";
import { RegionKeys } from "./region_keys.ts";
import { gaussianRouter, type Router } from "./routers.ts";
import { binomial, expectedDistinct, MAX_EXPERTS } from "./subsets.ts";

/** Per-region masses are reported only with at least this many samples per region on average. */
export const RESOLVE_FACTOR = 10;
/** Rows of inputs per onnxruntime call. */
export const CHUNK = 65536;

/**
 * Counts how often each region key occurs. Keys of m <= 53 experts are exact float64 integers
 * and are counted as numbers (several times faster than bigint Map keys); larger m use bigints.
 */
export class RegionCounter {
  private readonly byNumber = new Map<number, number>();
  private readonly byBigint = new Map<bigint, number>();
  /** Whether keys fit in a number (m <= 52) rather than a bigint. */
  readonly numeric: boolean;
  /** Samples counted so far. */
  total = 0;

  /** A counter for subsets of m experts. */
  constructor(readonly m: number) {
    if (!Number.isInteger(m) || m < 1 || m > MAX_EXPERTS) {
      throw new Error(`m: must be an integer in 1..${MAX_EXPERTS}, got ${m}`);
    }
    this.numeric = m <= 53;
  }

  /** Adds column `col` of the first `n` rows of a row-major [n, stride] int64 key array. */
  add(keys: BigInt64Array, stride: number, col: number, n: number): void {
    if (col < 0 || col >= stride || n * stride > keys.length) {
      throw new Error(`keys: column ${col} of ${n} rows of stride ${stride} is out of range`);
    }
    if (this.numeric) {
      // Little-endian halves of each int64; hi * 2^32 + lo is exact below 2^53.
      const u = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
      const map = this.byNumber;
      for (let r = 0; r < n; r++) {
        const p = 2 * (r * stride + col);
        const kk = u[p + 1] * 4294967296 + u[p];
        map.set(kk, (map.get(kk) ?? 0) + 1);
      }
    } else {
      const map = this.byBigint;
      for (let r = 0; r < n; r++) {
        const kk = keys[r * stride + col];
        map.set(kk, (map.get(kk) ?? 0) + 1);
      }
    }
    this.total += n;
  }

  /** Number of distinct keys seen. */
  get distinct(): number {
    return this.numeric ? this.byNumber.size : this.byBigint.size;
  }

  /** The counts of the visited regions (order unspecified). */
  counts(): number[] {
    return this.numeric ? [...this.byNumber.values()] : [...this.byBigint.values()];
  }

  /** (key, count) of every visited region, ascending by key. */
  entries(): [bigint, number][] {
    const out: [bigint, number][] = this.numeric
      ? [...this.byNumber].map(([kk, c]) => [BigInt(kk), c])
      : [...this.byBigint];
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** One (d, m, k) line of the census (the columns of census.csv). */
export interface CensusRow {
  /** Dimension. */
  d: number;
  /** Number of experts. */
  m: number;
  /** Active experts. */
  k: number;
  /** C(m, k), exact, as decimal text. */
  C_mk: string;
  /** Gaussian inputs routed. */
  samples: number;
  /** samples / C(m, k). */
  samples_per_region: number;
  /** Distinct top-k sets (regions) seen. */
  regions_hit: number;
  /** C (1 - (1 - 1/C)^N): distinct regions expected if all C(m, k) had equal mass. */
  expected_hit_if_uniform: number;
  /** regions_hit / expected_hit_if_uniform. */
  hit_ratio: number;
  /** C(m, k) <= samples / RESOLVE_FACTOR: per-region masses can be estimated. */
  resolvable: boolean;
  /** Fraction of ALL C(m, k) regions with estimated mass >= 1/(2C); null when not resolvable. */
  frac_regions_ge_half_uniform: number | null;
  /** The same among the visited regions; null when not resolvable. */
  frac_visited_ge_half_uniform: number | null;
  /** Largest estimated region mass. */
  max_mass: number;
  /** max_mass * C(m, k) (1 for equal masses). */
  max_mass_x_C: number;
  /** Smallest estimated mass of a visited region; null when not resolvable. */
  min_visited_mass: number | null;
  /** Median estimated mass of the visited regions; null when not resolvable. */
  median_visited_mass: number | null;
  /** Unbiased estimate of C * sum_S mu(U_S)^2 (1 iff equal masses; Lemma A.5: mean <= 3). */
  collision_ratio: number;
  /** 1 / (4 collision_ratio): Paley-Zygmund lower bound on the fraction with mass > 1/(2C). */
  pz_lower_bound: number;
  /** k (ln m)^2, the scale of d in the lemma's condition d > C k (log m)^2. */
  k_log2m_sq: number;
  /** d / (k (ln m)^2). */
  d_over_k_log2m_sq: number;
  /** Empty, or why per-region masses are not reported. */
  note: string;
}

/** The columns of census.csv, in order. */
export const CENSUS_COLUMNS: (keyof CensusRow)[] = [
  "d",
  "m",
  "k",
  "C_mk",
  "samples",
  "samples_per_region",
  "regions_hit",
  "expected_hit_if_uniform",
  "hit_ratio",
  "resolvable",
  "frac_regions_ge_half_uniform",
  "frac_visited_ge_half_uniform",
  "max_mass",
  "max_mass_x_C",
  "min_visited_mass",
  "median_visited_mass",
  "collision_ratio",
  "pz_lower_bound",
  "k_log2m_sq",
  "d_over_k_log2m_sq",
  "note",
];

/** Summarizes the visited regions' counts (from `n` samples) of one (d, m, k) census cell. */
export function summarizeCensus(
  d: number,
  m: number,
  k: number,
  counts: readonly number[],
  n: number,
): CensusRow {
  if (!Number.isInteger(n) || n < 2) throw new Error(`samples: must be an integer >= 2, got ${n}`);
  const cBig = binomial(m, k);
  const c = Number(cBig);
  const resolvable = cBig * BigInt(RESOLVE_FACTOR) <= BigInt(n);
  const threshold = 1 / (2 * c);
  let maxCount = 0;
  let minCount = Infinity;
  let above = 0;
  let pairs = 0;
  let total = 0;
  for (const x of counts) {
    maxCount = Math.max(maxCount, x);
    minCount = Math.min(minCount, x);
    if (x / n >= threshold) above++;
    pairs += x * (x - 1);
    total += x;
  }
  if (total !== n) throw new Error(`counts: must add up to samples (${n}), got ${total}`);
  const sorted = [...counts].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const expected = expectedDistinct(cBig, n);
  const rho = (c * pairs) / (n * (n - 1));
  const kl = k * Math.log(m) ** 2;
  return {
    d,
    m,
    k,
    C_mk: cBig.toString(),
    samples: n,
    samples_per_region: n / c,
    regions_hit: counts.length,
    expected_hit_if_uniform: expected,
    hit_ratio: counts.length / expected,
    resolvable,
    frac_regions_ge_half_uniform: resolvable ? above / c : null,
    frac_visited_ge_half_uniform: resolvable ? above / counts.length : null,
    max_mass: maxCount / n,
    max_mass_x_C: (maxCount / n) * c,
    min_visited_mass: resolvable ? minCount / n : null,
    median_visited_mass: resolvable ? median / n : null,
    collision_ratio: rho,
    pz_lower_bound: rho > 0 ? 1 / (4 * rho) : 0,
    k_log2m_sq: kl,
    d_over_k_log2m_sq: kl > 0 ? d / kl : Infinity,
    note: resolvable ? "" : `C(m,k)=${cBig} > samples/${RESOLVE_FACTOR}: per-region masses ` +
      `not resolvable; compare regions_hit with expected_hit_if_uniform`,
  };
}

/** Options of `runCensus`. */
export interface CensusOptions {
  /** Dimensions. */
  ds: readonly number[];
  /** Numbers of experts. */
  ms: readonly number[];
  /** Pairs with k >= m are skipped. */
  ks: readonly number[];
  /** Gaussian inputs per (d, m, k). */
  samples: number;
  /** Seed of the routing vectors and inputs. */
  seed: number;
  /** onnxruntime intra-op threads (0 = one per physical core). */
  threads?: number;
  /** Cells whose per-region (key, count) lists to return (e.g. for a histogram). */
  keep?: (d: number, m: number, k: number) => boolean;
  /** Called with each finished row (progress output). */
  onRow?: (row: CensusRow) => void;
}

/** The census of every (d, m, k) with k < m, rows ordered by d, then m, then k. */
export interface CensusResult {
  /** One row per (d, m, k). */
  rows: CensusRow[];
  /** Kept cells: `d,m,k` -> (key, count) of every visited region, ascending by key. */
  regions: Map<string, [bigint, number][]>;
}

/** Checks census options; one-line errors naming the field. */
export function checkCensusOptions(o: CensusOptions): void {
  const ints = (name: string, xs: readonly number[], lo: number, hi = Infinity) => {
    if (!Array.isArray(xs) || xs.length === 0) throw new Error(`${name}: must be a non-empty list`);
    for (const x of xs) {
      if (!Number.isInteger(x) || x < lo || x > hi) {
        throw new Error(
          `${name}: each must be an integer in ${lo}..${hi === Infinity ? "" : hi}, got ${x}`,
        );
      }
    }
  };
  ints("d", o.ds, 1);
  ints("m", o.ms, 2, MAX_EXPERTS);
  ints("k", o.ks, 1);
  if (!o.ms.some((m) => o.ks.some((k) => k < m))) {
    throw new Error("k: no (m, k) pair with k < m; give some k smaller than some m");
  }
  if (!Number.isInteger(o.samples) || o.samples < 2) {
    throw new Error(`samples: must be an integer >= 2, got ${o.samples}`);
  }
  if (!Number.isSafeInteger(o.seed)) throw new Error(`seed: must be an integer, got ${o.seed}`);
}

/**
 * Counts the regions hit by `samples` inputs x ~ N(0, I_d) (chunk c drawn from
 * foldIn(inputKey, c)) for each router and each of its k values; every router sees the same
 * inputs. Returns one counter per (router, k), in the order given.
 */
export async function countRegions(
  cells: readonly { router: Router; ks: readonly number[] }[],
  samples: number,
  inputKey: Key,
  opts: { threads?: number } = {},
): Promise<RegionCounter[][]> {
  const d = cells[0]?.router.d;
  if (cells.some((c) => c.router.d !== d)) throw new Error("routers: must share the dimension d");
  if (!Number.isInteger(samples) || samples < 1) {
    throw new Error(`samples: must be an integer >= 1, got ${samples}`);
  }
  const live: { kMax: number; keys: RegionKeys }[] = [];
  const counters = cells.map((c) => c.ks.map(() => new RegionCounter(c.router.m)));
  try {
    for (const c of cells) {
      const kMax = Math.max(...c.ks);
      live.push({ kMax, keys: await RegionKeys.create(c.router, kMax, opts) });
    }
    for (let chunk = 0, done = 0; done < samples; chunk++) {
      const n = Math.min(CHUNK, samples - done);
      const x = sampleInputs("gaussian", foldIn(inputKey, chunk), n, d);
      for (let i = 0; i < cells.length; i++) {
        const { keys } = await live[i].keys.run(x, n);
        cells[i].ks.forEach((k, j) => counters[i][j].add(keys, live[i].kMax, k - 1, n));
      }
      done += n;
    }
  } finally {
    for (const l of live) await l.keys.release();
  }
  return counters;
}

/** Runs the census (see the module comment for the sampling scheme). */
export async function runCensus(o: CensusOptions): Promise<CensusResult> {
  checkCensusOptions(o);
  const root = key(o.seed);
  const ds = [...new Set(o.ds)].sort((a, b) => a - b);
  const ms = [...new Set(o.ms)].sort((a, b) => a - b);
  const ks = [...new Set(o.ks)].sort((a, b) => a - b);
  const rows: CensusRow[] = [];
  const regions = new Map<string, [bigint, number][]>();
  for (const d of ds) {
    const cells = ms.filter((m) => ks.some((k) => k < m)).map((m) => ({
      m,
      router: gaussianRouter(foldIn(root, "routers"), d, m),
      ks: ks.filter((k) => k < m),
    }));
    const counters = await countRegions(cells, o.samples, foldIn(root, `inputs-d${d}`), {
      threads: o.threads,
    });
    cells.forEach((cell, i) =>
      cell.ks.forEach((k, j) => {
        const ctr = counters[i][j];
        const row = summarizeCensus(d, cell.m, k, ctr.counts(), o.samples);
        rows.push(row);
        o.onRow?.(row);
        if (o.keep?.(d, cell.m, k)) regions.set(`${d},${cell.m},${k}`, ctr.entries());
      })
    );
  }
  return { rows, regions };
}
