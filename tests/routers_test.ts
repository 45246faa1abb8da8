/**
 * Router families: the sigmoid gate, the selection bias (selection only, never in the
 * weights), the routed scale, and the documented equivalences with Mixtral's and Switch's
 * gate formulas.
 */
import assert from "node:assert/strict";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { key, normal } from "../lib/random/prng.ts";
import { Session } from "../lib/runtime/session.ts";
import {
  activeParams,
  type Gate,
  GATES,
  initMoe,
  moeConfig,
  moeForward,
  type MoeLayerConfig,
  moeReference,
  type ParamSet,
  topK,
} from "../lib/nn/mod.ts";
import { gradCheck } from "./support/gradcheck.ts";
import { runLayer } from "./support/layer.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";

const nums = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
const normals = (seed: number, n: number) => normal(key(seed), new Float64Array(n));

/** Parameters with a selection bias of N(0, scale^2) entries (it starts at 0 otherwise). */
function withBias(cfg: MoeLayerConfig, seed: number, scale: number): ParamSet {
  const ps = initMoe(cfg, key(seed), { dtype: "float64" });
  if (cfg.selectBias) {
    const b = normals(seed + 1, cfg.m).map((v) => v * scale);
    ps.set("moe0.router.select_bias", tensor("float64", [cfg.m], b));
  }
  return ps;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

Deno.test("selection bias and routed scale: every gate, dense and sparse, vs the reference", async () => {
  const B = 23;
  const [m, k, dIn] = [7, 3, 5];
  const xs = normals(3, B * dIn);
  // Expert choice has no selection bias (its loads are c by construction).
  for (const gate of GATES.filter((g) => g !== "expert-choice")) {
    for (const strategy of ["dense", "sparse"] as const) {
      const cfg = moeConfig({
        m,
        k,
        w: 4,
        dIn,
        dOut: 3,
        gate,
        selectBias: true,
        routedScale: 2.5,
        routerBias: true,
        strategy,
      });
      const ps = withBias(cfg, 10 + GATES.indexOf(gate), 0.5);
      const ref = moeReference(cfg, ps, xs);
      const got = await runLayer(cfg, ps, xs);
      const where = `${gate}/${strategy}`;
      assert.deepEqual(got.idx, Array.from(ref.indices), where);
      for (let i = 0; i < got.gates.length; i++) {
        assert.ok(Math.abs(got.gates[i] - ref.gates[i]) < 1e-12, `${where}: gate ${i}`);
      }
      for (let i = 0; i < got.y.length; i++) {
        assert.ok(Math.abs(got.y[i] - ref.y[i]) < 1e-10, `${where}: y ${i}`);
      }
      // The bias changes the selection of some tokens (else this test would prove nothing) ...
      const b = ps.get("moe0.router.select_bias")!.data as Float64Array;
      let changed = 0;
      for (let t = 0; t < B; t++) {
        const sc = Array.from(ref.scores.subarray(t * m, (t + 1) * m));
        const aff = gate === "sigmoid-topk" ? sc.map(sigmoid) : sc;
        const sel = Array.from(ref.indices.subarray(t * k, (t + 1) * k));
        if (topK(aff, k).join() !== sel.join()) changed++;
        assert.deepEqual(sel, topK(aff.map((v, j) => v + b[j]), k), `${where}: biased top-k`);
        // ... and the weights are those of the unbiased affinities of the selected experts.
        const want = unbiasedGates(gate, sc, sel).map((v) => v * 2.5);
        want.forEach((v, r) => {
          assert.ok(Math.abs(got.gates[t * k + r] - v) < 1e-12, `${where}: t=${t} r=${r}`);
        });
      }
      assert.ok(changed > 0, `${where}: the bias changed no selection`);
    }
  }
});

/** The gate weights of the selected experts from the unbiased scores, written out directly. */
function unbiasedGates(gate: Gate, sc: number[], sel: number[]): number[] {
  switch (gate) {
    case "equal":
      return sel.map(() => 1);
    case "sigmoid-topk": {
      const z = sel.reduce((a, j) => a + sigmoid(sc[j]), 0);
      return sel.map((j) => sigmoid(sc[j]) / z);
    }
    case "softmax-topk": {
      const z = sel.reduce((a, j) => a + Math.exp(sc[j]), 0);
      return sel.map((j) => Math.exp(sc[j]) / z);
    }
    case "softmax-all": {
      const z = sc.reduce((a, v) => a + Math.exp(v), 0);
      return sel.map((j) => Math.exp(sc[j]) / z);
    }
    case "expert-choice":
      throw new Error("expert-choice weighs per expert");
  }
}

Deno.test("sigmoid gate: weights are the selected sigma(s) normalized to 1, without a bias too", async () => {
  const cfg = moeConfig({ m: 6, k: 2, w: 3, dIn: 4, gate: "sigmoid-topk", strategy: "sparse" });
  const ps = withBias(cfg, 5, 0);
  const xs = normals(6, 9 * 4);
  const ref = moeReference(cfg, ps, xs);
  const got = await runLayer(cfg, ps, xs);
  for (let t = 0; t < 9; t++) {
    const sc = Array.from(ref.scores.subarray(t * 6, t * 6 + 6));
    const sel = topK(sc, 2); // sigma is increasing: the same experts as top-k of s
    assert.deepEqual(got.idx.slice(t * 2, t * 2 + 2), sel);
    const sum = got.gates[t * 2] + got.gates[t * 2 + 1];
    assert.ok(Math.abs(sum - 1) < 1e-15);
    const want = unbiasedGates("sigmoid-topk", sc, sel);
    assert.ok(Math.abs(got.gates[t * 2] - want[0]) < 1e-15);
  }
});

Deno.test("grad: sigmoid gate with selection bias and routed scale vs finite differences; the bias gets exactly 0", async () => {
  for (const strategy of ["dense", "sparse"] as const) {
    const cfg = moeConfig({
      m: 5,
      k: 2,
      w: 3,
      dIn: 4,
      dOut: 2,
      gate: "sigmoid-topk",
      activation: "linear",
      selectBias: true,
      routedScale: 1.7,
      routerBias: true,
      strategy,
    });
    const ps = withBias(cfg, 21, 0.3);
    const inputs: Record<string, HostTensor> = {
      x: tensor("float64", [10, 4], normals(22, 40)),
      ...Object.fromEntries(ps),
    };
    const names = [...ps.keys()];
    const build = (g: Graph, v: Record<string, Value>) =>
      moeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).y;
    const wrt = ["x", ...names.filter((n) => !n.endsWith("select_bias"))];
    const err = await gradCheck(inputs, build, { wrt, h: 1e-6 });
    assert.ok(err < 1e-6, `${strategy}: normalized error ${err}`);
    // The selection bias only ranks: no gradient reaches it.
    const g = new Graph("bias_grad");
    const vals = Object.fromEntries(
      Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.dtype, t.dims)]),
    );
    const y = build(g, vals);
    const loss = g.op.ReduceSum(g.op.Mul(y, y), undefined, { keepdims: 0 });
    g.output(grad(g, loss, [vals["moe0.router.select_bias"]])[0], "db");
    const s = await Session.create(encodeModel(g), { threads: 1 });
    const out = await s.run(inputs);
    await s.release();
    assert.ok(nums(out.db).every((v) => v === 0), `${strategy}: d loss / d select_bias`);
  }
});

/**
 * Mixtral (arXiv 2401.04088) computes softmax over all m scores, keeps the top k and
 * renormalizes them to sum 1: exactly `softmax-topk` (the softmax normalizer cancels).
 * Switch / GShard keep the top k of the softmax without renormalizing: exactly `softmax-all`.
 */
Deno.test("equivalences: Mixtral's softmax -> top-k -> renormalize is softmax-topk; without renormalizing it is softmax-all", async () => {
  const [B, m, k, dIn] = [31, 8, 3, 6];
  const xs = normals(40, B * dIn);
  const base = moeConfig({ m, k, w: 2, dIn, routerBias: true });
  const ps = initMoe(base, key(41), { dtype: "float64" });
  // The formulas as ONNX graphs, written the way those models' code does it.
  const g = new Graph("gates");
  const x = g.input("x", "float64", [B, dIn]);
  const { op } = g;
  const scores = op.Gemm(x, g.input("w", "float64", [dIn, m]), g.input("b", "float64", [m]));
  const probs = op.Softmax(scores, { axis: -1 });
  const [topv] = op.TopK(probs, k, { axis: -1, largest: 1, sorted: 1 });
  g.output(op.Div(topv, op.ReduceSum(topv, [1])), "mixtral");
  g.output(topv, "switch");
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const out = await s.run({
    x: tensor("float64", [B, dIn], xs),
    w: ps.get("moe0.router.weight")!,
    b: ps.get("moe0.router.bias")!,
  });
  await s.release();
  const cases: [Gate, string][] = [["softmax-topk", "mixtral"], ["softmax-all", "switch"]];
  for (const [gate, name] of cases) {
    const cfg = { ...base, gate };
    const ref = moeReference(cfg, ps, xs);
    const ours = await runLayer(cfg, ps, xs);
    const theirs = nums(out[name]);
    for (let i = 0; i < theirs.length; i++) {
      assert.ok(Math.abs(ours.gates[i] - theirs[i]) < 1e-15, `${gate} vs ${name} [${i}]`);
      assert.ok(Math.abs(ref.gates[i] - theirs[i]) < 1e-15, `reference ${gate} vs ${name}`);
    }
  }
});

Deno.test("router options: absent at their defaults, one-line errors", () => {
  const c = moeConfig({ m: 4, k: 2, w: 3, dIn: 5 });
  assert.ok(!("selectBias" in c) && !("routedScale" in c));
  assert.throws(
    () => moeConfig({ m: 4, k: 2, w: 3, dIn: 5, routedScale: 0 }),
    /^Error: routedScale: must be a finite number > 0, got 0$/,
  );
  assert.throws(
    () => moeConfig({ m: 4, k: 2, w: 3, dIn: 5, selectBias: "yes" as never }),
    /^Error: selectBias: must be true or false, got yes$/,
  );
});

Deno.test("shared experts: every activation, dense and sparse, vs the reference; own width", async () => {
  const B = 15;
  const xs = normals(60, B * 5);
  for (const activation of ["relu", "linear", "constant", "gelu"] as const) {
    for (const strategy of ["dense", "sparse"] as const) {
      const cfg = moeConfig({
        m: 6,
        k: 2,
        w: 3,
        dIn: 5,
        dOut: 4,
        activation,
        sharedExperts: 2,
        sharedWidth: 5,
        expertBias: activation !== "linear",
        strategy,
      });
      const ps = initMoe(cfg, key(61), { dtype: "float64" });
      assert.deepEqual(ps.get("moe0.shared.w1")!.dims, [5, 10]);
      const ref = moeReference(cfg, ps, xs);
      const got = await runLayer(cfg, ps, xs);
      const tol = activation === "gelu" ? 1e-6 : 1e-10;
      for (let i = 0; i < got.y.length; i++) {
        assert.ok(Math.abs(got.y[i] - ref.y[i]) < tol, `${activation}/${strategy}: y ${i}`);
      }
      // The shared experts contribute: the same layer without them differs.
      const plain = moeReference(
        { ...cfg, sharedExperts: undefined, sharedWidth: undefined },
        ps,
        xs,
      );
      assert.ok(plain.y.some((v, i) => Math.abs(v - ref.y[i]) > 1e-3), activation);
    }
  }
});

Deno.test("grad: shared experts vs finite differences (dense and sparse)", async () => {
  for (const strategy of ["dense", "sparse"] as const) {
    const cfg = moeConfig({
      m: 4,
      k: 2,
      w: 3,
      dIn: 4,
      dOut: 2,
      activation: "linear",
      sharedExperts: 2,
      sharedWidth: 2,
      strategy,
    });
    const ps = initMoe(cfg, key(70), { dtype: "float64" });
    const inputs: Record<string, HostTensor> = {
      x: tensor("float64", [9, 4], normals(71, 36)),
      ...Object.fromEntries(ps),
    };
    const names = [...ps.keys()];
    const build = (g: Graph, v: Record<string, Value>) =>
      moeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).y;
    const err = await gradCheck(inputs, build, { h: 1e-6 });
    assert.ok(err < 1e-6, `${strategy}: normalized error ${err}`);
  }
});

Deno.test("active parameters count the router, k routed experts and the shared experts", () => {
  const base = moeConfig({ m: 16, k: 8, w: 40, dIn: 256 });
  const expert = 256 * 40 + 40 * 256 + 40 + 256;
  assert.equal(activeParams(base), 256 * 16 + 8 * expert);
  const shared = moeConfig({ m: 16, k: 8, w: 40, dIn: 256, sharedExperts: 1, sharedWidth: 64 });
  assert.equal(activeParams(shared), 256 * 16 + 8 * expert + (256 * 64 * 2 + 64 + 256));
  assert.throws(
    () => moeConfig({ m: 4, k: 2, w: 3, dIn: 5, sharedWidth: 4 }),
    /^Error: sharedWidth: needs sharedExperts/,
  );
});

Deno.test("experiment routers: every family x teacher x granularity, matched active neurons", () => {
  const runs = resolvePreset("routers", "quick").runs;
  assert.equal(runs.length, 5 * 2 * 4);
  for (const r of runs) {
    assert.equal(r.model.kind, "moe");
    if (r.model.kind !== "moe") continue;
    const l = r.model.layer;
    const family = r.labels.family;
    assert.equal(l.m, 2 * l.k);
    assert.equal(l.k, r.labels.granularity);
    const active = l.k * l.w + (l.sharedExperts ?? 0) * (l.sharedWidth ?? l.w);
    assert.ok(active <= 80 && active > 80 - l.k - 1, `${family} ${l.k}: ${active} active neurons`);
    const gate = { "sigmoid-bias": "sigmoid-topk", "expert-choice": "expert-choice" }[
      family as string
    ];
    assert.equal(l.gate, gate ?? "softmax-topk");
    assert.equal(l.selectBias, family === "sigmoid-bias" ? true : undefined);
    assert.deepEqual(
      r.model.balance,
      { aux: { auxLoss: 0.01 }, "sigmoid-bias": { biasRate: 0.001 } }[family as string],
    );
  }
});
