/**
 * In-graph optimizers and lr schedules against plain-TypeScript transcriptions of torch
 * (lib/optim/reference.ts) and against hand-computed torch scheduler values. Every optimizer
 * case runs N = 20 steps inside ONE onnxruntime run (a Loop that Gathers step i's gradient
 * from a fed [N, ...] stack), in float64 and float32.
 */
import assert from "node:assert/strict";
import { Graph, type Value } from "../lib/graph/builder.ts";
import type { FloatDType } from "../lib/graph/dtype.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, scalar, tensor } from "../lib/graph/tensor.ts";
import { foldIn, key, normal } from "../lib/random/prng.ts";
import { Session } from "../lib/runtime/session.ts";
import {
  adamw,
  type AdamWOptions,
  adamwTorchState,
  groupLr,
  groupLrsFeed,
  groupLrsInput,
  lrAt,
  type Optimizer,
  optimizerStep,
  resolveAdamW,
  scheduledLr,
  type ScheduleSpec,
  sgd,
  type SgdOptions,
} from "../lib/optim/mod.ts";
import { adamwInitRef, adamwStepRef, sgdInitRef, sgdStepRef } from "../lib/optim/reference.ts";

const SHAPE = [3, 5];
const NUMEL = 15;
const STEPS = 20;

/**
 * |got - want| <= rtol * |want| + stol * max|want| (stol: relative to the tensor's scale).
 * float64: the graph folds scalars differently from torch's op order (see adamw.ts), so it
 * agrees with the reference to ~1e-15 per element; 1e-10 leaves headroom and still catches
 * any formula slip. float32 against the float64 reference: 20 steps of float32 rounding gave
 * at worst 6e-7 of the tensor's largest magnitude (a few ulps), so the bound is 2e-6 of it;
 * per-element relative bounds do not work there (elements near zero after cancellation).
 */
interface Tol {
  rtol: number;
  stol: number;
}
const TOL: Record<FloatDType, Tol> = {
  float64: { rtol: 1e-10, stol: 0 },
  float32: { rtol: 0, stol: 2e-6 },
};

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    if (!(err <= tol.rtol * Math.abs(e) + tol.stol * scale)) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (|err| ${err}, scale ${scale})`);
    }
  }
}

/** Values as the graph sees them: float32 feeds are rounded, so the reference starts there too. */
function asDtype(dtype: FloatDType, xs: Float64Array): Float64Array {
  return dtype === "float32" ? Float64Array.from(Float32Array.from(xs)) : xs;
}

function f64(t: HostTensor): Float64Array {
  return Float64Array.from(t.data as ArrayLike<number>);
}

/** Random parameters and gradients; column 4 of the gradients is tiny so eps matters. */
function problem(dtype: FloatDType, seed: number): { p0: Float64Array; grads: Float64Array[] } {
  const k = key(seed);
  const p0 = asDtype(dtype, normal(foldIn(k, "param"), new Float64Array(NUMEL)));
  const grads = Array.from({ length: STEPS }, (_, s) => {
    const g = normal(foldIn(k, s), new Float64Array(NUMEL));
    for (let i = 4; i < NUMEL; i += 5) g[i] *= 1e-7;
    return asDtype(dtype, g);
  });
  return { p0, grads };
}

interface Trainer {
  session: Session;
  keys: string[];
  dtype: FloatDType;
  steps: number;
}

/** A graph running `steps` optimizer steps in one Loop; lr is scheduled in-graph when `spec`. */
async function buildTrainer(
  opt: Optimizer,
  dtype: FloatDType,
  steps: number,
  spec?: ScheduleSpec,
): Promise<Trainer> {
  const g = new Graph(`optim_${opt.name}`);
  const param = g.input("param", dtype, SHAPE);
  const grads = g.input("grads", dtype, [steps, ...SHAPE]);
  const keys = Object.keys(opt.initState(tensor(dtype, SHAPE)));
  const states = keys.map((k) => g.input(`state_${k}`, dtype, SHAPE));
  const baseLr = g.input("lr", dtype, []);
  const step0 = g.input("step0", "int64", []);
  const outs = g.loop(steps, [param, ...states], (body, iter, carried) => {
    const { op } = body;
    const globalStep = op.Add(step0, iter);
    const lr = spec ? scheduledLr(body, spec, baseLr, globalStep) : baseLr;
    const ctx = { lr, step: optimizerStep(body, globalStep, dtype) };
    const state = Object.fromEntries(keys.map((k, i) => [k, carried[i + 1]]));
    const r = opt.update(body, carried[0], op.Gather(grads, iter), state, ctx);
    return { carried: [r.param, ...keys.map((k) => r.state[k])], scans: [lr] };
  });
  g.output(outs[0], "param_out");
  keys.forEach((k, i) => g.output(outs[i + 1], `${k}_out`));
  g.output(outs[keys.length + 1], "lr_out");
  return { session: await Session.create(encodeModel(g), { threads: 1 }), keys, dtype, steps };
}

interface RunResult {
  param: Float64Array;
  state: Record<string, Float64Array>;
  lrs: Float64Array;
}

async function runTrainer(
  t: Trainer,
  p: Float64Array,
  grads: Float64Array[],
  state: Record<string, Float64Array>,
  lr: number,
  step0: number,
): Promise<RunResult> {
  assert.equal(grads.length, t.steps);
  const stacked = new Float64Array(t.steps * NUMEL);
  grads.forEach((g, i) => stacked.set(g, i * NUMEL));
  const feeds: Record<string, HostTensor> = {
    param: tensor(t.dtype, SHAPE, p),
    grads: tensor(t.dtype, [t.steps, ...SHAPE], stacked),
    lr: scalar(t.dtype, lr),
    step0: scalar("int64", BigInt(step0)),
  };
  for (const k of t.keys) feeds[`state_${k}`] = tensor(t.dtype, SHAPE, state[k]);
  const out = await t.session.run(feeds);
  return {
    param: f64(out.param_out),
    state: Object.fromEntries(t.keys.map((k) => [k, f64(out[`${k}_out`])])),
    lrs: f64(out.lr_out),
  };
}

/** The torch-transcribed reference, behind one interface for both optimizers. */
interface RefOpt {
  step(p: Float64Array, g: Float64Array, lr: number): void;
  state(): Record<string, Float64Array>;
}

function adamwRef(opts: AdamWOptions): RefOpt {
  const st = adamwInitRef(NUMEL);
  return {
    step: (p, g, lr) => adamwStepRef(p, g, st, lr, opts),
    // Ours keeps the moments without torch's (1 - beta) factors (see adamw.ts).
    state: () => {
      const [b1, b2] = resolveAdamW(opts).betas;
      return {
        exp_avg_scaled: st.exp_avg.map((x) => x / (1 - b1)),
        exp_avg_sq_scaled: st.exp_avg_sq.map((x) => x / (1 - b2)),
      };
    },
  };
}

function sgdRef(opts: SgdOptions): RefOpt {
  const st = sgdInitRef();
  return {
    step: (p, g, lr) => sgdStepRef(p, g, st, lr, opts),
    state: () =>
      opts.momentum
        ? { momentum_buffer: st.momentum_buffer ?? new Float64Array(NUMEL) }
        : ({} as Record<string, Float64Array>),
  };
}

function runReference(
  ref: RefOpt,
  p0: Float64Array,
  grads: Float64Array[],
  lr: number,
  spec: ScheduleSpec | undefined,
): RunResult {
  const p = Float64Array.from(p0);
  const lrs = grads.map((g, s) => {
    const lrNow = spec ? lrAt(spec, lr, s) : lr;
    ref.step(p, g, lrNow);
    return lrNow;
  });
  return { param: p, state: ref.state(), lrs: Float64Array.from(lrs) };
}

interface Case {
  name: string;
  opt: () => Optimizer;
  ref: () => RefOpt;
  lr: number;
  spec?: ScheduleSpec;
}

const CASES: Case[] = [
  { name: "adamw defaults", opt: () => adamw(), ref: () => adamwRef({}), lr: 1e-2 },
  {
    name: "adamw wd 0, betas (0.8, 0.99), eps 1e-6",
    opt: () => adamw({ weightDecay: 0, betas: [0.8, 0.99], eps: 1e-6 }),
    ref: () => adamwRef({ weightDecay: 0, betas: [0.8, 0.99], eps: 1e-6 }),
    lr: 3e-2,
  },
  {
    // beta1 <= 0.5 takes the other branch of torch's lerp.
    name: "adamw betas (0.3, 0.9), wd 0.1",
    opt: () => adamw({ betas: [0.3, 0.9], weightDecay: 0.1 }),
    ref: () => adamwRef({ betas: [0.3, 0.9], weightDecay: 0.1 }),
    lr: 1e-1,
  },
  {
    name: "adamw + cosine per step + warm-up",
    opt: () => adamw(),
    ref: () => adamwRef({}),
    lr: 1e-2,
    spec: { schedule: { kind: "cosine", per: "step", totalSteps: STEPS }, warmupSteps: 5 },
  },
  { name: "sgd plain", opt: () => sgd(), ref: () => sgdRef({}), lr: 0.1 },
  {
    name: "sgd momentum",
    opt: () => sgd({ momentum: 0.9 }),
    ref: () => sgdRef({ momentum: 0.9 }),
    lr: 0.05,
  },
  {
    name: "sgd nesterov",
    opt: () => sgd({ momentum: 0.9, nesterov: true }),
    ref: () => sgdRef({ momentum: 0.9, nesterov: true }),
    lr: 0.05,
  },
  {
    name: "sgd momentum + dampening",
    opt: () => sgd({ momentum: 0.9, dampening: 0.5 }),
    ref: () => sgdRef({ momentum: 0.9, dampening: 0.5 }),
    lr: 0.05,
  },
  {
    name: "sgd weight decay (no momentum)",
    opt: () => sgd({ weightDecay: 0.05 }),
    ref: () => sgdRef({ weightDecay: 0.05 }),
    lr: 0.1,
  },
  {
    // Past T_max (18 < 20 steps) the closed form keeps going, as torch's does.
    name: "sgd momentum + weight decay + cosine per epoch",
    opt: () => sgd({ momentum: 0.8, weightDecay: 0.05 }),
    ref: () => sgdRef({ momentum: 0.8, weightDecay: 0.05 }),
    lr: 0.1,
    spec: {
      schedule: { kind: "cosine", per: "epoch", totalSteps: 18, stepsPerEpoch: 3, etaMin: 1e-3 },
    },
  },
];

for (const dtype of ["float64", "float32"] as const) {
  Deno.test(`optim: ${STEPS} in-graph steps match torch's rules (${dtype})`, async (t) => {
    for (const [ci, c] of CASES.entries()) {
      await t.step(c.name, async () => {
        const opt = c.opt();
        const { p0, grads } = problem(dtype, 100 + ci);
        const trainer = await buildTrainer(opt, dtype, STEPS, c.spec);
        const init = Object.fromEntries(
          Object.entries(opt.initState(tensor(dtype, SHAPE))).map(([k, v]) => [k, f64(v)]),
        );
        const got = await runTrainer(trainer, p0, grads, init, c.lr, 0);
        const want = runReference(c.ref(), p0, grads, c.lr, c.spec);
        // The parameter must have moved, or agreement would prove nothing.
        assert.ok(want.param.some((x, i) => Math.abs(x - p0[i]) > 1e-3), "param moved");
        assertClose(got.param, want.param, TOL[dtype], "param");
        assert.deepEqual(Object.keys(got.state).sort(), Object.keys(want.state).sort());
        for (const k of Object.keys(want.state)) {
          assertClose(got.state[k], want.state[k], TOL[dtype], k);
        }
        assertClose(got.lrs, want.lrs, TOL[dtype], "lr");
        await trainer.session.release();
      });
    }
  });
}

Deno.test("optim: state carried across run() calls continues the same trajectory", async () => {
  // Two runs of 10 steps (step0 = 0, then 10, state fed back) == 20 reference steps.
  const dtype = "float64";
  const spec: ScheduleSpec = {
    schedule: { kind: "cosine", per: "epoch", totalSteps: 20, stepsPerEpoch: 4 },
    warmupSteps: 6,
  };
  for (
    const [name, opt, ref] of [
      ["adamw", adamw(), adamwRef({})],
      ["sgd", sgd({ momentum: 0.9, dampening: 0.3 }), sgdRef({ momentum: 0.9, dampening: 0.3 })],
    ] as const
  ) {
    const { p0, grads } = problem(dtype, 7);
    const trainer = await buildTrainer(opt, dtype, 10, spec);
    const init = Object.fromEntries(
      Object.entries(opt.initState(tensor(dtype, SHAPE))).map(([k, v]) => [k, f64(v)]),
    );
    const a = await runTrainer(trainer, p0, grads.slice(0, 10), init, 0.05, 0);
    const b = await runTrainer(trainer, a.param, grads.slice(10), a.state, 0.05, 10);
    const want = runReference(ref, p0, grads, 0.05, spec);
    assertClose(b.param, want.param, TOL.float64, `${name} param`);
    for (const k of Object.keys(want.state)) {
      assertClose(b.state[k], want.state[k], TOL.float64, `${name} ${k}`);
    }
    assertClose([...a.lrs, ...b.lrs], want.lrs, TOL.float64, `${name} lr`);
    await trainer.session.release();
  }
});

Deno.test("optim: sgd's first step ignores an incoming momentum buffer, as torch's", async () => {
  // torch has no buffer before step 1 and sets buf = d there; any finite buffer fed at t = 1
  // must be dropped (with or without dampening).
  for (const opts of [{ momentum: 0.9 }, { momentum: 0.9, dampening: 0.4 }]) {
    const dtype = "float64";
    const { p0, grads } = problem(dtype, 11);
    const trainer = await buildTrainer(sgd(opts), dtype, STEPS);
    const junk = normal(key(5), new Float64Array(NUMEL), 0, 3);
    const got = await runTrainer(trainer, p0, grads, { momentum_buffer: junk }, 0.05, 0);
    const want = runReference(sgdRef(opts), p0, grads, 0.05, undefined);
    assertClose(got.param, want.param, TOL.float64, `dampening ${opts.dampening ?? 0}: param`);
    assertClose(
      got.state.momentum_buffer,
      want.state.momentum_buffer,
      TOL.float64,
      "momentum_buffer",
    );
    await trainer.session.release();
  }
});

/** Nodes `update` appends: [all, full-size (output rank > 0)]. */
function countUpdateNodes(
  g: Graph,
  opt: Optimizer,
  param: Value,
  ctx: { lr: Value; step: Value },
): [number, number] {
  const before = g.nodes.length;
  const grad = g.input(g.freshName("grad"), param.dtype, SHAPE);
  const state = Object.fromEntries(
    Object.keys(opt.initState(tensor(param.dtype, SHAPE))).map((k) => [
      k,
      g.input(g.freshName(k), param.dtype, SHAPE),
    ]),
  );
  opt.update(g, param, grad, state, ctx);
  const added = g.nodes.slice(before);
  return [added.length, added.filter((n) => n.outputs.some((o) => (o.rank ?? 1) > 0)).length];
}

Deno.test("optim: full-size ops per parameter are minimal and scalars are shared", () => {
  const expected: [string, () => Optimizer, number][] = [
    ["adamw defaults", () => adamw(), 11],
    ["adamw wd 0", () => adamw({ weightDecay: 0 }), 10],
    ["adamw beta1 0.3", () => adamw({ betas: [0.3, 0.9] }), 11],
    ["sgd plain", () => sgd(), 2],
    ["sgd weight decay", () => sgd({ weightDecay: 0.1 }), 4],
    ["sgd momentum", () => sgd({ momentum: 0.9 }), 4],
    ["sgd dampening", () => sgd({ momentum: 0.9, dampening: 0.1 }), 5],
    ["sgd nesterov", () => sgd({ momentum: 0.9, nesterov: true }), 6],
  ];
  for (const [name, make, full] of expected) {
    for (const dtype of ["float32", "float64"] as const) {
      const g = new Graph("count");
      const ctx = { lr: g.input("lr", dtype, []), step: g.input("t", dtype, []) };
      const opt = make();
      const [, first] = countUpdateNodes(g, opt, g.input("p1", dtype, SHAPE), ctx);
      assert.equal(first, full, `${name} (${dtype}): full-size ops`);
      // A second parameter with the same ctx adds only its full-size ops.
      const [all2, full2] = countUpdateNodes(g, opt, g.input("p2", dtype, SHAPE), ctx);
      assert.equal(full2, full, `${name} (${dtype}): second param full-size ops`);
      assert.equal(all2, full, `${name} (${dtype}): second param rebuilt scalars`);
    }
  }
});

/** scheduledLr evaluated in-graph for steps step0 .. step0+K-1 on per-group base lrs [G]. */
async function graphLrs(
  spec: ScheduleSpec,
  dtype: FloatDType,
  bases: number[],
  step0: number,
  k: number,
): Promise<{ all: Float64Array; group1: Float64Array }> {
  const g = new Graph("sched");
  const lrs = groupLrsInput(g, dtype, bases.length);
  const s0 = g.input("step0", "int64", []);
  const [all, one] = g.loop(k, [], (body, iter) => {
    const now = scheduledLr(body, spec, lrs, body.op.Add(s0, iter));
    return { carried: [], scans: [now, groupLr(body, now, 1)] };
  });
  g.output(all, "all");
  g.output(one, "group1");
  const session = await Session.create(encodeModel(g), { threads: 1 });
  const out = await session.run({
    lrs: groupLrsFeed(dtype, bases),
    step0: scalar("int64", BigInt(step0)),
  });
  await session.release();
  assert.deepEqual(out.all.dims, [k, bases.length]);
  return { all: f64(out.all), group1: f64(out.group1) };
}

const SPECS: [string, ScheduleSpec][] = [
  ["constant", { schedule: { kind: "constant" } }],
  ["constant + warm-up", { schedule: { kind: "constant" }, warmupSteps: 7 }],
  ["cosine per step", { schedule: { kind: "cosine", per: "step", totalSteps: 20, etaMin: 1e-4 } }],
  [
    "cosine per epoch",
    { schedule: { kind: "cosine", per: "epoch", totalSteps: 12, stepsPerEpoch: 3 } },
  ],
  [
    "cosine per epoch + warm-up",
    {
      schedule: { kind: "cosine", per: "epoch", totalSteps: 30, stepsPerEpoch: 5, etaMin: 1e-3 },
      warmupSteps: 8,
    },
  ],
];

for (const dtype of ["float64", "float32"] as const) {
  Deno.test(`schedule: in-graph lr equals lrAt, per group (${dtype})`, async () => {
    const bases = [1e-2, 1e-3, 0.5];
    const k = 25, step0 = 3;
    // float32: lrAt's float64 value rounded once (plus at most an ulp from float32 base lrs).
    const tol = { rtol: dtype === "float64" ? 1e-14 : 2e-7, stol: 0 };
    for (const [name, spec] of SPECS) {
      const got = await graphLrs(spec, dtype, bases, step0, k);
      const want = new Float64Array(k * bases.length);
      for (let s = 0; s < k; s++) {
        bases.forEach((b, j) => {
          want[s * bases.length + j] = lrAt(spec, asDtype(dtype, Float64Array.of(b))[0], s + step0);
        });
      }
      assertClose(got.all, want, tol, `${name} all groups`);
      assertClose(got.group1, want.filter((_, i) => i % 3 === 1), tol, `${name} group 1`);
    }
  });
}

Deno.test("schedule: lrAt equals torch's scheduler values", () => {
  // Torch's own numbers: CosineAnnealingLR(opt(lr=base), T_max, eta_min) in its default
  // (recursive) form; get_last_lr() after k scheduler.step() calls. With per "epoch" the
  // scheduler steps once every stepsPerEpoch optimizer steps.
  const near = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-12 * Math.abs(b) + 1e-17, `${what}: got ${a}, torch ${b}`);
  const torchTmax4 = [0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.0];
  const perEpoch: ScheduleSpec = {
    schedule: { kind: "cosine", per: "epoch", totalSteps: 12, stepsPerEpoch: 3 },
  };
  for (let step = 0; step <= 12; step++) {
    near(lrAt(perEpoch, 0.1, step), torchTmax4[Math.floor(step / 3)], `per epoch step ${step}`);
  }
  const torchEta = [
    0.1,
    0.08681980515339464,
    0.05500000000000001,
    0.023180194846605363,
    0.01,
    0.023180194846605363,
    0.05500000000000002,
    0.08681980515339469,
    0.10000000000000006,
  ];
  const perStep: ScheduleSpec = {
    schedule: { kind: "cosine", per: "step", totalSteps: 4, etaMin: 0.01 },
  };
  torchEta.forEach((v, step) => near(lrAt(perStep, 0.1, step), v, `per step ${step}`));
  // The paper's setting: 100 epochs; lr 1e-2 at epochs 0, 25, 50, 75, 100.
  const paper: ScheduleSpec = {
    schedule: { kind: "cosine", per: "epoch", totalSteps: 12800, stepsPerEpoch: 128 },
  };
  const torchPaper = [0.01, 0.008535533905932738, 0.005000000000000004, 0.0014644660940672635, 0];
  torchPaper.forEach((v, i) => {
    near(lrAt(paper, 1e-2, i * 25 * 128), v, `paper epoch ${i * 25}`);
    near(lrAt(paper, 1e-2, i * 25 * 128 + 127), v, `paper epoch ${i * 25}, last step`);
  });
  // Linear warm-up: lr * min(1, (step + 1) / warmupSteps).
  const warm: ScheduleSpec = { schedule: { kind: "constant" }, warmupSteps: 5 };
  [0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.1].forEach((v, step) =>
    near(lrAt(warm, 0.1, step), v, `warm-up step ${step}`)
  );
  // Warm-up scales the cosine value: step 1 of per-step T_max 4 with 2 warm-up steps.
  near(
    lrAt({ ...perStep, warmupSteps: 4 }, 0.1, 1),
    0.08681980515339464 * 0.5,
    "warm-up x cosine",
  );
});

Deno.test("optim: invalid options and specs throw one-line errors naming the field", () => {
  const bad: [() => unknown, RegExp][] = [
    [
      () => lrAt({ schedule: { kind: "linear" } } as never, 1, 0),
      /^schedule\.kind: .*constant, cosine/,
    ],
    [
      () => lrAt({ schedule: { kind: "cosine", per: "batch", totalSteps: 10 } } as never, 1, 0),
      /^schedule\.per: .*step, epoch/,
    ],
    [
      () => lrAt({ schedule: { kind: "cosine", per: "step", totalSteps: 0 } }, 1, 0),
      /^schedule\.totalSteps: must be an integer > 0/,
    ],
    [
      () => lrAt({ schedule: { kind: "cosine", per: "epoch", totalSteps: 10 } }, 1, 0),
      /^schedule\.stepsPerEpoch: .*required for per "epoch"/,
    ],
    [
      () =>
        lrAt(
          { schedule: { kind: "cosine", per: "epoch", totalSteps: 10, stepsPerEpoch: 3 } },
          1,
          0,
        ),
      /^schedule\.totalSteps: must be a multiple of stepsPerEpoch/,
    ],
    [
      () => lrAt({ schedule: { kind: "cosine", per: "step", totalSteps: 5, etaMin: -1 } }, 1, 0),
      /^schedule\.etaMin: must be a number >= 0/,
    ],
    [
      () => lrAt({ schedule: { kind: "constant" }, warmupSteps: 1.5 }, 1, 0),
      /^warmupSteps: must be an integer >= 0/,
    ],
    [
      () => lrAt({ schedule: { kind: "constant" }, warmup: 3 } as never, 1, 0),
      /^schedule spec: unknown option 'warmup' \(allowed: schedule, warmupSteps\)/,
    ],
    [() => lrAt({ schedule: { kind: "constant" } }, 1, -1), /^lrAt\.step: must be an integer >= 0/],
    [() => adamw({ betas: [0.9, 1] }), /^adamw\.betas\[1\]: must be a number in \[0, 1\)/],
    [() => adamw({ betas: [0.9] as never }), /^adamw\.betas: must be two numbers/],
    [() => adamw({ eps: -1 }), /^adamw\.eps: must be a number >= 0/],
    [() => adamw({ weightDecay: NaN }), /^adamw\.weightDecay: must be a number >= 0/],
    [
      () => adamw({ lr: 1 } as never),
      /^adamw: unknown option 'lr' \(allowed: betas, eps, weightDecay\)/,
    ],
    [() => sgd({ momentum: -0.1 }), /^sgd\.momentum: must be a number >= 0/],
    [() => sgd({ nesterov: true }), /^sgd\.nesterov: needs momentum > 0 and dampening = 0/],
    [
      () => sgd({ nesterov: true, momentum: 0.9, dampening: 0.1 }),
      /^sgd\.nesterov: needs momentum > 0 and dampening = 0/,
    ],
    [() => groupLrsFeed("float32", [1e-3, -1]), /^lrs\[1\]: must be a number >= 0/],
  ];
  for (const [fn, re] of bad) {
    assert.throws(fn, (e: Error) => {
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
      return true;
    });
  }
  // Graph-side checks.
  const g = new Graph("bad");
  const lrs = groupLrsInput(g, "float32", 2);
  assert.throws(() => groupLr(g, lrs, 2), /^Error: groupLr\.index: must be an integer in \[0, 1\]/);
  const p = g.input("p", "float32", SHAPE);
  const ctx = { lr: g.input("lr", "float32", []), step: g.input("t", "float32", []) };
  assert.throws(
    () => adamw().update(g, p, g.input("g64", "float64", SHAPE), {}, ctx),
    /adamw\.update: grad 'g64' is float64, expected float32/,
  );
  assert.throws(
    () => adamw().update(g, p, p, { exp_avg: p }, ctx),
    /adamw\.update: state keys are \{exp_avg\}, expected \{exp_avg_scaled, exp_avg_sq_scaled\}/,
  );
  assert.throws(
    () => scheduledLr(g, { schedule: { kind: "constant" }, warmupSteps: 2 }, lrs, ctx.step),
    /scheduledLr: step must be an int64 scalar/,
  );
});

Deno.test("optim: adamwTorchState gives torch's exp_avg and exp_avg_sq", () => {
  const st = {
    exp_avg_scaled: new Float32Array([10, -20]),
    exp_avg_sq_scaled: new Float32Array([1000, 4]),
  };
  const t = adamwTorchState(st, { betas: [0.8, 0.99] });
  assertClose(t.exp_avg, Float64Array.from([2, -4]), { rtol: 1e-6, stol: 0 }, "exp_avg");
  assertClose(t.exp_avg_sq, Float64Array.from([10, 0.04]), { rtol: 1e-6, stol: 0 }, "exp_avg_sq");
  assert.throws(
    () => adamwTorchState({ exp_avg: st.exp_avg_scaled }),
    /state\.exp_avg_scaled: missing/,
  );
});

Deno.test("optim: initState is zeros shaped like the parameter", () => {
  const p = tensor("float32", [2, 3], [1, 2, 3, 4, 5, 6]);
  const a = adamw().initState(p);
  assert.deepEqual(Object.keys(a), ["exp_avg_scaled", "exp_avg_sq_scaled"]);
  for (const t of Object.values(a)) {
    assert.equal(t.dtype, "float32");
    assert.deepEqual(t.dims, [2, 3]);
    assert.ok(Array.from(t.data as Float32Array).every((x) => x === 0));
  }
  assert.deepEqual(Object.keys(sgd().initState(p)), []);
  assert.deepEqual(Object.keys(sgd({ momentum: 0.5 }).initState(p)), ["momentum_buffer"]);
  assert.throws(() => sgd().initState(tensor("int64", [2], [1n, 2n])), /param\.dtype: .*float32/);
});
