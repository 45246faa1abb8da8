/**
 * Executes one RunConfig with the authors' protocol: AdamW, cosine schedule, epochs of fresh
 * samples, a fresh fixed-size test set per epoch, MSE summed over outputs and averaged over
 * the batch. The teacher (or closed-form target) and the student live in one training graph;
 * each onnxruntime run() performs a chunk of steps. Score = min over epochs of
 * test_loss / zero_loss.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";
import { foldIn, key } from "../random/prng.ts";
import { BatchSource, type Chunk } from "../data/batches.ts";
import { BatchPrefetcher } from "../data/prefetch.ts";
import { targetByName } from "../data/targets.ts";
import { moeConfig } from "../nn/config.ts";
import { deepMoeConfig } from "../nn/config.ts";
import { initDeepMoe, initMoe } from "../nn/init.ts";
import { moeForward } from "../nn/moe.ts";
import { deepMoeForward } from "../nn/deep.ts";
import { paramCount, type ParamSet, type ParamValues } from "../nn/params.ts";
import { moeParamShapes } from "../nn/layout.ts";
import { adamw } from "../optim/adamw.ts";
import { lrAt, type ScheduleSpec } from "../optim/schedule.ts";
import { Trainer } from "../train/trainer.ts";
import { Evaluator } from "../train/evaluator.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import type { EpochRow, Executor, GroupExecutor, RunConfig, RunResult } from "../sweep/types.ts";
import { canonicalJson } from "../sweep/runid.ts";
import { loadTeacher } from "./teacher_file.ts";
import { describeModel, type ModelSpec, writeModel } from "../export/onnx_export.ts";
import { runId } from "../sweep/runid.ts";

export interface ExecutorOptions {
  /** onnxruntime intra-op threads (0 = one per physical core). */
  threads?: number;
  ep?: ExecutionProvider;
  /** Upper bound on the fed batch bytes per run() (default 32 MiB). */
  maxChunkBytes?: number;
  /** When set, the training session writes an onnxruntime JSON profile with this prefix. */
  profilePrefix?: string;
  /** onnxruntime intra-op thread spinning (see SessionOptions.spinning). */
  spinning?: boolean;
  /**
   * When set, each run that finishes without diverging writes its trained student as
   * `<saveModelDir>/<run_id>.onnx` (lib/export/onnx_export.ts format, run id = runId(config)),
   * with the parameters after the last epoch (the run's score is its best epoch's).
   */
  saveModelDir?: string;
}

/** A model as the executor sees it: its parameters and a graph builder for its forward. */
interface Model {
  params: ParamSet;
  outDim: number;
  forward(g: Graph, p: ParamValues, x: Value): { y: Value; strategy: string };
}

function studentModel(cfg: RunConfig): Model {
  const dtype = cfg.dtype;
  const k = foldIn(key(cfg.seed), "student");
  // `auto` picks the strategy for training at this batch; the evaluator builds the same one.
  const cost = { training: true, batch: cfg.train.batch };
  if (cfg.model.kind === "moe") {
    const c = moeConfig(cfg.model.layer);
    const params = initMoe(c, k, { scheme: cfg.model.init, dtype });
    return { params, outDim: c.dOut, forward: (g, p, x) => moeForward(g, c, p, x, { cost }) };
  }
  const c = deepMoeConfig(cfg.model.deep as Parameters<typeof deepMoeConfig>[0]);
  const params = initDeepMoe(c, k, { dtype });
  return {
    params,
    outDim: c.dOut,
    forward: (g, p, x) => {
      const r = deepMoeForward(g, c, p, x, cost);
      return { y: r.y, strategy: [...new Set(r.strategies)].join("+") };
    },
  };
}

/** The target: a frozen teacher computed in the graph, or a closed-form function fed as y. */
type Target =
  | { kind: "graph"; outDim: number; forward(g: Graph, x: Value): Value }
  | { kind: "fed"; outDim: number; name: string };

async function target(cfg: RunConfig): Promise<Target> {
  const t = cfg.target;
  if (t.kind === "function") {
    return { kind: "fed", outDim: targetByName(t.name).outDim, name: t.name };
  }
  const teacher = t.kind === "teacher"
    ? (() => {
      const c = moeConfig(t.teacher);
      return { config: c, params: initMoe(c, key(t.seed), { scheme: t.init, dtype: cfg.dtype }) };
    })()
    : await loadTeacher(t.path, t.sha256, cfg.dtype);
  // Teacher weights become initializers of the root graph (visible inside the Loop body),
  // created once per graph.
  const made = new WeakMap<Graph, ParamValues>();
  const values = (g: Graph): ParamValues => {
    const root = g.root;
    let v = made.get(root);
    if (!v) {
      v = {};
      for (const [name, tt] of teacher.params) v[name] = root.initializer(`teacher.${name}`, tt);
      made.set(root, v);
    }
    return v;
  };
  return {
    kind: "graph",
    outDim: teacher.config.dOut,
    forward: (g, x) => moeForward(g, teacher.config, values(g), x).y,
  };
}

/** Mean over the batch of the squared error summed over outputs. */
function sqError(g: Graph, pred: Value, y: Value, batch: number | undefined): Value {
  const { op } = g;
  // One fused sum of squares; its gradient is a single scaled pass over d (autodiff rule).
  const total = op.ReduceSumSquare(op.Sub(pred, y), { keepdims: 0 });
  if (batch !== undefined) return op.Mul(total, 1 / batch);
  return op.Div(total, op.Cast(op.Gather(op.Shape(y), 0n), y.dtype));
}

function scheduleOf(cfg: RunConfig, stepsPerEpoch: number): ScheduleSpec {
  const totalSteps = cfg.train.epochs * stepsPerEpoch;
  const warmupSteps = cfg.train.warmupSteps || undefined;
  switch (cfg.train.schedule) {
    case "cosine-epoch":
      return { schedule: { kind: "cosine", per: "epoch", totalSteps, stepsPerEpoch }, warmupSteps };
    case "cosine-step":
      return { schedule: { kind: "cosine", per: "step", totalSteps }, warmupSteps };
    case "constant":
      return { schedule: { kind: "constant" }, warmupSteps };
    default:
      throw new Error(
        `train.schedule: unknown schedule '${cfg.train.schedule}' (allowed: cosine-epoch, cosine-step, constant)`,
      );
  }
}

/** Checks the parts of a config the executor relies on; one-line errors naming the field. */
export function checkRunShape(cfg: RunConfig): void {
  const tr = cfg.train;
  for (const f of ["epochs", "samplesPerEpoch", "batch", "testSamples"] as const) {
    if (!Number.isInteger(tr[f]) || tr[f] < 1) {
      throw new Error(`train.${f}: must be a positive integer, got ${tr[f]}`);
    }
  }
  if (tr.samplesPerEpoch % tr.batch !== 0) {
    throw new Error(
      `train.batch: must divide train.samplesPerEpoch (${tr.samplesPerEpoch}), got ${tr.batch}`,
    );
  }
  if (!(tr.lr > 0)) throw new Error(`train.lr: must be > 0, got ${tr.lr}`);
  if (tr.optimizer !== "adamw") {
    throw new Error(`train.optimizer: unknown optimizer '${tr.optimizer}' (allowed: adamw)`);
  }
  if (cfg.model.kind === "moe") {
    moeConfig(cfg.model.layer);
    if (cfg.model.layer.dIn !== cfg.input.d) {
      throw new Error(
        `model.layer.dIn: must equal input.d (${cfg.input.d}), got ${cfg.model.layer.dIn}`,
      );
    }
  } else if (cfg.model.kind === "deep") {
    const c = deepMoeConfig(cfg.model.deep as Parameters<typeof deepMoeConfig>[0]);
    if (c.dIn !== cfg.input.d) {
      throw new Error(`model.deep.dIn: must equal input.d (${cfg.input.d}), got ${c.dIn}`);
    }
  } else {
    throw new Error(`model.kind: unknown kind (allowed: moe, deep)`);
  }
  if (cfg.target.kind === "teacher") {
    moeConfig(cfg.target.teacher);
    if (cfg.target.teacher.dIn !== cfg.input.d) {
      throw new Error(
        `target.teacher.dIn: must equal input.d (${cfg.input.d}), got ${cfg.target.teacher.dIn}`,
      );
    }
  } else if (cfg.target.kind === "function") targetByName(cfg.target.name);
}

function abortError(): Error {
  return new DOMException("run aborted", "AbortError");
}

/** A run's compiled programs and data source, ready to train (shared with the benchmark). */
export interface PreparedRun {
  trainer: Trainer;
  evaluator: Evaluator;
  source: BatchSource<"float32" | "float64">;
  schedule: ScheduleSpec;
  stepsPerEpoch: number;
  /** Steps per run() call. */
  chunk: number;
  /** The student's compute strategy as built ("dense", "sparse", ...). */
  strategy: string;
  /** Feeds for `trainer.run` from the next `n` steps of data (drawn on this thread). */
  nextBatch(n: number): Record<string, HostTensor>;
  /**
   * The same feeds, drawn by a worker one chunk ahead: while the caller trains on these, the
   * next `n` steps are already being drawn. Has its own step counter (starts at 0): use either
   * this or `nextBatch` for a run, not both.
   */
  fetchBatch(n: number): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/**
 * Several runs' students compiled into one training program (see prepareGroup). `evaluator`
 * and `strategy` are student 0's.
 */
export interface PreparedGroup extends PreparedRun {
  /** Trains all students; with size > 1 its losses are steps x size, row-major. */
  trainer: Trainer;
  size: number;
  /** Student r's current parameters, under the single run's names. */
  paramsOf(r: number): Record<string, HostTensor>;
  /** Student r's evaluator: run it with `paramsOf(r)`. */
  evaluatorOf(r: number): Evaluator;
  /** Student r's compute strategy as built. */
  strategyOf(r: number): string;
}

/** Builds the training and evaluation programs of `cfg` and its data source. */
export function prepareRun(cfg: RunConfig, opts: ExecutorOptions = {}): Promise<PreparedRun> {
  return prepareGroup([cfg], opts);
}

/** Member r's name for a parameter (a single run keeps the plain names). */
const memberName = (size: number, r: number, name: string) => size === 1 ? name : `r${r}.${name}`;

/**
 * Builds one training program for runs that differ only in their student model and train.lr
 * (groupKey): the batch and the teacher forward are computed once per step, each student r has
 * its own parameters (`r<r>.<name>`), optimizer state and parameter group (base lr =
 * cfgs[r].train.lr), and the loss is the sum of the students' losses, so each student gets
 * exactly its own gradient. A group of one is the single run's program (plain names, its loss
 * alone).
 */
export async function prepareGroup(
  cfgs: RunConfig[],
  opts: ExecutorOptions = {},
): Promise<PreparedGroup> {
  if (cfgs.length === 0) throw new Error("runs: a group needs at least one run");
  const key0 = groupKey(cfgs[0]);
  cfgs.forEach((c, i) => {
    if (groupKey(c) !== key0) {
      throw new Error(
        `runs[${i}]: a group's runs must differ only in model, train.lr and labels`,
      );
    }
  });
  const cfg = cfgs[0];
  cfgs.forEach((c) => checkRunShape(c));
  const R = cfgs.length;
  const dt = cfg.dtype;
  const d = cfg.input.d;
  const B = cfg.train.batch;
  const stepsPerEpoch = cfg.train.samplesPerEpoch / B;
  const students = cfgs.map(studentModel);
  const tgt = await target(cfg);
  students.forEach((st, r) => {
    if (tgt.outDim !== st.outDim) {
      throw new Error(
        `${R === 1 ? "" : `runs[${r}].`}model: output dimension ${st.outDim} differs from the ` +
          `target's ${tgt.outDim}`,
      );
    }
  });
  const schedule = scheduleOf(cfg, stepsPerEpoch);
  const names = students.map((st) => [...st.params.keys()]);
  const member = (r: number, name: string) => memberName(R, r, name);
  const strategies = cfgs.map(() => "");
  const yOf = (g: Graph, b: Record<string, Value>) =>
    tgt.kind === "graph" ? tgt.forward(g, b.x) : b.y;
  const trainer = await Trainer.create({
    dtype: dt,
    params: students.flatMap((st, r) =>
      [...st.params].map(([name, init]) => ({ name: member(r, name), init, group: r }))
    ),
    groups: R,
    batch: [
      { kind: "fed", name: "x", dtype: dt, dims: [B, d] },
      ...(tgt.kind === "fed"
        ? [{ kind: "fed" as const, name: "y", dtype: dt, dims: [B, tgt.outDim] }]
        : []),
    ],
    loss: (g, p, b) => {
      const y = yOf(g, b);
      const losses = students.map((st, r) => {
        const mine = Object.fromEntries(names[r].map((n) => [n, p[member(r, n)]]));
        const out = st.forward(g, mine, b.x);
        strategies[r] = out.strategy;
        return sqError(g, out.y, y, B);
      });
      if (R === 1) return losses[0];
      const parts = g.op.Concat(losses.map((l) => g.op.Unsqueeze(l, [0])), { axis: 0 });
      return { loss: g.op.Sum(...losses), parts };
    },
    optimizer: adamw({
      betas: cfg.train.betas,
      eps: cfg.train.eps,
      weightDecay: cfg.train.weightDecay,
    }),
    schedule,
  }, {
    lrs: cfgs.map((c) => c.train.lr),
    threads: opts.threads,
    ep: opts.ep,
    profilePrefix: opts.profilePrefix,
    spinning: opts.spinning,
  });
  // One evaluator per distinct student model (a cell's lrs share one).
  const evaluators = new Map<string, Evaluator>();
  const evaluatorOf: Evaluator[] = [];
  for (const [r, c] of cfgs.entries()) {
    const modelKey = canonicalJson(c.model, "model");
    let ev = evaluators.get(modelKey);
    if (!ev) {
      const st = students[r];
      ev = await Evaluator.create({
        dtype: dt,
        params: [...st.params].map(([name, init]) => ({ name, init })),
        batch: [
          { name: "x", dtype: dt, dims: ["batch", d] },
          ...(tgt.kind === "fed" ? [{ name: "y", dtype: dt, dims: ["batch", tgt.outDim] }] : []),
        ],
        metrics: (g, p, b) => {
          const y = yOf(g, b);
          return {
            test_loss: sqError(g, st.forward(g, p, b.x).y, y, undefined),
            zero_loss: sqError(g, g.op.Mul(y, 0), y, undefined),
          };
        },
      }, { threads: opts.threads, ep: opts.ep, spinning: opts.spinning });
      evaluators.set(modelKey, ev);
    }
    evaluatorOf.push(ev);
  }

  const data = {
    dist: cfg.input.dist,
    d,
    target: tgt.kind === "fed" ? tgt.name : undefined,
    key: foldIn(key(cfg.seed), "data"),
    dtype: dt,
  };
  const source = new BatchSource<"float32" | "float64">(data);
  const prefetcher = new BatchPrefetcher(data, B);
  const feeds = (c: Chunk<"float32" | "float64">) => {
    const batch: Record<string, HostTensor> = { x: tensor(dt, c.xDims, c.x) };
    if (c.y && c.yDims) batch.y = tensor(dt, c.yDims, c.y);
    return batch;
  };
  const bytesPerStep = B * (d + (tgt.kind === "fed" ? tgt.outDim : 0)) * (dt === "float32" ? 4 : 8);
  const chunk = Math.max(
    1,
    Math.min(stepsPerEpoch, Math.floor((opts.maxChunkBytes ?? 32 << 20) / bytesPerStep)),
  );
  return {
    trainer,
    evaluator: evaluatorOf[0],
    source,
    schedule,
    stepsPerEpoch,
    chunk,
    strategy: strategies[0],
    size: R,
    paramsOf: (r) =>
      Object.fromEntries(names[r].map((n) => [n, trainer.state.params[member(r, n)]])),
    evaluatorOf: (r) => evaluatorOf[r],
    strategyOf: (r) => strategies[r],
    nextBatch: (n) => feeds(source.next(n, B)),
    fetchBatch: async (n) => feeds(await prefetcher.next(n)),
    async release() {
      prefetcher.close();
      await trainer.release();
      for (const ev of evaluators.values()) await ev.release();
    },
  };
}

/** The executor the sweep engine drives: a run is trained as a group of one. */
export function makeExecutor(opts: ExecutorOptions = {}): Executor {
  const group = makeGroupExecutor(opts);
  return async (cfg, hooks) => (await group([cfg], hooks))[0];
}

/** Writes the trained student of `cfg` (its parameters by name) as `<dir>/<run_id>.onnx`. */
async function saveStudent(
  dir: string,
  cfg: RunConfig,
  trained: Record<string, HostTensor>,
): Promise<void> {
  const model: ModelSpec = cfg.model.kind === "moe"
    ? { kind: "moe", config: moeConfig(cfg.model.layer) }
    : {
      kind: "deep",
      config: deepMoeConfig(cfg.model.deep as Parameters<typeof deepMoeConfig>[0]),
    };
  const id = runId(cfg);
  const description = `Trained student of run ${id} (experiment ${cfg.experiment}, ` +
    `${JSON.stringify(cfg.labels)}, lr ${cfg.train.lr}, seed ${cfg.seed}), parameters after ` +
    `${cfg.train.epochs} epochs. ` +
    describeModel(model, { seed: null, init: null, dtype: cfg.dtype, strategy: "dense" });
  // writeModel checks the names and dims against the config's layout and orders them itself.
  await writeModel(
    `${dir.replace(/\/+$/, "") || "/"}/${id}.onnx`,
    model,
    new Map(Object.entries(trained)),
    {
      preset: cfg.experiment,
      description,
    },
  );
}

function summarize(
  curves: EpochRow[],
  diverged: boolean,
  steps: number,
  strategy: string,
  wall: number,
): RunResult {
  const finite = curves.filter((c) => Number.isFinite(c.normalized));
  const last = curves[curves.length - 1];
  return {
    status: diverged ? "diverged" : "ok",
    score: finite.length ? Math.min(...finite.map((c) => c.normalized)) : NaN,
    final_test_loss: last?.test_loss ?? NaN,
    min_test_loss: finite.length ? Math.min(...finite.map((c) => c.test_loss)) : NaN,
    zero_loss: last?.zero_loss ?? NaN,
    epochs: curves.length,
    steps,
    wall_s: Math.round(wall * 1000) / 1000,
    strategy,
    curves,
  };
}

// ---- several runs in one program ---------------------------------------------------------------

/**
 * Runs that can train as one program: configs equal but for the student model, train.lr and
 * the labels. Same seed means the same data; same target means one teacher forward serves all
 * (e.g. a teacher's row of Fig. 2: its students and their learning rates).
 */
export function groupKey(cfg: RunConfig): string {
  return canonicalJson(
    { ...cfg, model: null, labels: null, train: { ...cfg.train, lr: 0 } },
    "config",
  );
}

/** The student's parameter count (the weight of a run in the sweep's grouping). */
export function studentParamCount(cfg: RunConfig): number {
  if (cfg.model.kind === "moe") {
    return moeParamShapes({ ...moeConfig(cfg.model.layer), depth: 1 })
      .reduce((n, p) => n + p.dims.reduce((a, b) => a * b, 1), 0);
  }
  return paramCount(studentModel(cfg).params);
}

/**
 * The sweep's grouping policy (SweepOptions.group): runs with equal groupKey train together in
 * groups of at most this many student parameters in all; a larger student trains alone.
 * Measured with `deno task bench` (2 runs in one program vs alone, d = 256, batch 2048): +20-28 %
 * run-steps/s for two 16e8a students (0.3 M parameters each), +13 % for 64e8a (1.3 M), -5 % for
 * 256e8a (5.2 M), where the students' parameters and optimizer states outgrow the caches and the
 * shared teacher forward is a small part of the step.
 */
export const SWEEP_GROUP_MAX_PARAMS = 3e6;

/**
 * The group executor the sweep engine drives (SweepOptions.group): trains runs that share
 * groupKey as one program and returns, per run, what it returns for that run alone (the same
 * curves, status, steps and scores); wall_s is the group's wall time divided among its runs.
 * A run that diverges stops being recorded after the chunk that diverged; the others go on.
 */
export function makeGroupExecutor(opts: ExecutorOptions = {}): GroupExecutor {
  return async (cfgs, hooks) => {
    const t0 = performance.now();
    const run = await prepareGroup(cfgs, opts);
    const { trainer, source, stepsPerEpoch, chunk, size: R } = run;
    const cfg = cfgs[0];
    const dt = cfg.dtype;
    const curves: EpochRow[][] = cfgs.map(() => []);
    const diverged = cfgs.map(() => false);
    const stepsAt = cfgs.map(() => 0);
    try {
      for (let epoch = 0; epoch < cfg.train.epochs && diverged.includes(false); epoch++) {
        const sums = new Float64Array(R);
        const live = diverged.map((d) => !d);
        for (let done = 0; done < stepsPerEpoch && live.includes(true);) {
          if (hooks.signal.aborted) throw abortError();
          const n = Math.min(chunk, stepsPerEpoch - done);
          const losses = await trainer.run(n, await run.fetchBatch(n));
          for (let r = 0; r < R; r++) {
            if (!live[r]) continue;
            for (let s = 0; s < n; s++) {
              const l = losses[s * R + r];
              if (!Number.isFinite(l)) diverged[r] = true;
              sums[r] += l;
            }
            if (diverged[r]) {
              live[r] = false;
              stepsAt[r] = trainer.state.step;
            }
          }
          done += n;
          hooks.onProgress({
            epoch: epoch + 1,
            epochs: cfg.train.epochs,
            step: trainer.state.step,
            steps: cfg.train.epochs * stepsPerEpoch,
            loss: losses[losses.length - R],
          });
        }
        const test = source.testSet(epoch, cfg.train.testSamples);
        const feeds: Record<string, HostTensor> = { x: tensor(dt, test.xDims, test.x) };
        if (test.y && test.yDims) feeds.y = tensor(dt, test.yDims, test.y);
        for (let r = 0; r < R; r++) {
          if (!live[r]) continue;
          const m = await run.evaluatorOf(r).run(run.paramsOf(r), feeds);
          const testLoss = Number(m.test_loss.data[0]);
          const zeroLoss = Number(m.zero_loss.data[0]);
          if (!Number.isFinite(testLoss)) {
            diverged[r] = true;
            stepsAt[r] = trainer.state.step;
          }
          curves[r].push({
            epoch: epoch + 1,
            train_loss: sums[r] / stepsPerEpoch,
            test_loss: testLoss,
            zero_loss: zeroLoss,
            normalized: testLoss / zeroLoss,
            lr: lrAt(run.schedule, cfgs[r].train.lr, epoch * stepsPerEpoch),
          });
        }
      }
    } finally {
      await run.release();
    }
    const wall = (performance.now() - t0) / 1000 / R;
    const results: RunResult[] = [];
    for (let r = 0; r < R; r++) {
      if (opts.saveModelDir && !diverged[r]) {
        await saveStudent(opts.saveModelDir, cfgs[r], run.paramsOf(r));
      }
      const steps = diverged[r] ? stepsAt[r] : trainer.state.step;
      results.push(summarize(curves[r], diverged[r], steps, run.strategyOf(r), wall));
    }
    return results;
  };
}
