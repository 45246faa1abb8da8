import assert from "node:assert/strict";
import type { Graph, Value } from "../lib/graph/builder.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import type { FloatDType } from "../lib/graph/dtype.ts";
import { adamw } from "../lib/optim/adamw.ts";
import { sgd } from "../lib/optim/sgd.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { Evaluator } from "../lib/train/evaluator.ts";
import type { ParamSpec, TrainProgramSpec } from "../lib/train/program.ts";
import { Session } from "../lib/runtime/session.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { Graph as G } from "../lib/graph/builder.ts";
import { foldIn, key, normal, split, uniform } from "../lib/random/prng.ts";

const D = 4;
const H = 16;
const B = 32;

/** Target: a fixed smooth function of x, y = sin(x·a) + 0.5 (x·b)^2. */
function target(x: Float64Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let t = 0;
    for (let j = 0; j < D; j++) {
      s += x[i * D + j] * (0.5 + 0.1 * j);
      t += x[i * D + j] * (j % 2 ? -0.3 : 0.2);
    }
    y[i] = Math.sin(s) + 0.5 * t * t;
  }
  return y;
}

/** N steps of (x, y) batches for global steps [from, from + n), identical however grouped. */
function batches(dtype: FloatDType, from: number, n: number): Record<string, HostTensor> {
  const xs = new Float64Array(n * B * D);
  for (let s = 0; s < n; s++) {
    xs.set(normal(foldIn(key(7), from + s), new Float64Array(B * D)), s * B * D);
  }
  return {
    x: tensor(dtype, [n, B, D], xs),
    y: tensor(dtype, [n, B, 1], target(xs, n * B)),
  };
}

function mlpParams(dtype: FloatDType): ParamSpec[] {
  const [k1, k2, k3, k4] = split(key(3), 4);
  const u = (k: typeof k1, n: number, fanIn: number) =>
    uniform(k, new Float64Array(n), -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
  return [
    { name: "w1", init: tensor(dtype, [D, H], u(k1, D * H, D)) },
    { name: "b1", init: tensor(dtype, [H], u(k2, H, D)) },
    { name: "w2", init: tensor(dtype, [H, 1], u(k3, H, H)) },
    { name: "b2", init: tensor(dtype, [1], u(k4, 1, H)), group: 1 },
  ];
}

function mlp(g: Graph, p: Record<string, Value>, x: Value): Value {
  const { op } = g;
  return op.Gemm(op.Relu(op.Gemm(x, p.w1, p.b1)), p.w2, p.b2);
}

function mse(g: Graph, pred: Value, y: Value): Value {
  const d = g.op.Sub(pred, y);
  return g.op.ReduceMean(g.op.ReduceSum(g.op.Mul(d, d), [1], { keepdims: 0 }), {
    axes: [0],
    keepdims: 0,
  });
}

function spec(dtype: FloatDType, opt = adamw(), totalSteps = 400): TrainProgramSpec {
  return {
    dtype,
    params: mlpParams(dtype),
    groups: 2,
    batch: [
      { kind: "fed", name: "x", dtype, dims: [B, D] },
      { kind: "fed", name: "y", dtype, dims: [B, 1] },
    ],
    loss: (g, p, b) => mse(g, mlp(g, p, b.x), b.y),
    optimizer: opt,
    schedule: { schedule: { kind: "cosine", per: "epoch", totalSteps, stepsPerEpoch: 20 } },
  };
}

function assertSameBytes(a: HostTensor, b: HostTensor, what: string) {
  assert.deepEqual(
    new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength),
    new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength),
    `${what} differs`,
  );
}

Deno.test("N steps in one Loop call equal N single-step calls (bit for bit)", async () => {
  for (const dtype of ["float32", "float64"] as const) {
    const one = await Trainer.create(spec(dtype), { lrs: [0.01, 0.02], threads: 1 });
    const many = await Trainer.create(spec(dtype), { lrs: [0.01, 0.02], threads: 1 });
    const lossesLoop = await many.run(6, batches(dtype, 0, 6));
    const lossesSingle: number[] = [];
    for (let s = 0; s < 6; s++) lossesSingle.push(...await one.run(1, batches(dtype, s, 1)));
    assert.deepEqual(Array.from(lossesLoop), lossesSingle);
    assert.equal(many.state.step, 6);
    for (const name of Object.keys(one.state.params)) {
      assertSameBytes(one.state.params[name], many.state.params[name], `${dtype} ${name}`);
    }
    for (const name of Object.keys(one.state.opt)) {
      assertSameBytes(one.state.opt[name], many.state.opt[name], `${dtype} opt ${name}`);
    }
    await one.release();
    await many.release();
  }
});

Deno.test("a small MLP regression trained through the pipeline cuts its loss 100x", async () => {
  const STEPS = 3000;
  const t = await Trainer.create(spec("float32", adamw(), STEPS), {
    lrs: [0.01, 0.01],
    threads: 2,
  });
  const ev = await Evaluator.create({
    dtype: "float32",
    params: mlpParams("float32"),
    batch: [
      { name: "x", dtype: "float32", dims: ["batch", D] },
      { name: "y", dtype: "float32", dims: ["batch", 1] },
    ],
    metrics: (g, p, b) => ({ loss: mse(g, mlp(g, p, b.x), b.y) }),
  });
  const test = batches("float64", 100_000, 1);
  const feed = {
    x: tensor("float32", [B, D], test.x.data as Float64Array),
    y: tensor("float32", [B, 1], test.y.data as Float64Array),
  };
  const before = (await ev.run(t.state.params, feed)).loss.data[0] as number;
  for (let s = 0; s < STEPS; s += 500) await t.run(500, batches("float32", s, 500));
  const after = (await ev.run(t.state.params, feed)).loss.data[0] as number;
  assert.ok(before / after >= 100, `loss went ${before} -> ${after} (only ${before / after}x)`);
  await t.release();
  await ev.release();
});

Deno.test("checkpoint: a reloaded run continues bit-identically", async () => {
  const dir = await Deno.makeTempDir();
  const a = await Trainer.create(spec("float32", sgd({ momentum: 0.9 })), {
    lrs: [0.05, 0.05],
    threads: 1,
  });
  await a.run(5, batches("float32", 0, 5));
  await a.save(`${dir}/ck.bin`, { note: "test" });
  const lossesA = await a.run(5, batches("float32", 5, 5));

  const b = await Trainer.create(spec("float32", sgd({ momentum: 0.9 })), {
    lrs: [1, 1],
    threads: 1,
  });
  await b.load(`${dir}/ck.bin`);
  assert.equal(b.state.step, 5);
  assert.deepEqual(b.state.lrs, [0.05, 0.05]);
  assert.deepEqual(b.state.meta, { note: "test" });
  const lossesB = await b.run(5, batches("float32", 5, 5));
  assert.deepEqual(Array.from(lossesB), Array.from(lossesA));
  for (const name of Object.keys(a.state.params)) {
    assertSameBytes(a.state.params[name], b.state.params[name], name);
  }
  await a.release();
  await b.release();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("in-graph RandomNormal batches train too", async () => {
  // Learn y = x·w* from x drawn inside the graph; the target is computed in the graph.
  const wStar = tensor("float32", [D, 1], [1, -2, 0.5, 3]);
  const t = await Trainer.create({
    dtype: "float32",
    params: [{ name: "w", init: tensor("float32", [D, 1]) }],
    batch: [{ kind: "normal", name: "x", dims: [B, D], seed: 5 }],
    loss: (g, p, b) => mse(g, g.op.MatMul(b.x, p.w), g.op.MatMul(b.x, g.constant(wStar))),
    optimizer: adamw({ weightDecay: 0 }),
    schedule: { schedule: { kind: "constant" } },
  }, { lrs: [0.05], threads: 1 });
  const losses = await t.run(300);
  assert.ok(losses[299] < losses[0] * 1e-3, `loss ${losses[0]} -> ${losses[299]}`);
  await t.release();
});

Deno.test("bad input: unknown execution provider, cuda without libraries, bad lrs/steps", async () => {
  const g = new G("t");
  g.output(g.op.Neg(g.input("x", "float32", [1])), "y");
  const model = encodeModel(g);
  await assert.rejects(
    () => Session.create(model, { ep: "tpu" as "cpu" }),
    /ep: unknown execution provider 'tpu' \(allowed: cpu, cuda\)/,
  );
  await assert.rejects(
    () => Session.create(model, { ep: "cuda" }),
    /ep: cuda requested but onnxruntime-node's CUDA libraries are not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12 deno install --allow-scripts=npm:onnxruntime-node/,
  );
  await assert.rejects(() => Trainer.create(spec("float32"), { lrs: [0.1] }), /lrs: need 2/);
  const t = await Trainer.create(spec("float32"), { lrs: [0.1, 0.1] });
  await assert.rejects(() => t.run(0), /steps: must be a positive integer/);
  await assert.rejects(() => t.run(2, batches("float32", 0, 3)), /leading dim must be steps/);
  await t.release();
});
