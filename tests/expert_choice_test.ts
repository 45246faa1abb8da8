import assert from "node:assert/strict";
import { key, normal } from "../lib/random/prng.ts";
import { expertCapacity, initMoe, moeConfig, moeReference } from "../lib/nn/mod.ts";
import { validateBalance } from "../lib/nn/balance.ts";
import { countExpertChoice } from "../lib/sweep/router_loads.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { makeExecutor } from "../lib/experiments/executor.ts";
import { curvesTable, resultsTable } from "../lib/sweep/tables.ts";
import { runId } from "../lib/sweep/runid.ts";
import type { RunRecord } from "../lib/sweep/types.ts";
import { runLayer } from "./support/layer.ts";

const normals = (seed: number, n: number) => normal(key(seed), new Float64Array(n));

/** P = softmax over each token's m scores, [B, m]. */
function probs(scores: number[], m: number): number[] {
  const P: number[] = [];
  for (let t = 0; t < scores.length / m; t++) {
    const row = scores.slice(t * m, (t + 1) * m);
    const z = row.reduce((a, v) => a + Math.exp(v), 0);
    P.push(...row.map((v) => Math.exp(v) / z));
  }
  return P;
}

Deno.test("expert choice takes exactly c = ceil(k B / m) distinct tokens per expert, its top c by probability", async () => {
  const cases = [
    { B: 16, m: 4, k: 1 }, // c = 4, m divides k B
    { B: 17, m: 6, k: 3 }, // c = ceil(51 / 6) = 9
    { B: 5, m: 8, k: 2 }, // c = 2 < m
    { B: 4, m: 4, k: 4 }, // c = B: every expert takes every token
  ];
  let i = 0;
  for (const { B, m, k } of cases) {
    const c = expertCapacity({ m, k }, B);
    assert.equal(c, Math.ceil((k * B) / m));
    for (const strategy of ["dense", "sparse"] as const) {
      for (const batch of [undefined, B]) {
        const cfg = moeConfig({
          m,
          k,
          w: 3,
          dIn: 4,
          dOut: 2,
          gate: "expert-choice",
          routedScale: 1.5,
          routerBias: true,
          strategy,
        });
        const ps = initMoe(cfg, key(40 + i++), { dtype: "float64" });
        const xs = normals(i, B * 4);
        const got = await runLayer(cfg, ps, xs, { batch });
        const where = `B=${B} m=${m} k=${k} ${strategy} batch=${batch ?? "symbolic"}`;
        assert.deepEqual(got.idxDims, [m, c], where);
        const P = probs(got.scores, m);
        for (let e = 0; e < m; e++) {
          const mine = got.idx.slice(e * c, (e + 1) * c);
          assert.equal(new Set(mine).size, c, `${where}: expert ${e}'s tokens are distinct`);
          const worstTaken = Math.min(...mine.map((t) => P[t * m + e]));
          for (let t = 0; t < B; t++) {
            if (!mine.includes(t)) assert.ok(P[t * m + e] <= worstTaken, `${where}: e=${e} t=${t}`);
          }
          mine.forEach((t, r) => {
            const g = got.gates[e * c + r];
            assert.ok(Math.abs(g - 1.5 * P[t * m + e]) < 1e-12, `${where}: gate = 1.5 P[t, e]`);
          });
        }
        const ref = moeReference(cfg, ps, xs);
        assert.deepEqual(got.idx, Array.from(ref.indices), where);
        const err = Math.max(...got.y.map((v, j) => Math.abs(v - ref.y[j])));
        assert.ok(err < 1e-10, `${where}: max |y - ref| = ${err}`);
      }
    }
  }
});

Deno.test("expert choice: a token no expert takes gets exactly 0 from the routed experts; unrouted fraction", async () => {
  const [B, m, k, d] = [32, 8, 1, 4];
  for (const shared of [false, true]) {
    for (const strategy of ["dense", "sparse"] as const) {
      const cfg = moeConfig({
        m,
        k,
        w: 3,
        dIn: d,
        dOut: 2,
        gate: "expert-choice",
        expertBias: true,
        strategy,
        ...(shared ? { sharedExperts: 1 } : {}),
      });
      const ps = initMoe(cfg, key(7), { dtype: "float64" });
      const xs = normals(8, B * d);
      const got = await runLayer(cfg, ps, xs);
      const where = `${strategy}${shared ? " + shared" : ""}`;
      const taken = new Set(got.idx);
      const unrouted = [...Array(B).keys()].filter((t) => !taken.has(t));
      assert.ok(unrouted.length > 0, `${where}: some token is taken by no expert`);
      const ref = moeReference(cfg, ps, xs);
      for (const t of unrouted) {
        for (let o = 0; o < 2; o++) {
          // Without shared experts the row is exactly 0 (the output bias e_j is not added);
          // with them it is the shared experts' output alone.
          if (!shared) assert.equal(got.y[t * 2 + o], 0, `${where}: y[${t}]`);
          else assert.ok(Math.abs(got.y[t * 2 + o] - ref.y[t * 2 + o]) < 1e-10, where);
        }
      }
      if (shared) assert.ok(unrouted.some((t) => ref.y[t * 2] !== 0), `${where}: shared output`);
      const load = countExpertChoice(got.idx, m, B);
      assert.equal(load.unrouted, unrouted.length / B);
      assert.deepEqual(load.loads, new Array(m).fill(1 / m));
    }
  }
  assert.throws(() => countExpertChoice([0, 32], 2, 32), /tokens\[1\]: must be a token in 0\.\.31/);
});

Deno.test("expert choice: one-line errors for the settings it cannot have", () => {
  const base = { m: 4, k: 2, w: 3, dIn: 2, gate: "expert-choice" as const };
  assert.throws(
    () => moeConfig({ ...base, selectBias: true }),
    /^Error: selectBias: not with gate expert-choice/,
  );
  assert.throws(
    () => validateBalance({ auxLoss: 0.01 }, moeConfig(base), "model.balance."),
    /^Error: model\.balance\.auxLoss: not with gate expert-choice/,
  );
  validateBalance({ zLoss: 1e-3 }, moeConfig(base));
});

Deno.test("a run trains an expert-choice student; curves.csv and results.csv record its unrouted fraction", async () => {
  const tiny = { d: 64, epochs: 2, samplesPerEpoch: 512, batch: 256, testSamples: 256 };
  const [cfg] = resolvePreset("fig2", "quick", {
    ...tiny,
    archs: ["4e2a"],
    gate: "expert-choice",
  }).runs;
  assert.equal(cfg.model.kind === "moe" && cfg.model.layer.gate, "expert-choice");
  const result = await makeExecutor({ threads: 1 })(cfg, {
    onProgress: () => {},
    signal: new AbortController().signal,
  });
  assert.equal(result.curves.length, 2);
  const first = result.curves[0].test_loss;
  const last = result.curves[result.curves.length - 1].test_loss;
  assert.ok(Number.isFinite(last) && last < first, `the loss falls: ${first} -> ${last}`);
  for (const e of result.curves) {
    const layer = e.router![0];
    assert.deepEqual(layer.loads, [0.25, 0.25, 0.25, 0.25]);
    assert.ok(layer.unrouted! >= 0 && layer.unrouted! < 1);
  }
  const rec: RunRecord = {
    run_id: runId(cfg),
    config: cfg,
    result,
    versions: {},
    finished_at: "2026-01-01T00:00:00Z",
  };
  const curves = curvesTable([rec]);
  assert.ok(curves.columns.includes("unrouted_l0"), curves.columns.join());
  const results = resultsTable([rec]);
  assert.ok(results.columns.includes("final_unrouted_l0"), results.columns.join());
});
