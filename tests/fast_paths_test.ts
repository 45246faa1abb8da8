/**
 * The pieces behind training throughput: the ReduceSumSquare rule, custom gradients,
 * the copy-free training Loop and the worker-prefetched data. Speed itself is measured by
 * `deno task bench`, not here.
 */
import assert from "node:assert/strict";
import { customGradient } from "../lib/autodiff/custom.ts";
import { BatchSource } from "../lib/data/batches.ts";
import { BatchPrefetcher } from "../lib/data/prefetch.ts";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { Session } from "../lib/runtime/session.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { adamw } from "../lib/optim/adamw.ts";
import { initMoe, moeConfig, moeForward } from "../lib/nn/mod.ts";
import { key } from "../lib/random/prng.ts";
import { buildTrainProgram } from "../lib/train/program.ts";
import { prepareRun } from "../lib/experiments/executor.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { gradCheck, rand } from "./support/gradcheck.ts";

const TOL = 1e-6;

for (
  const [name, build] of [
    [
      "all axes, keepdims 0",
      (g: Graph, v: Record<string, Value>) => g.op.ReduceSumSquare(v.x, { keepdims: 0 }),
    ],
    [
      "axis 1, keepdims 0",
      (g: Graph, v: Record<string, Value>) => g.op.ReduceSumSquare(v.x, { axes: [1], keepdims: 0 }),
    ],
    [
      "axes 0 and 2, keepdims 1",
      (g: Graph, v: Record<string, Value>) =>
        g.op.ReduceSumSquare(v.x, { axes: [0, 2], keepdims: 1 }),
    ],
  ] as const
) {
  Deno.test(`grad ReduceSumSquare (${name})`, async () => {
    const err = await gradCheck({ x: rand([3, 4, 5], 7) }, build);
    assert.ok(err < TOL, `normalized error ${err.toExponential(2)}`);
  });
}

Deno.test("customGradient replaces the generic rules of the composite it ends", async () => {
  // y = x[perm] (a row permutation): its adjoint is a gather by the inverse permutation.
  const perm = [2, 0, 3, 1];
  const inv = [1, 3, 0, 2];
  const built: Graph[] = [];
  const build = (g: Graph, v: Record<string, Value>) => {
    built.push(g);
    const y = g.op.Gather(v.x, g.constant(tensor("int64", [4], perm)), { axis: 0 });
    return customGradient(y, [v.x], (c, gy) => [
      c.op.Gather(gy, c.g.constant(tensor("int64", [4], inv)), { axis: 0 }),
    ]);
  };
  const err = await gradCheck({ x: rand([4, 3], 3) }, build);
  assert.ok(err < TOL, `normalized error ${err.toExponential(2)}`);
  // The generic Gather rule (ScatterND into zeros) was never built.
  const ops = built[built.length - 1].nodes.map((n) => n.opType);
  assert.ok(!ops.includes("ScatterND"), ops.join(" "));
  assert.equal(ops.filter((o) => o === "Gather").length, 2);
  // A wrong custom rule is caught by the same check.
  const wrong = await gradCheck({ x: rand([4, 3], 3) }, (g, v) => {
    const y = g.op.Gather(v.x, g.constant(tensor("int64", [4], perm)), { axis: 0 });
    return customGradient(y, [v.x], (c, gy) => [
      c.op.Gather(gy, c.g.constant(tensor("int64", [4], perm)), { axis: 0 }),
    ]);
  });
  assert.ok(wrong > 0.1);
});

Deno.test("the training Loop returns carried values without Identity copies", () => {
  const { graph } = buildTrainProgram({
    dtype: "float32",
    params: [{ name: "w", init: tensor("float32", [3, 2]) }],
    batch: [{ kind: "fed", name: "x", dtype: "float32", dims: [4, 3] }],
    loss: (g, p, b) => g.op.ReduceSumSquare(g.op.MatMul(b.x, p.w), { keepdims: 0 }),
    optimizer: adamw(),
    schedule: { schedule: { kind: "constant" } },
  });
  const loop = graph.nodes.find((n) => n.opType === "Loop")!;
  const body = loop.attrs.get("body")!.value as Graph;
  const identities = body.nodes.filter((n) => n.opType === "Identity");
  // Only the loop condition (a body input) is passed through an Identity.
  assert.equal(identities.length, 1);
  assert.equal(body.outputs.length, 1 + 1 + 3 + 1); // cond, step, w + 2 AdamW states, loss
});

Deno.test("prefetched chunks equal BatchSource's, whatever the request sizes and seeks", async () => {
  const opts = { dist: "gaussian" as const, d: 5, key: key(4), dtype: "float32" as const };
  const p = new BatchPrefetcher(opts, 3);
  try {
    const want = (step: number, n: number) => {
      const s = new BatchSource(opts);
      s.seek(step);
      return s.next(n, 3).x;
    };
    const sizes = [2, 2, 2, 1, 3, 3];
    let step = 0;
    for (const n of sizes) {
      const c = await p.next(n);
      assert.equal(c.step, step);
      assert.deepEqual(c.xDims, [n, 3, 5]);
      assert.deepEqual(c.x, want(step, n));
      step += n;
    }
    p.seek(1);
    assert.deepEqual((await p.next(2)).x, want(1, 2));
    // A closed-form target rides along.
    const q = new BatchPrefetcher({ ...opts, dist: "circle", d: 4, target: "sincos" }, 6);
    const c = await q.next(2);
    q.close();
    const s = new BatchSource({ ...opts, dist: "circle", d: 4, target: "sincos" }).next(2, 6);
    assert.deepEqual(c.y, s.y);
  } finally {
    p.close();
  }
  assert.throws(
    () => new BatchPrefetcher({ ...opts, dist: "nope" as never }, 3),
    /^Error: input: unknown distribution "nope"/,
  );
});

Deno.test("grad Gather with repeated rows and symbolic dims", async () => {
  const idx = tensor("int64", [7], [2, 0, 2, 2, 4, 0, 1]);
  const err = await gradCheck(
    { x: rand([5, 3, 2], 21), i: idx },
    (g, v) => g.op.Gather(v.x, v.i, { axis: 0 }),
    { wrt: ["x"], symbolic: { x: ["n", 3, "c"] } },
  );
  assert.ok(err < TOL, `normalized error ${err.toExponential(2)}`);
});

Deno.test("sparse training is bit-reproducible with 2 threads", async () => {
  // Paper A's full-scale shapes, a few chunks: big enough that onnxruntime spreads the
  // per-tile weight-gradient sums over both threads (racy sums would differ from run to run).
  const [cfg] = resolvePreset("fig2", "full", { archs: ["16e8a"], strategy: "sparse", lrs: [0.01] })
    .runs;
  const params: Float32Array[][] = [];
  for (let rep = 0; rep < 3; rep++) {
    const run = await prepareRun(cfg, { threads: 2 });
    for (let c = 0; c < 2; c++) await run.trainer.run(16, run.nextBatch(16));
    params.push(Object.values(run.trainer.state.params).map((t) => t.data as Float32Array));
    await run.release();
  }
  for (const other of params.slice(1)) {
    params[0].forEach((a, i) => {
      const bad = a.findIndex((v, j) => !Object.is(v, other[i][j]));
      assert.equal(bad, -1, `parameter ${i} differs between runs at element ${bad}`);
    });
  }
});

Deno.test("Gather's gradient sums repeated rows exactly and reproducibly with 2 threads", async () => {
  // Many repeats of few rows, wide rows: onnxruntime splits the scatter over both threads.
  const rows = 16, width = 4096, n = 512;
  const idx = Array.from({ length: n }, (_, i) => (i * 7) % rows);
  const g = new Graph("gather_grad");
  const x = g.input("x", "float32", [rows, width]);
  const w = g.input("w", "float32", [n, width]);
  const y = g.op.Gather(x, g.constant(tensor("int64", [n], idx)), { axis: 0 });
  const [gx] = grad(g, g.op.ReduceSum(g.op.Mul(y, w), undefined, { keepdims: 0 }), [x]);
  g.output(gx, "gx");
  const s = await Session.create(encodeModel(g), { threads: 2 });
  // Small integers: every partial sum is exact in float32, so the result is exactly known.
  const wData = Float32Array.from({ length: n * width }, (_, i) => (i % 13) - 6);
  const want = new Float32Array(rows * width);
  idx.forEach((r, i) => {
    for (let j = 0; j < width; j++) want[r * width + j] += wData[i * width + j];
  });
  const feeds = {
    x: tensor("float32", [rows, width], new Float32Array(rows * width)),
    w: tensor("float32", [n, width], wData),
  };
  for (let rep = 0; rep < 3; rep++) {
    const got = (await s.run(feeds)).gx.data as Float32Array;
    const bad = want.findIndex((v, i) => got[i] !== v);
    assert.equal(bad, -1, `run ${rep}: element ${bad} is ${got[bad]}, expected ${want[bad]}`);
  }
  await s.release();
});

Deno.test("sparse per-expert weight gradients are exact with many tiles per expert, 2 threads", async () => {
  // A router bias sends most tokens to expert 0, which then owns many tiles; the per-tile
  // gradients must sum into it exactly (dense computes the same sums without tiles).
  const cfg = moeConfig({ m: 4, k: 1, w: 64, dIn: 128, dOut: 64, routerBias: true });
  const ps = initMoe(cfg, key(3), { dtype: "float64" });
  (ps.get("moe0.router.bias")!.data as Float64Array).set([3, 0, 0, 0]);
  const B = 4096;
  const xs = rand([B, cfg.dIn], 5);
  const grads: Float64Array[][] = [];
  for (const strategy of ["dense", "sparse"] as const) {
    const g = new Graph(strategy);
    const x = g.input("x", "float64", [B, cfg.dIn]);
    const pv = Object.fromEntries([...ps].map(([n, t]) => [n, g.input(n, "float64", t.dims)]));
    const y = moeForward(g, { ...cfg, strategy }, pv, x).y;
    const loss = g.op.ReduceSum(g.op.Mul(y, g.constant(rand([B, cfg.dOut], 6))), undefined, {
      keepdims: 0,
    });
    const names = ["moe0.experts.w1", "moe0.experts.w2"];
    grad(g, loss, names.map((n) => pv[n])).forEach((v, i) => g.output(v, `g${i}`));
    const s = await Session.create(encodeModel(g), { threads: 2 });
    const out = await s.run({ x: xs, ...Object.fromEntries(ps) });
    await s.release();
    grads.push([out.g0.data as Float64Array, out.g1.data as Float64Array]);
  }
  for (let i = 0; i < 2; i++) {
    const [d, sp] = [grads[0][i], grads[1][i]];
    let worst = 0, scale = 0;
    d.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - sp[j]));
      scale = Math.max(scale, Math.abs(v));
    });
    assert.ok(
      scale > 0 && worst <= 1e-9 * scale,
      `param ${i}: dense and sparse differ by ${worst}`,
    );
  }
});
