import assert from "node:assert/strict";
import { tensor } from "../lib/graph/tensor.ts";
import { key } from "../lib/random/prng.ts";
import { moeConfig } from "../lib/nn/config.ts";
import { initMoe } from "../lib/nn/init.ts";
import { moeForward } from "../lib/nn/moe.ts";
import type { Model } from "../lib/experiments/models.ts";
import { RouterEvaluator } from "../lib/experiments/router_eval.ts";
import { countLoads, loadStats } from "../lib/sweep/router_loads.ts";
import { curvesTable, RESULTS_COLUMNS, resultsTable } from "../lib/sweep/tables.ts";
import { fakeResult, makeRuns } from "./support/fake_sweep.ts";
import { parseCsv, toCsv } from "../lib/io/csv.ts";
import { runId } from "../lib/sweep/runid.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { makeExecutor } from "../lib/experiments/executor.ts";
import type { RunRecord } from "../lib/sweep/types.ts";

Deno.test("loadStats: max/mean, entropy / ln m and dead experts", () => {
  assert.deepEqual(loadStats([0.25, 0.25, 0.25, 0.25]), { maxMean: 1, entropy: 1, dead: 0 });
  const s = loadStats([0.5, 0.5, 0, 0]);
  assert.equal(s.maxMean, 2);
  assert.ok(Math.abs(s.entropy - Math.log(2) / Math.log(4)) < 1e-15);
  assert.equal(s.dead, 2);
  assert.deepEqual(loadStats([1, 0, 0]), { maxMean: 3, entropy: 0, dead: 2 });
  assert.deepEqual(countLoads([0, 2, 2, 3n], 4), [0.25, 0, 0.5, 0.25]);
  assert.throws(() => countLoads([4], 4), /indices\[0\]: must be an expert in 0\.\.3/);
});

/** Direct top-k of sigma(x W) + b per token, counted. */
function directLoads(x: number[][], w: number[][], b: number[], k: number): number[] {
  const m = b.length;
  const counts = new Array(m).fill(0);
  for (const row of x) {
    const a = [...Array(m).keys()].map((j) => {
      const s = row.reduce((acc, v, i) => acc + v * w[i][j], 0);
      return 1 / (1 + Math.exp(-s)) + b[j];
    });
    const order = [...Array(m).keys()].sort((i, j) => a[j] - a[i]);
    for (const e of order.slice(0, k)) counts[e]++;
  }
  return counts.map((c) => c / (x.length * k));
}

Deno.test("RouterEvaluator: a hand-built router's loads equal a direct count, bias included", async () => {
  const c = moeConfig({ m: 4, k: 2, w: 3, dIn: 2, gate: "sigmoid-topk", selectBias: true });
  const params = initMoe(c, key(3), { dtype: "float64" });
  const w = [[2, -1, 0.5, -3], [-1, 2, 0.25, 1]];
  const bias = [0, 0, 0.6, 0];
  params.set("moe0.router.weight", tensor("float64", [2, 4], w.flat()));
  params.set("moe0.router.select_bias", tensor("float64", [4], bias));
  const x = [[1, 0], [0, 1], [2, 1], [-1, 3], [0.5, -2], [3, 3], [-2, -1]];
  const model: Model = {
    params,
    outDim: c.dOut,
    forward: (g, p, xv) => ({ y: moeForward(g, c, p, xv).y, strategy: "dense" }),
    routes: (g, p, xv) => [moeForward(g, c, p, xv).route],
  };
  const ev = await RouterEvaluator.create(model, "float64", 2);
  try {
    const feeds = Object.fromEntries(params);
    const [layer] = await ev.run(feeds, tensor("float64", [x.length, 2], x.flat()));
    const want = directLoads(x, w, bias, 2);
    assert.deepEqual(layer.loads, want);
    // The bias changes the selection, so the count above depends on it.
    assert.notDeepEqual(want, directLoads(x, w, [0, 0, 0, 0], 2));
  } finally {
    await ev.release();
  }
});

Deno.test("curves.csv and results.csv carry the router columns; older records leave them blank", () => {
  const [a, b] = makeRuns(2);
  const res = fakeResult(a);
  res.curves = res.curves.map((e, i) => ({
    ...e,
    router: [{ loads: i === res.curves.length - 1 ? [0.5, 0.5, 0, 0] : [0.25, 0.25, 0.25, 0.25] }],
  }));
  const rec = (config: typeof a, result: typeof res): RunRecord => ({
    run_id: runId(config),
    config,
    result,
    versions: {},
    finished_at: "2026-01-01T00:00:00Z",
  });
  const records = [rec(a, res), rec(b, fakeResult(b))];
  const curves = curvesTable(records);
  const stats = ["max_mean_load_l0", "load_entropy_l0", "dead_experts_l0"];
  assert.deepEqual(curves.columns.slice(-7), [
    "load_l0_e0",
    "load_l0_e1",
    "load_l0_e2",
    "load_l0_e3",
    ...stats,
  ]);
  const last = curves.rows.filter((r) => r.run_id === runId(a)).at(-1)!;
  assert.deepEqual([last.load_l0_e2, last.max_mean_load_l0, last.dead_experts_l0], [0, 2, 2]);
  // As written to curves.csv: the run without router metrics has blank cells.
  const csv = parseCsv(toCsv(curves.rows, curves.columns));
  const other = csv.find((r) => r.run_id === runId(b))!;
  assert.equal(other.load_l0_e0, "");
  assert.equal(other.dead_experts_l0, "");
  assert.equal(csv.find((r) => r.run_id === runId(a))!.load_l0_e1, "0.25");
  const results = resultsTable(records);
  assert.deepEqual(results.columns.slice(-3), stats.map((s) => `final_${s}`));
  const row = results.rows.find((r) => r.run_id === runId(a))!;
  assert.equal(row.final_max_mean_load_l0, 2);
  assert.equal(row.final_dead_experts_l0, 2);
  // Without router metrics the columns are exactly the old ones.
  assert.deepEqual(resultsTable([records[1]]).columns.slice(0, RESULTS_COLUMNS.length), [
    ...RESULTS_COLUMNS,
  ]);
  assert.equal(curvesTable([records[1]]).columns.length, 7);
});

Deno.test("a run's curves record every epoch's expert loads of its MoE layer", async () => {
  const tiny = { d: 64, epochs: 2, samplesPerEpoch: 512, batch: 256, testSamples: 256 };
  const [cfg] = resolvePreset("fig2", "quick", { ...tiny, archs: ["4e2a"] }).runs;
  const result = await makeExecutor({ threads: 1 })(cfg, {
    onProgress: () => {},
    signal: new AbortController().signal,
  });
  assert.equal(result.curves.length, 2);
  for (const e of result.curves) {
    assert.equal(e.router?.length, 1);
    const loads = e.router![0].loads;
    assert.equal(loads.length, cfg.model.kind === "moe" ? cfg.model.layer.m : -1);
    // Fractions of 256 tokens x k slots: sum to 1, each a multiple of 1 / (256 k).
    assert.ok(Math.abs(loads.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    const k = cfg.model.kind === "moe" ? cfg.model.layer.k : 0;
    for (const l of loads) assert.ok(Math.abs(l * 256 * k - Math.round(l * 256 * k)) < 1e-9);
  }
});
