/**
 * Theory checks: subset keys and binomials, the ONNX region-key graph against a TS top-k, the
 * Monte-Carlo census against exact 2-D sector masses, partition pictures of a known router, the
 * Lemma 3.3 packing check on hand-made and brute-forced cases, the executor's trained-student
 * hook, and the three CLIs (end to end with deno.json's permissions, and their one-line errors).
 */
import assert from "node:assert/strict";
import { UsageError } from "../lib/cli/args.ts";
import { importModel } from "../lib/export/onnx_export.ts";
import { makeExecutor } from "../lib/experiments/executor.ts";
import { initMoe } from "../lib/nn/init.ts";
import { moeConfig } from "../lib/nn/config.ts";
import { parseCsv } from "../lib/io/csv.ts";
import { palette } from "../lib/plot/mod.ts";
import { foldIn, key, Stream } from "../lib/random/prng.ts";
import { runSweep } from "../lib/sweep/engine.ts";
import { runId } from "../lib/sweep/runid.ts";
import type { RunConfig } from "../lib/sweep/types.ts";
import { CENSUS_COLUMNS, countRegions, summarizeCensus } from "../lib/theory/census.ts";
import { exactMasses2d, sectors2d } from "../lib/theory/exact2d.ts";
import {
  constantExperts,
  diffSq,
  gramMatrix,
  normSq,
  packingCheck,
} from "../lib/theory/packing.ts";
import { partitionMap, partitionRgb, pixelCoords, type Slice } from "../lib/theory/partition.ts";
import { RegionKeys } from "../lib/theory/region_keys.ts";
import { type Router, routerScores, topKSet } from "../lib/theory/routers.ts";
import { runRouters } from "../lib/theory/run_routers.ts";
import {
  binomial,
  expectedDistinct,
  forEachSubset,
  formatSet,
  keyToSet,
  subsetKey,
} from "../lib/theory/subsets.ts";
import { parseCensusArgs } from "../tasks/census.ts";
import { parsePackingArgs } from "../tasks/packing.ts";
import { parsePartitionArgs } from "../tasks/partition.ts";
import { task } from "./support/task.ts";

/** A bias-free 2-D router with r_j at the given angles and norms. */
function router2d(angles: number[], norms = angles.map(() => 1)): Router {
  const m = angles.length;
  const weight = new Float64Array(2 * m);
  angles.forEach((a, j) => {
    weight[j] = norms[j] * Math.cos(a);
    weight[m + j] = norms[j] * Math.sin(a);
  });
  return { d: 2, m, weight };
}

const TWO_PI = 2 * Math.PI;
const sortKeys = (ks: Iterable<bigint>) => [...ks].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const wrap = (t: number) => ((t % TWO_PI) + TWO_PI) % TWO_PI;
/** Angular distance on the circle. */
const angDist = (a: number, b: number) => Math.min(wrap(a - b), wrap(b - a));

Deno.test("binomial: exact bigint values, symmetric, bad input named", () => {
  assert.equal(binomial(4, 2), 6n);
  assert.equal(binomial(8, 4), 70n);
  assert.equal(binomial(32, 8), 10518300n);
  assert.equal(binomial(32, 16), 601080390n);
  // Beyond 2^53: C(62, 31) = 465428353255261088.
  assert.equal(binomial(62, 31), 465428353255261088n);
  assert.equal(binomial(62, 31) - 1n, 465428353255261087n);
  assert.equal(binomial(7, 0), 1n);
  assert.equal(binomial(7, 7), 1n);
  assert.equal(binomial(20, 3), binomial(20, 17));
  assert.throws(() => binomial(4, 5), /^Error: k: must be an integer between 0 and m \(=4\)/);
  assert.throws(() => binomial(-1, 0), /^Error: m:/);
});

Deno.test("subset keys: canonical (order-free), round trip, colex enumeration", () => {
  assert.equal(subsetKey([3, 0, 5]), subsetKey([5, 3, 0]));
  assert.equal(subsetKey([0, 3, 5]), 41n);
  assert.deepEqual(keyToSet(41n), [0, 3, 5]);
  assert.equal(formatSet(41n), "{0,3,5}");
  assert.equal(subsetKey([62]), 1n << 62n);
  assert.throws(() => subsetKey([1, 1]), /appears twice/);
  assert.throws(() => subsetKey([63]), /indices: each must be an integer in 0\.\.62/);
  const keys: bigint[] = [];
  forEachSubset(7, 3, (s) => keys.push(subsetKey(s)));
  assert.equal(BigInt(keys.length), binomial(7, 3));
  for (let i = 1; i < keys.length; i++) assert.ok(keys[i] > keys[i - 1], "ascending keys");
  let zero = 0;
  forEachSubset(5, 0, (s) => (zero += s.length + 1));
  assert.equal(zero, 1);
});

Deno.test("expectedDistinct: C(1 - (1 - 1/C)^N), accurate when C >> N", () => {
  assert.equal(expectedDistinct(2n, 2), 1.5);
  assert.ok(Math.abs(expectedDistinct(6, 3) - 6 * (1 - (5 / 6) ** 3)) < 1e-12);
  assert.equal(expectedDistinct(1n, 10), 1);
  // C = 10^18, N = 10^6: N - N(N-1)/(2C) to within rounding.
  const e = expectedDistinct(10n ** 18n, 1e6);
  assert.ok(Math.abs(e - (1e6 - (1e6 * (1e6 - 1)) / 2e18)) < 1e-6, String(e));
});

Deno.test("region-key graph: keys and TopK order equal a TS top-k, for every k <= kMax", async () => {
  const d = 5, m = 7, kMax = 4, n = 300;
  const s = new Stream(key(11));
  const router: Router = {
    d,
    m,
    weight: Float64Array.from({ length: d * m }, () => s.normal()),
    bias: Float64Array.from({ length: m }, () => s.normal()),
  };
  const x = Float64Array.from({ length: n * d }, () => s.normal());
  const rk = await RegionKeys.create(router, kMax, { dtype: "float64", threads: 1 });
  try {
    const { keys, indices } = await rk.run(x, n);
    for (let r = 0; r < n; r++) {
      const scores = routerScores(router, x.subarray(r * d, (r + 1) * d));
      const top = topKSet(scores, kMax);
      assert.deepEqual([...indices.subarray(r * kMax, (r + 1) * kMax)].map(Number), top);
      for (let k = 1; k <= kMax; k++) {
        assert.equal(keys[r * kMax + k - 1], subsetKey(topKSet(scores, k)), `row ${r}, k ${k}`);
      }
    }
  } finally {
    await rk.release();
  }
});

Deno.test("exact 2-D sectors: equally spaced router has m sectors of 1/m for k = 1 and 2", () => {
  const m = 6;
  const r = router2d(Array.from({ length: m }, (_, j) => (TWO_PI * j) / m));
  const k1 = exactMasses2d(r, 1);
  assert.deepEqual(sortKeys(k1.keys()), Array.from({ length: m }, (_, j) => 1n << BigInt(j)));
  for (const v of k1.values()) assert.ok(Math.abs(v - 1 / m) < 1e-12);
  const k2 = exactMasses2d(r, 2);
  const want = Array.from({ length: m }, (_, j) => subsetKey([j, (j + 1) % m]));
  assert.deepEqual(sortKeys(k2.keys()), sortKeys(want));
  for (const v of k2.values()) assert.ok(Math.abs(v - 1 / m) < 1e-12);
  const total = sectors2d(r, 2).reduce((a, s) => a + s.to - s.from, 0);
  assert.ok(Math.abs(total - TWO_PI) < 1e-12);
});

Deno.test("census: Monte-Carlo masses match exact sector angles (m=4, d=2, k=1..3)", async () => {
  // Irregular angles and norms, so the sectors are unequal and not symmetric.
  const r = router2d([0.3, 1.9, 2.5, 4.4], [1, 0.6, 1.7, 1.2]);
  const n = 1 << 16;
  const ks = [1, 2, 3];
  const [counters] = await countRegions([{ router: r, ks }], n, key(7), { threads: 1 });
  ks.forEach((k, i) => {
    const exact = exactMasses2d(r, k);
    for (const v of exact.values()) assert.ok(v > 0.01, "every region large enough to be hit");
    const got = new Map(counters[i].entries());
    assert.equal(got.size, exact.size, `k=${k}: regions hit`);
    let sum = 0;
    for (const [kk, p] of exact) {
      const est = (got.get(kk) ?? 0) / n;
      // 6 standard errors: the draw is seeded (deterministic), and this bound would hold anyway.
      const tol = 6 * Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(est - p) < tol, `k=${k} ${formatSet(kk)}: ${est} vs exact ${p}`);
      sum += p;
    }
    assert.ok(Math.abs(sum - 1) < 1e-12);
  });
  // The same inputs for every k: k = 1 and k = 3 regions of this router partition them alike.
  assert.equal(counters[0].total, n);
});

Deno.test("census summary: hand-counted cell, and an unresolvable C(m,k) reported honestly", () => {
  // m=4, k=2: C = 6 regions, 100 samples (>= 10 per region: resolvable).
  const r = summarizeCensus(2, 4, 2, [30, 30, 20, 10, 5, 5], 100);
  assert.equal(r.C_mk, "6");
  assert.equal(r.resolvable, true);
  // 1/(2C) = 0.0833: masses 0.3, 0.3, 0.2, 0.1 are above, 0.05 twice below.
  assert.equal(r.frac_regions_ge_half_uniform, 4 / 6);
  assert.equal(r.frac_visited_ge_half_uniform, 4 / 6);
  assert.equal(r.max_mass, 0.3);
  assert.equal(r.min_visited_mass, 0.05);
  assert.equal(r.median_visited_mass, 0.15);
  // C * sum n(n-1) / (N(N-1)) = 6 * (870+870+380+90+20+20) / 9900.
  assert.ok(Math.abs(r.collision_ratio - (6 * 2250) / 9900) < 1e-12);
  assert.ok(Math.abs(r.pz_lower_bound - 1 / (4 * r.collision_ratio)) < 1e-12);
  assert.ok(Math.abs(r.k_log2m_sq - 2 * Math.log(4) ** 2) < 1e-12);
  assert.equal(r.note, "");
  // 3 of 6 regions hit: the unvisited ones count in the fraction over all regions.
  const h = summarizeCensus(2, 4, 2, [50, 30, 20], 100);
  assert.equal(h.frac_regions_ge_half_uniform, 3 / 6);
  assert.equal(h.frac_visited_ge_half_uniform, 1);

  // C(32, 8) = 10518300 regions, 1000 samples: per-region masses are not resolvable.
  const u = summarizeCensus(64, 32, 8, Array(1000).fill(1), 1000);
  assert.equal(u.resolvable, false);
  assert.equal(u.frac_regions_ge_half_uniform, null);
  assert.equal(u.min_visited_mass, null);
  assert.match(u.note, /C\(m,k\)=10518300 > samples\/10: per-region masses not resolvable/);
  assert.ok(Math.abs(u.expected_hit_if_uniform - 1000) < 0.1);
  assert.equal(u.collision_ratio, 0);
  assert.throws(() => summarizeCensus(2, 4, 2, [1, 2], 5), /counts: must add up to samples/);
});

Deno.test("partition picture of r_j at angles 2 pi j / m: region counts, sets, colours", async () => {
  const m = 6;
  const step = TWO_PI / m;
  const r = router2d(Array.from({ length: m }, (_, j) => j * step));
  const e1 = Float64Array.of(1, 0), e2 = Float64Array.of(0, 1);
  const slice: Slice = { d: 2, e1, e2, range: 1, size: 48 };
  for (const k of [1, 2]) {
    const map = await partitionMap(r, k, slice, { threads: 1 });
    // k = 1: expert j owns (phi_j - step/2, phi_j + step/2); k = 2: {j, j+1} owns (phi_j, phi_j+1).
    const expected = sortKeys(Array.from(
      { length: m },
      (_, j) => k === 1 ? 1n << BigInt(j) : subsetKey([j, (j + 1) % m]),
    ));
    assert.deepEqual(map.sets, expected, `k=${k}: the m sectors, in key order`);
    const rgb = partitionRgb(map);
    const colours = new Set<string>();
    for (let p = 0; p < rgb.length; p += 3) colours.add(`${rgb[p]},${rgb[p + 1]},${rgb[p + 2]}`);
    assert.equal(colours.size, m, `k=${k}: one colour per region`);
    const pal = palette(m);
    let checked = 0;
    for (let row = 0; row < slice.size; row++) {
      for (let col = 0; col < slice.size; col++) {
        const { u, v } = pixelCoords(slice, col, row);
        const th = wrap(Math.atan2(v, u));
        const boundaries = Array.from({ length: m }, (_, j) => j * step + (k === 1 ? step / 2 : 0));
        if (boundaries.some((b) => angDist(th, b) < 0.05)) continue;
        const j = k === 1 ? Math.round(th / step) % m : Math.floor(th / step);
        const want = k === 1 ? subsetKey([j]) : subsetKey([j, (j + 1) % m]);
        const p = row * slice.size + col;
        assert.equal(map.keys[p], want, `k=${k} pixel (${col},${row}) at angle ${th}`);
        assert.deepEqual([...rgb.subarray(3 * p, 3 * p + 3)], [...pal[expected.indexOf(want)]]);
        checked++;
      }
    }
    assert.ok(checked > 0.8 * slice.size * slice.size, `checked ${checked} pixels`);
  }
  // The top-right pixel lies at 45 degrees: nearest vector 60 degrees, between 0 and 60.
  const corner = slice.size - 1;
  assert.equal((await partitionMap(r, 1, slice, { threads: 1 })).keys[corner], subsetKey([1]));
  assert.equal((await partitionMap(r, 2, slice, { threads: 1 })).keys[corner], subsetKey([0, 1]));
});

Deno.test("packing: hand-made experts give the hand-computed max norm and min ratio", () => {
  const u = [Float64Array.of(1, 0), Float64Array.of(0, 2), Float64Array.of(0.5, 0.5)];
  const g = gramMatrix(u);
  assert.equal(normSq(g, 3, [0, 1]), 5);
  assert.equal(diffSq(g, 3, [0], [2]), 0.5);
  // k = 1: norms 1, 4, 0.5; ratios |u0-u1|^2/2 = 2.5, |u0-u2|^2/2 = 0.25, |u1-u2|^2/2 = 1.25.
  for (const budget of [1000, 1]) {
    const s = packingCheck(u, 1, { budget, key: key(0), starts: 1 });
    assert.equal(s.max_norm_sq, 4);
    assert.equal(s.min_ratio, 0.25);
    assert.equal(s.min_ratio_sym_diff, 2);
    assert.equal(s.norm_search, budget === 1 ? "sampled+local" : "exhaustive");
    assert.equal(s.ratio_search, budget === 1 ? "sampled+local" : "exhaustive");
  }
  // k = 2: sums (1,2) -> 5, (1.5,0.5) -> 2.5, (0.5,2.5) -> 6.5; pairs differ by one swap.
  const s2 = packingCheck(u, 2, { budget: 1000, key: key(0) });
  assert.equal(s2.max_norm_sq, 6.5);
  assert.equal(s2.min_ratio, 0.25);
  assert.equal(s2.subsets_checked, 3);
  assert.equal(s2.pairs_checked, 3);
  assert.equal(s2.mean_norm_sq, (5 + 2.5 + 6.5) / 3);
  // k = m: one subset, no pairs.
  assert.equal(packingCheck(u, 3, { budget: 10, key: key(0) }).min_ratio, null);
});

Deno.test("packing: exhaustive check equals brute force over all pairs S != S'", () => {
  const m = 6, k = 3, d = 4;
  const u = constantExperts(key(5), d, m, k);
  const sets: number[][] = [];
  forEachSubset(m, k, (s) => sets.push([...s]));
  const sum = (s: number[]) =>
    Array.from({ length: d }, (_, i) => s.reduce((a, j) => a + u[j][i], 0));
  let maxNorm = 0, minRatio = Infinity;
  for (const s of sets) {
    const a = sum(s);
    maxNorm = Math.max(maxNorm, a.reduce((x, y) => x + y * y, 0));
    for (const t of sets) {
      if (s === t) continue;
      const b = sum(t);
      const sym = s.filter((j) => !t.includes(j)).length * 2;
      minRatio = Math.min(minRatio, a.reduce((x, y, i) => x + (y - b[i]) ** 2, 0) / sym);
    }
  }
  const got = packingCheck(u, k, { budget: 1e6, key: key(0) });
  assert.equal(got.ratio_search, "exhaustive");
  assert.ok(Math.abs(got.max_norm_sq - maxNorm) < 1e-12 * maxNorm);
  assert.ok(Math.abs(got.min_ratio! - minRatio) < 1e-12 * minRatio);
  // Strata t = 1..3: C(6,t) C(6-t,t) / 2 unordered disjoint pairs = 15 + 45 + 10.
  assert.equal(got.pairs_checked, 70);
});

Deno.test("packing: u_j ~ N(0, I/(2dk)), so E||u_j||^2 = 1/(2k)", () => {
  const d = 400, m = 50, k = 2;
  const u = constantExperts(key(3), d, m, k);
  const mean = u.reduce((a, v) => a + v.reduce((x, y) => x + y * y, 0), 0) / m;
  // sd of the mean = (1/(2k)) sqrt(2/(d m)) ~ 0.0025: 6 sd.
  assert.ok(Math.abs(mean - 0.25) < 0.015, String(mean));
});

Deno.test("executor --save-models hook: the trained student is written and read back", async () => {
  const root = await Deno.makeTempDir();
  try {
    const layer = (m: number, k: number, routerBias: boolean) => ({
      m,
      k,
      w: 4,
      dIn: 4,
      dOut: 4,
      gate: "softmax-topk" as const,
      activation: "relu" as const,
      routerBias,
      expertBias: true,
      strategy: "dense" as const,
    });
    const cfg: RunConfig = {
      experiment: "theory-test",
      scale: "custom",
      seed: 0,
      dtype: "float32",
      input: { dist: "gaussian", d: 4 },
      target: { kind: "teacher", teacher: layer(4, 2, false), seed: 1, init: "torch" },
      model: { kind: "moe", layer: layer(6, 2, true), init: "torch" },
      train: {
        optimizer: "adamw",
        lr: 0.05,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0.01,
        schedule: "constant",
        warmupSteps: 0,
        epochs: 1,
        samplesPerEpoch: 256,
        batch: 64,
        testSamples: 64,
      },
      labels: { teacher: "4e2a", student: "6e2a" },
    };
    const id = runId(cfg);
    const outDir = `${root}/theory-test`;
    // Before any sweep: a missing record is named.
    await assert.rejects(runRouters(outDir, id), /run: no run record .*\.json/);
    const summary = await runSweep({
      outDir,
      runs: [cfg],
      execute: makeExecutor({ threads: 1, saveModelDir: `${outDir}/models` }),
      versions: {},
      progress: false,
      handleSigint: false,
    });
    assert.equal(summary.done, 1, JSON.stringify(summary.failed));
    const saved = importModel(`${outDir}/models/${id}.onnx`);
    assert.equal(saved.kind, "moe");
    assert.deepEqual(saved.config, moeConfig(layer(6, 2, true)));
    // The executor's student init (key: foldIn(key(seed), "student")).
    const init = initMoe(moeConfig(layer(6, 2, true)), foldIn(key(0), "student"), "torch");
    // 4 AdamW steps at lr 0.05 moved the router (k = 2: softmax-topk gives it a gradient).
    const w0 = init.get("moe0.router.weight")!.data as Float32Array;
    const w1 = saved.params.get("moe0.router.weight")!.data as Float32Array;
    assert.ok(w0.some((x, i) => Math.abs(x - w1[i]) > 1e-3), "trained weights differ");

    const r = await runRouters(outDir, id);
    assert.equal(r.teacher.label, "teacher 4e2a");
    assert.equal(r.student.label, "student 6e2a (trained)");
    assert.equal(r.student.k, 2);
    assert.ok(r.student.router.bias, "student router bias read back");
    assert.deepEqual([...r.student.router.weight], [...w1].map(Number));
    // The teacher's router is the executor's teacher: initMoe(teacher, key(seed)).
    const tw = initMoe(moeConfig(layer(4, 2, false)), key(1), { scheme: "torch" })
      .get("moe0.router.weight")!.data as Float32Array;
    assert.deepEqual([...r.teacher.router.weight], [...tw].map(Number));

    await Deno.remove(`${outDir}/models/${id}.onnx`);
    await assert.rejects(runRouters(outDir, id), /run: no saved student .*--save-models/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function isPng(bytes: Uint8Array): boolean {
  return [137, 80, 78, 71, 13, 10, 26, 10].every((b, i) => bytes[i] === b);
}

Deno.test("CLIs end to end: census, packing and partition write their CSVs and PNGs", async () => {
  const root = await Deno.makeTempDir();
  try {
    const c = await task("census", [
      ...["--d", "2,4", "--m", "4,40", "--k", "1,2", "--samples", "4000"],
      ...["--hist", "4:4:2", "--threads", "1", "--out", `${root}/census`],
    ]);
    assert.equal(c.code, 0, c.stderr);
    const rows = parseCsv(await Deno.readTextFile(`${root}/census/census.csv`));
    assert.deepEqual(Object.keys(rows[0]), CENSUS_COLUMNS);
    assert.equal(rows.length, 8);
    // C(40, 2) = 780 > 4000/10: flagged, with the per-region columns left empty.
    const big = rows.find((r) => r.d === "4" && r.m === "40" && r.k === "2")!;
    assert.equal(big.C_mk, "780");
    assert.equal(big.resolvable, "false");
    assert.equal(big.frac_regions_ge_half_uniform, "");
    assert.match(big.note, /not resolvable/);
    assert.match(c.stdout, /not resolvable/);
    for (
      const f of [
        "census_frac_vs_d.png",
        "census_frac_vs_scaled_d.png",
        "census_collision_vs_d.png",
        "census_hist_d4_m4_k2.png",
      ]
    ) assert.ok(isPng(await Deno.readFile(`${root}/census/${f}`)), f);
    const regions = parseCsv(await Deno.readTextFile(`${root}/census/census_regions_d4_m4_k2.csv`));
    assert.equal(regions.reduce((a, r) => a + Number(r.count), 0), 4000);

    const p = await task("packing", [
      ...["--d", "8,64", "--m", "6", "--k", "1,2", "--out", `${root}/packing`],
    ]);
    assert.equal(p.code, 0, p.stderr);
    const prow = parseCsv(await Deno.readTextFile(`${root}/packing/packing.csv`));
    assert.equal(prow.length, 4);
    assert.equal(prow[0].bound_norm, "1");
    assert.equal(prow.find((r) => r.k === "2")!.bound_ratio, "0.125");
    assert.ok(isPng(await Deno.readFile(`${root}/packing/packing.png`)));

    const q = await task("partition", ["--size", "40", "--out", `${root}/part`]);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.stdout, /^8e1a: \d+ distinct expert sets in the window\n8e4a: \d+ /);
    assert.ok(isPng(await Deno.readFile(`${root}/part/partition_d2_8e1a_8e4a_seed0.png`)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CLIs: bad input gives one line naming the flag, exit code 2", async () => {
  const bad: [(a: string[]) => unknown, string[], RegExp][] = [
    [parseCensusArgs, ["--m", "100"], /^--m: each must be an integer in 2\.\.62, got 100$/],
    [parseCensusArgs, ["--m", "8", "--k", "8"], /^--k: no \(m, k\) pair with k < m/],
    [parseCensusArgs, ["--samples", "lots"], /^--samples: must be an integer >= 2/],
    [parseCensusArgs, ["--d", "2,x"], /^--d: must be a comma-separated list of integers/],
    [parseCensusArgs, ["--hist", "3:8:2"], /^--hist: cell 3:8:2 is not in the grid/],
    [parseCensusArgs, ["--hist", "3-8-2"], /^--hist: cells must look like d:m:k/],
    [parsePackingArgs, ["--d", "0"], /^--d: each must be an integer in 1\.\./],
    [parsePackingArgs, ["--budget", "0"], /^--budget: must be an integer >= 1/],
    [parsePartitionArgs, ["--archs", "8e9a"], /^--archs: shorthand: need 1 <= k <= m/],
    [parsePartitionArgs, ["--archs", "64e2a"], /^--archs: at most 62 experts/],
    [parsePartitionArgs, ["--from", "out/fig2"], /^--from and --run: give both/],
    [parsePartitionArgs, ["--range", "0"], /^--range: must be a number > 0/],
    [parsePartitionArgs, ["--center-norm", "2"], /^--center-norm: needs --d >= 3/],
    [parsePartitionArgs, ["--size", "5000"], /^--size: must be an integer in 1\.\.2048/],
  ];
  for (const [parse, args, re] of bad) {
    assert.throws(() => parse(args), (e: Error) => e instanceof UsageError && re.test(e.message));
  }
  assert.equal(parseCensusArgs(["--help"]), null);
  for (
    const [name, args, re] of [
      ["census", ["--k", "0"], /^census: --k: each must be an integer in 1\.\./],
      ["packing", ["--bogus"], /^packing: Unknown option '--bogus'/],
      [
        "partition",
        ["--from", "/nonexistent", "--run", "0123456789ab"],
        /^partition: run: no run record/,
      ],
    ] as const
  ) {
    const r = await task(name, [...args]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  }
});
