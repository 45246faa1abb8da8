/**
 * Load balancing: the auxiliary loss and the z-loss against direct computations and finite
 * differences, and aux-loss-free bias balancing trained in the Loop as carried state.
 */
import assert from "node:assert/strict";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { foldIn, key, normal } from "../lib/random/prng.ts";
import { Session } from "../lib/runtime/session.ts";
import { adamw } from "../lib/optim/adamw.ts";
import { Trainer } from "../lib/train/trainer.ts";
import type { TrainProgramSpec } from "../lib/train/program.ts";
import {
  initMoe,
  moeConfig,
  moeForward,
  type MoeLayerConfig,
  moeReference,
  type ParamSet,
} from "../lib/nn/mod.ts";
import { auxLoss, balanceTerms, expertCounts, validateBalance, zLoss } from "../lib/nn/balance.ts";
import { gradCheck } from "./support/gradcheck.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { checkRunShape, makeExecutor } from "../lib/experiments/executor.ts";
import { importModel } from "../lib/export/onnx_export.ts";
import { runId } from "../lib/sweep/runid.ts";
import { selection } from "../lib/nn/gates.ts";

const normals = (seed: number, n: number) => normal(key(seed), new Float64Array(n));
const nums = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** Evaluates `build` (scalar outputs by name) on float64 inputs. */
async function evaluate(
  inputs: Record<string, HostTensor>,
  build: (g: Graph, v: Record<string, Value>) => Record<string, Value>,
): Promise<Record<string, number[]>> {
  const g = new Graph("balance");
  const v = Object.fromEntries(
    Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.dtype, t.dims)]),
  );
  for (const [n, out] of Object.entries(build(g, v))) g.output(out, n);
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const res = await s.run(inputs);
  await s.release();
  return Object.fromEntries(Object.entries(res).map(([n, t]) => [n, nums(t)]));
}

/** A layer whose scores are x itself (router.weight = I, dIn = m). */
function identityRouter(cfg: MoeLayerConfig, seed: number): ParamSet {
  const ps = initMoe(cfg, key(seed), { dtype: "float64" });
  const eye = new Float64Array(cfg.m * cfg.m);
  for (let i = 0; i < cfg.m; i++) eye[i * cfg.m + i] = 1;
  ps.set("moe0.router.weight", tensor("float64", [cfg.m, cfg.m], eye));
  return ps;
}

function route(cfg: MoeLayerConfig) {
  return (g: Graph, v: Record<string, Value>) => {
    const names = Object.keys(v).filter((n) => n.startsWith("moe0."));
    return moeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).route;
  };
}

Deno.test("aux loss equals alpha under perfectly uniform routing, and alpha m sum f P otherwise", async () => {
  const m = 4;
  for (const gate of ["softmax-topk", "sigmoid-topk"] as const) {
    const cfg = moeConfig({ m, k: 2, w: 2, dIn: m, gate });
    const ps = identityRouter(cfg, 1);
    // Token t scores 2 on expert t, 1 on expert t+1: every expert gets 2 of the 8 slots, and
    // by symmetry every expert's mean probability is 1/m.
    const xs = new Float64Array(m * m);
    for (let t = 0; t < m; t++) {
      xs[t * m + t] = 2;
      xs[t * m + ((t + 1) % m)] = 1;
    }
    const inputs = { x: tensor("float64", [m, m], xs), ...Object.fromEntries(ps) };
    const out = await evaluate(inputs, (g, v) => {
      const r = route(cfg)(g, v);
      return { aux: auxLoss(g, cfg, r, 0.01), counts: expertCounts(g, r) };
    });
    assert.deepEqual(out.counts, [2, 2, 2, 2]);
    assert.ok(Math.abs(out.aux[0] - 0.01) <= 1e-17, `${gate}: aux ${out.aux[0]}`);

    // Random routing: the direct formula.
    const B = 13;
    const xr = normals(2, B * m);
    const ref = moeReference(cfg, ps, xr);
    const f = new Float64Array(m);
    const P = new Float64Array(m);
    for (let t = 0; t < B; t++) {
      for (let r = 0; r < 2; r++) f[ref.indices[t * 2 + r]] += 1 / (B * 2);
      const s = Array.from(ref.scores.subarray(t * m, (t + 1) * m));
      const a = gate === "sigmoid-topk" ? s.map((v) => 1 / (1 + Math.exp(-v))) : s.map(Math.exp);
      const z = a.reduce((x, y) => x + y, 0);
      a.forEach((v, i) => (P[i] += v / z / B));
    }
    const want = 0.3 * m * f.reduce((acc, v, i) => acc + v * P[i], 0);
    const got = await evaluate(
      { ...inputs, x: tensor("float64", [B, m], xr) },
      (g, v) => ({ aux: auxLoss(g, cfg, route(cfg)(g, v), 0.3) }),
    );
    assert.ok(Math.abs(got.aux[0] - want) < 1e-15, `${gate}: ${got.aux[0]} vs ${want}`);
    assert.ok(Math.abs(want - 0.3) > 1e-3, "random routing is not uniform");
  }
});

Deno.test("z-loss equals beta mean(logsumexp(s)^2), computed directly", async () => {
  const [B, m] = [11, 6];
  const s = normals(3, B * m).map((v) => 4 * v);
  const out = await evaluate(
    { s: tensor("float64", [B, m], s) },
    (g, v) => ({ z: zLoss(g, v.s, 0.001) }),
  );
  let want = 0;
  for (let t = 0; t < B; t++) {
    const row = Array.from(s.subarray(t * m, (t + 1) * m));
    const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
    want += (lse * lse) / B;
  }
  want *= 0.001;
  assert.ok(Math.abs(out.z[0] - want) < 1e-15 * Math.max(1, want), `${out.z[0]} vs ${want}`);
});

Deno.test("grad: aux loss and z-loss vs finite differences (softmax and sigmoid gates)", async () => {
  for (const gate of ["softmax-topk", "sigmoid-topk", "softmax-all"] as const) {
    const cfg = moeConfig({ m: 5, k: 2, w: 2, dIn: 3, gate, routerBias: true });
    const ps = initMoe(cfg, key(9), { dtype: "float64" });
    const inputs: Record<string, HostTensor> = {
      x: tensor("float64", [10, 3], normals(10, 30)),
      "moe0.router.weight": ps.get("moe0.router.weight")!,
      "moe0.router.bias": ps.get("moe0.router.bias")!,
      ...Object.fromEntries([...ps].filter(([n]) => n.startsWith("moe0.experts"))),
    };
    const build = (g: Graph, v: Record<string, Value>) => {
      const r = route(cfg)(g, v);
      const t = balanceTerms(g, cfg, r, { auxLoss: 0.7, zLoss: 0.2 });
      return g.op.Reshape(t.loss!, [1]);
    };
    const err = await gradCheck(inputs, build, {
      wrt: ["x", "moe0.router.weight", "moe0.router.bias"],
      h: 1e-6,
    });
    assert.ok(err < 1e-7, `${gate}: normalized error ${err}`);
  }
});

Deno.test("balancing settings: one-line errors naming the field", () => {
  validateBalance({ auxLoss: 0.01, zLoss: 1e-3, biasRate: 1e-3 }, { selectBias: true });
  assert.throws(() => validateBalance({ auxLoss: -1 }, {}), /^Error: auxLoss: must be a finite/);
  assert.throws(
    () => validateBalance({ biasRate: 0.1 }, {}, "model.balance."),
    /^Error: model\.balance\.biasRate: needs a layer with a selection bias/,
  );
  assert.throws(
    () => validateBalance({ aux: 1 } as never, {}),
    /^Error: aux: unknown field \(allowed: auxLoss, zLoss, biasRate\)$/,
  );
});

// ---- bias balancing in the training Loop -------------------------------------------------

const M = 8;
const D = 6;
const BATCH = 64;

/** A sigmoid-gate layer whose router bias sends most tokens to experts 0 and 1. */
function skewed(): { cfg: MoeLayerConfig; ps: ParamSet } {
  const cfg = moeConfig({
    m: M,
    k: 2,
    w: 3,
    dIn: D,
    gate: "sigmoid-topk",
    routerBias: true,
    selectBias: true,
  });
  const ps = initMoe(cfg, key(4), { dtype: "float64" });
  const rb = new Float64Array(M);
  rb[0] = 3;
  rb[1] = 2.5;
  ps.set("moe0.router.bias", tensor("float64", [M], rb));
  return { cfg, ps };
}

function program(cfg: MoeLayerConfig, ps: ParamSet, gamma: number): TrainProgramSpec {
  return {
    dtype: "float64",
    params: [...ps].map(([name, init]) => ({
      name,
      init,
      ...(name.endsWith("select_bias") ? { trainable: false as const } : {}),
    })),
    batch: [{ kind: "fed", name: "x", dtype: "float64", dims: [BATCH, D] }],
    loss: (g, p, b) => {
      const out = moeForward(g, cfg, p, b.x);
      const t = balanceTerms(g, cfg, out.route, { biasRate: gamma }, p["moe0.router.select_bias"]);
      const loss = g.op.ReduceMean(g.op.Mul(out.y, out.y), { keepdims: 0 });
      return { loss, updates: { "moe0.router.select_bias": t.bias! } };
    },
    optimizer: adamw({ weightDecay: 0 }),
    schedule: { schedule: { kind: "constant" } },
  };
}

function xBatch(from: number, n: number): HostTensor {
  const xs = new Float64Array(n * BATCH * D);
  for (let s = 0; s < n; s++) {
    xs.set(normal(foldIn(key(5), from + s), new Float64Array(BATCH * D)), s * BATCH * D);
  }
  return tensor("float64", [n, BATCH, D], xs);
}

/** Load entropy / ln m of the reference routing on a fixed batch. */
function loadEntropy(cfg: MoeLayerConfig, ps: ParamSet): number {
  const xs = normals(77, 512 * D);
  const ref = moeReference(cfg, ps, xs);
  const f = new Float64Array(M);
  for (const j of ref.indices) f[j] += 1 / ref.indices.length;
  return -f.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0) / Math.log(M);
}

const asSet = (state: Record<string, HostTensor>): ParamSet => new Map(Object.entries(state));

Deno.test("bias balancing raises the load entropy of a skewed router; the weights never contain the bias", async () => {
  const { cfg, ps } = skewed();
  const tr = await Trainer.create(program(cfg, ps, 0.01), { lrs: [1e-3], threads: 1 });
  try {
    const before = loadEntropy(cfg, ps);
    await tr.run(100, { x: xBatch(0, 100) });
    const trained = asSet(tr.state.params);
    const after = loadEntropy(cfg, trained);
    assert.ok(before < 0.75, `the router should start skewed (entropy ${before})`);
    assert.ok(after > before + 0.15, `entropy ${before} -> ${after}`);
    const bias = nums(tr.state.params["moe0.router.select_bias"]);
    // Every step moves each entry by -gamma, 0 or +gamma: a multiple of gamma, at most 100.
    assert.ok(bias[0] < 0 && bias[1] < 0, `the overloaded experts' bias falls: ${bias}`);
    assert.ok(bias.every((b) => Math.abs(b) <= 1 + 1e-12));
    // The trained layer's weights are the unbiased sigma(s) of the selected, normalized.
    const xs = normals(78, 16 * D);
    const g = new Graph("check");
    const x = g.input("x", "float64", [16, D]);
    const pv = Object.fromEntries(
      [...trained].map(([n, t]) => [n, g.initializer(n, t)]),
    );
    const r = moeForward(g, cfg, pv, x).route;
    g.output(r.gates, "gates");
    g.output(selection(r), "idx");
    g.output(r.scores, "scores");
    const s = await Session.create(encodeModel(g), { threads: 1 });
    const out = await s.run({ x: tensor("float64", [16, D], xs) });
    await s.release();
    const [gates, idx, sc] = [nums(out.gates), nums(out.idx), nums(out.scores)];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    let biasMoved = 0;
    for (let t = 0; t < 16; t++) {
      const sel = idx.slice(t * 2, t * 2 + 2);
      const z = sel.reduce((a, j) => a + sig(sc[t * M + j]), 0);
      sel.forEach((j, q) => {
        assert.ok(Math.abs(gates[t * 2 + q] - sig(sc[t * M + j]) / z) < 1e-15, `t=${t}`);
      });
      const unbiased = Array.from({ length: M }, (_, j) => j).sort((a, b) =>
        sig(sc[t * M + b]) - sig(sc[t * M + a]) || a - b
      );
      if (unbiased.slice(0, 2).join() !== sel.join()) biasMoved++;
    }
    assert.ok(biasMoved > 0, "the trained bias changed no selection");
  } finally {
    await tr.release();
  }
});

Deno.test("bias balancing state survives checkpoint / resume bit for bit", async () => {
  const { cfg, ps } = skewed();
  const spec = program(cfg, ps, 0.003);
  const straight = await Trainer.create(spec, { lrs: [1e-2], threads: 1 });
  const first = await Trainer.create(spec, { lrs: [1e-2], threads: 1 });
  const resumed = await Trainer.create(spec, { lrs: [1e-2], threads: 1 });
  const path = `${await Deno.makeTempDir()}/ckpt.bin`;
  try {
    await straight.run(12, { x: xBatch(0, 12) });
    await first.run(7, { x: xBatch(0, 7) });
    await first.save(path);
    await resumed.load(path);
    assert.deepEqual(
      nums(resumed.state.params["moe0.router.select_bias"]),
      nums(first.state.params["moe0.router.select_bias"]),
    );
    await resumed.run(5, { x: xBatch(7, 5) });
    assert.equal(resumed.state.step, 12);
    const bytes = (t: HostTensor) =>
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (const [name, t] of Object.entries(straight.state.params)) {
      assert.deepEqual(bytes(resumed.state.params[name]), bytes(t), name);
    }
    assert.ok(nums(straight.state.params["moe0.router.select_bias"]).some((v) => v !== 0));
    // Carried state has no optimizer moments.
    assert.ok(!Object.keys(straight.state.opt).some((k) => k.includes("select_bias")));
  } finally {
    for (const t of [straight, first, resumed]) await t.release();
  }
});

// ---- through the run executor --------------------------------------------------------------

const TINY = { d: 16, epochs: 2, samplesPerEpoch: 512, batch: 128, testSamples: 128 };

Deno.test("runs: balancing settings reach the training loss and the carried bias; the trained student exports with its bias", async () => {
  const o = { ...TINY, archs: ["8e4a"] };
  const [plain] = resolvePreset("fig2", "quick", o).runs;
  const [aux] = resolvePreset("fig2", "quick", { ...o, auxLoss: 0.5, zLoss: 0.01 }).runs;
  const [biased] = resolvePreset("fig2", "quick", {
    ...o,
    gate: "sigmoid-topk",
    biasRate: 0.01,
  }).runs;
  assert.ok(!("balance" in plain.model), "no balance field by default");
  assert.deepEqual(biased.model.kind === "moe" && biased.model.balance, { biasRate: 0.01 });
  assert.equal(biased.model.kind === "moe" && biased.model.layer.selectBias, true);
  const hooks = { onProgress() {}, signal: new AbortController().signal };
  const dir = await Deno.makeTempDir();
  const exec = makeExecutor({ threads: 1, saveModelDir: dir });
  const [a, b] = [await exec(plain, hooks), await exec(aux, hooks)];
  // The aux and z-losses add to the training loss (not to the test loss's definition).
  assert.ok(b.curves[0].train_loss > a.curves[0].train_loss, "aux loss adds to the loss");
  await exec(biased, hooks);
  const m = importModel(`${dir}/${runId(biased)}.onnx`);
  assert.equal(m.kind === "moe" && m.config.selectBias, true);
  const bias = nums(m.params.get("moe0.router.select_bias")!);
  assert.ok(bias.some((v) => v !== 0), "the bias moved");
  // Each step moves an entry by -gamma, 0 or +gamma: 8 steps, so |b| <= 0.08 in gamma steps.
  for (const v of bias) {
    assert.ok(Math.abs(v) <= 0.08 + 1e-6);
    assert.ok(Math.abs(v / 0.01 - Math.round(v / 0.01)) < 1e-4, `${v} not a multiple of gamma`);
  }
  await Deno.remove(dir, { recursive: true });
  assert.throws(
    () => checkRunShape({ ...plain, model: { ...plain.model, balance: { biasRate: 1 } } as never }),
    /^Error: model\.balance\.biasRate: needs a layer with a selection bias/,
  );
});
