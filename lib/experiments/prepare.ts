/**
 * Program preparation: the training program of a group of runs (one Loop performing a chunk of
 * steps), the evaluation program of each distinct student, and the data source that feeds
 * both. Loss: MSE summed over outputs and averaged over the batch, plus the student's own
 * loss terms (ModelOutput.loss).
 */
import type { Graph, Value } from "../graph/builder.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";
import { foldIn, key } from "../random/prng.ts";
import { BatchSource, type Chunk } from "../data/batches.ts";
import { BatchPrefetcher } from "../data/prefetch.ts";
import type { ScheduleSpec } from "../optim/schedule.ts";
import { Trainer } from "../train/trainer.ts";
import { Evaluator } from "../train/evaluator.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import type { RunConfig } from "../sweep/types.ts";
import { canonicalJson } from "../sweep/runid.ts";
import type { ParamValues } from "../nn/params.ts";
import { type Model, studentModel, target } from "./models.ts";
import { checkRunShape, optimizerOf, scheduleOf } from "./train_config.ts";
import { defaultThreads, groupKey } from "./grouping.ts";
import { RouterEvaluator } from "./router_eval.ts";

/** How the executor builds and runs its programs. */
export interface ExecutorOptions {
  /**
   * onnxruntime intra-op threads (0 = one per physical core); omitted: 1 for small groups
   * (grouping.ts defaultThreads), else one per physical core.
   */
  threads?: number;
  /** onnxruntime execution provider (default cpu). */
  ep?: ExecutionProvider;
  /** With ep "cuda": compile programs the CUDA audit finds nodes for that would run on the CPU. */
  allowCpuFallback?: boolean;
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

/** A run's compiled programs and data source, ready to train (shared with the benchmark). */
export interface PreparedRun {
  /** The training program. */
  trainer: Trainer;
  /** The evaluation program (test and zero loss). */
  evaluator: Evaluator;
  /** The run's data: training batches and per-epoch test sets. */
  source: BatchSource<"float32" | "float64">;
  /** The learning-rate schedule. */
  schedule: ScheduleSpec;
  /** Optimizer steps per epoch. */
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
  /** Releases the sessions and the prefetch worker. */
  release(): Promise<void>;
}

/**
 * Several runs' students compiled into one training program (see prepareGroup). `evaluator`
 * and `strategy` are student 0's.
 */
export interface PreparedGroup extends PreparedRun {
  /** Trains all students; with size > 1 its losses are steps x size, row-major. */
  trainer: Trainer;
  /** The number of runs. */
  size: number;
  /** Student r's current parameters, under the single run's names. */
  paramsOf(r: number): Record<string, HostTensor>;
  /** Student r's evaluator: run it with `paramsOf(r)`. */
  evaluatorOf(r: number): Evaluator;
  /** Student r's compute strategy as built. */
  strategyOf(r: number): string;
  /** Student r's routing program (router loads): run it with `paramsOf(r)`. */
  routerOf(r: number): RouterEvaluator;
}

/** Builds the training and evaluation programs of `cfg` and its data source. */
export function prepareRun(cfg: RunConfig, opts: ExecutorOptions = {}): Promise<PreparedRun> {
  return prepareGroup([cfg], opts);
}

/** Mean over the batch of the squared error summed over outputs. */
function sqError(g: Graph, pred: Value, y: Value, batch: number | undefined): Value {
  const { op } = g;
  // One fused sum of squares; its gradient is a single scaled pass over d (autodiff rule).
  const total = op.ReduceSumSquare(op.Sub(pred, y), { keepdims: 0 });
  if (batch !== undefined) return op.Mul(total, 1 / batch);
  return op.Div(total, op.Cast(op.Gather(op.Shape(y), 0n), y.dtype));
}

/** Member r's name for a parameter (a single run keeps the plain names). */
const memberName = (size: number, r: number, name: string) => size === 1 ? name : `r${r}.${name}`;

/** One student's training loss for batch x with targets y, its strategy and its updates. */
function studentLoss(
  g: Graph,
  st: Model,
  p: ParamValues,
  x: Value,
  y: Value,
  batch: number,
): { loss: Value; strategy: string; updates: ParamValues } {
  const out = st.forward(g, p, x);
  const mse = sqError(g, out.y, y, batch);
  return {
    loss: out.loss ? g.op.Add(mse, out.loss) : mse,
    strategy: out.strategy,
    updates: out.updates ?? {},
  };
}

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
  const threads = opts.threads ?? defaultThreads(cfgs);
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
      [...st.params].map(([name, init]) => ({
        name: member(r, name),
        init,
        group: r,
        ...(st.carried?.has(name) ? { trainable: false } : {}),
      }))
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
      const updates: ParamValues = {};
      const losses = students.map((st, r) => {
        const mine = Object.fromEntries(names[r].map((n) => [n, p[member(r, n)]]));
        const out = studentLoss(g, st, mine, b.x, y, B);
        strategies[r] = out.strategy;
        for (const [n, v] of Object.entries(out.updates)) updates[member(r, n)] = v;
        return out.loss;
      });
      if (R === 1) return { loss: losses[0], updates };
      const parts = g.op.Concat(losses.map((l) => g.op.Unsqueeze(l, [0])), { axis: 0 });
      return { loss: g.op.Sum(...losses), parts, updates };
    },
    optimizer: optimizerOf(cfg),
    schedule,
  }, {
    lrs: cfgs.map((c) => c.train.lr),
    threads,
    ep: opts.ep,
    allowCpuFallback: opts.allowCpuFallback,
    profilePrefix: opts.profilePrefix,
    spinning: opts.spinning,
  });
  // One evaluator per distinct student model (a cell's lrs share one).
  const evaluators = new Map<string, Evaluator>();
  const evaluatorOf: Evaluator[] = [];
  const routers = new Map<string, RouterEvaluator>();
  const routerOf: RouterEvaluator[] = [];
  for (const [r, c] of cfgs.entries()) {
    const modelKey = canonicalJson(c.model, "model");
    let ev = evaluators.get(modelKey);
    if (!ev) {
      const { ep, allowCpuFallback, spinning } = opts;
      const rev = await RouterEvaluator.create(students[r], dt, d, {
        threads,
        ep,
        allowCpuFallback,
        spinning,
      });
      routers.set(modelKey, rev);
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
      }, {
        threads,
        ep: opts.ep,
        allowCpuFallback: opts.allowCpuFallback,
        spinning: opts.spinning,
      });
      evaluators.set(modelKey, ev);
    }
    evaluatorOf.push(ev);
    routerOf.push(routers.get(modelKey)!);
  }

  const data = {
    dist: cfg.input.dist,
    d,
    target: tgt.kind === "fed" ? tgt.name : undefined,
    key: foldIn(key(cfg.seed), "data"),
    dtype: dt,
    ...(cfg.train.trainSamples !== undefined ? { trainSamples: cfg.train.trainSamples } : {}),
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
    routerOf: (r) => routerOf[r],
    nextBatch: (n) => feeds(source.next(n, B)),
    fetchBatch: async (n) => feeds(await prefetcher.next(n)),
    async release() {
      prefetcher.close();
      await trainer.release();
      for (const ev of evaluators.values()) await ev.release();
      for (const ev of routers.values()) await ev.release();
    },
  };
}
