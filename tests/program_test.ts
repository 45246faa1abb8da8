/**
 * The training program's conventions beyond the update rules: a parameter the loss does not
 * depend on is not updated at all (torch: its grad is None, so torch.optim.AdamW and SGD skip it,
 * weight decay included), and non-trainable carried state advances only through `updates`.
 */
import assert from "node:assert/strict";
import type { FloatDType } from "../lib/graph/dtype.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { moeConfig } from "../lib/nn/config.ts";
import { initMoe } from "../lib/nn/init.ts";
import { moeForward } from "../lib/nn/moe.ts";
import { adamw } from "../lib/optim/adamw.ts";
import type { Optimizer } from "../lib/optim/optimizer.ts";
import { adamwInitRef, adamwStepRef } from "../lib/optim/reference.ts";
import { sgd } from "../lib/optim/sgd.ts";
import { foldIn, key, normal } from "../lib/random/prng.ts";
import type { TrainProgramSpec } from "../lib/train/program.ts";
import { Trainer } from "../lib/train/trainer.ts";

const B = 8;
const D = 3;

function xs(dtype: FloatDType, n: number): HostTensor {
  return tensor(dtype, [n, B, D], normal(foldIn(key(5), "x"), new Float64Array(n * B * D)));
}

function nums(t: HostTensor): number[] {
  return Array.from(t.data as Float32Array | Float64Array);
}

function same(a: HostTensor, b: HostTensor): boolean {
  return a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i]));
}

Deno.test("a parameter the loss does not depend on is not updated (AdamW and SGD, weight decay on)", async () => {
  const dtype = "float64";
  const w = tensor(dtype, [D, 1], [0.5, -1, 2]);
  const unused = tensor(dtype, [2, 2], [1, 2, 3, 4]);
  const optimizers: [string, Optimizer][] = [
    ["adamw", adamw({ weightDecay: 0.1 })],
    ["sgd", sgd({ weightDecay: 0.1, momentum: 0.9 })],
  ];
  for (const [name, optimizer] of optimizers) {
    const spec: TrainProgramSpec = {
      dtype,
      params: [{ name: "w", init: w }, { name: "unused", init: unused }],
      batch: [{ kind: "fed", name: "x", dtype, dims: [B, D] }],
      loss: (g, p, b) => g.op.ReduceSumSquare(g.op.MatMul(b.x, p.w), { keepdims: 0 }),
      optimizer,
      schedule: { schedule: { kind: "constant" } },
    };
    const t = await Trainer.create(spec, { lrs: [0.05], threads: 1 });
    await t.run(4, { x: xs(dtype, 4) });
    assert.ok(same(t.state.params.unused, unused), `${name}: the unused parameter changed`);
    for (const [k, s] of Object.entries(t.state.opt)) {
      if (k.startsWith("unused.")) assert.ok(s.data.every((v) => v === 0), `${name}: ${k}`);
    }
    assert.ok(!same(t.state.params.w, w), `${name}: the used parameter must train`);
    await t.release();
  }
});

Deno.test("equal gate: the router is left as it is (torch.optim.AdamW), the experts follow AdamW", async () => {
  // With `equal` gates the output does not depend on router.weight's values (only on which
  // experts are selected, a piecewise-constant choice): its gradient is None in torch, so
  // AdamW's decoupled weight decay must not shrink it by (1 - lr wd) per step.
  const dtype = "float64";
  const cfg = moeConfig({ m: 4, k: 2, w: 3, dIn: D, dOut: 1, gate: "equal" });
  const init = initMoe(cfg, key(11), { dtype });
  const lr = 0.01;
  const weightDecay = 0.1;
  const spec: TrainProgramSpec = {
    dtype,
    params: [...init].map(([name, t]) => ({ name, init: t })),
    batch: [{ kind: "fed", name: "x", dtype, dims: [B, D] }],
    loss: (g, p, b) => {
      const y = moeForward(g, cfg, p, b.x).y;
      return g.op.Mul(g.op.ReduceSumSquare(g.op.Sub(y, 1), { keepdims: 0 }), 1 / B);
    },
    optimizer: adamw({ weightDecay }),
    schedule: { schedule: { kind: "constant" } },
  };
  const t = await Trainer.create(spec, { lrs: [lr], threads: 1 });
  const steps = 3;
  await t.run(steps, { x: xs(dtype, steps) });
  const router = t.state.params["moe0.router.weight"];
  assert.ok(same(router, init.get("moe0.router.weight")!), "router.weight changed");
  assert.ok(!same(t.state.params["moe0.experts.w2"], init.get("moe0.experts.w2")!));
  // What the old convention did instead (a zero gradient still decays): visibly different.
  const p = Float64Array.from(nums(init.get("moe0.router.weight")!));
  const st = adamwInitRef(p.length);
  for (let s = 0; s < steps; s++) {
    adamwStepRef(p, new Float64Array(p.length), st, lr, { weightDecay });
  }
  assert.ok(
    p.every((v, i) => Math.abs(v - nums(router)[i] * (1 - lr * weightDecay) ** steps) < 1e-15),
  );
  assert.ok(!same(tensor(dtype, router.dims, p), router));
  await t.release();
});

Deno.test("non-trainable carried state advances through `updates` only, and has no optimizer state", async () => {
  const dtype = "float32";
  const spec: TrainProgramSpec = {
    dtype,
    params: [
      { name: "w", init: tensor(dtype, [D, 1], [1, 1, 1]) },
      // A running count of steps and a constant: no gradient reaches either.
      { name: "count", init: tensor(dtype, [1], [0]), trainable: false },
      { name: "fixed", init: tensor(dtype, [], [3]), trainable: false },
    ],
    batch: [{ kind: "fed", name: "x", dtype, dims: [B, D] }],
    loss: (g, p, b) => ({
      // The loss reads `fixed`, yet it is not trained.
      loss: g.op.Mul(g.op.ReduceSumSquare(g.op.MatMul(b.x, p.w), { keepdims: 0 }), p.fixed),
      updates: { count: g.op.Add(p.count, 1) },
    }),
    optimizer: adamw(),
    schedule: { schedule: { kind: "constant" } },
  };
  const t = await Trainer.create(spec, { lrs: [0.01], threads: 1 });
  assert.deepEqual(Object.keys(t.state.opt).sort(), ["w.exp_avg_scaled", "w.exp_avg_sq_scaled"]);
  await t.run(5, { x: xs(dtype, 5) });
  assert.deepEqual(nums(t.state.params.count), [5]);
  assert.deepEqual(nums(t.state.params.fixed), [3]);
  await t.release();

  await assert.rejects(
    Trainer.create({
      ...spec,
      loss: (g, p, b) => ({
        loss: g.op.ReduceSumSquare(g.op.MatMul(b.x, p.w), { keepdims: 0 }),
        updates: { w: p.w },
      }),
    }, { lrs: [0.01] }),
    /^Error: updates\.w: not a non-trainable parameter of the program$/,
  );
});
