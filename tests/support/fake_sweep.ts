/**
 * A fast, deterministic stand-in for the real executor, for testing the sweep engine, and a
 * CLI that runs a fake sweep in a subprocess (so tests can SIGKILL / SIGINT it):
 *
 *   deno run -A tests/support/fake_sweep.ts <outDir> [--runs 20] [--delay 50] [--log file]
 *     [--shard i/n] [--poll ms]
 *
 * The fake's curves are a pure function of the config (fakeResult), so tests can compute the
 * expected table values independently of the engine.
 */
import { parseArgs } from "node:util";
import { runSweep, sweepExitCode } from "../../lib/sweep/engine.ts";
import { parseShard } from "../../lib/sweep/shard.ts";
import { runId } from "../../lib/sweep/runid.ts";
import type { Executor, MoeSpec, RunConfig, RunRecord, RunResult } from "../../lib/sweep/types.ts";

export const FAKE_EPOCHS = 3;
export const FAKE_STEPS_PER_EPOCH = 4;
export const FAKE_VERSIONS = { deno: "2.9.6", "onnxruntime-node": "1.30.0", "moe-onnx": "0.1.0" };

function moe(m: number, k: number, w: number): MoeSpec {
  return {
    m,
    k,
    w,
    dIn: 8,
    dOut: 8,
    gate: "softmax-topk",
    activation: "relu",
    routerBias: false,
    expertBias: true,
    strategy: "dense",
  };
}

const SHAPES: [number, number][] = [[4, 2], [8, 4]];
const LRS = [0.001, 0.01];

/**
 * `n` fake run configs of experiment `experiment`: seed-major over the grid teacher (4e2a,
 * 8e4a) × student (4e2a, 8e4a) × lr (0.001, 0.01), i.e. 8 runs per seed.
 */
export function makeRuns(n: number, experiment = "fake"): RunConfig[] {
  const runs: RunConfig[] = [];
  for (let seed = 0; runs.length < n; seed++) {
    for (const [tm, tk] of SHAPES) {
      for (const [sm, sk] of SHAPES) {
        for (const lr of LRS) {
          if (runs.length === n) break;
          runs.push({
            experiment,
            scale: "quick",
            seed,
            dtype: "float32",
            input: { dist: "gaussian", d: 8 },
            target: { kind: "teacher", teacher: moe(tm, tk, 16 / tk), seed: 1000, init: "torch" },
            model: { kind: "moe", layer: moe(sm, sk, 20 / sk), init: "torch" },
            train: {
              optimizer: "adamw",
              lr,
              betas: [0.9, 0.999],
              eps: 1e-8,
              weightDecay: 0.01,
              schedule: "cosine-epoch",
              warmupSteps: 0,
              epochs: FAKE_EPOCHS,
              samplesPerEpoch: 64,
              batch: 16,
              testSamples: 32,
            },
            labels: { teacher: `${tm}e${tk}a`, student: `${sm}e${sk}a`, ratio: tm / sm },
          });
        }
      }
    }
  }
  return runs;
}

/**
 * The fake's result for `config`, without timing (wall_s 0): normalized test loss
 * base · (1 + 1/(e+1)) at epoch e, with base depending on teacher, student, lr (lr 0.01 is
 * better for teacher 4e2a, 0.001 for 8e4a) and seed. `diverge` makes the last epoch NaN.
 */
export function fakeResult(config: RunConfig, diverge = false): RunResult {
  if (config.target.kind !== "teacher" || config.model.kind !== "moe") {
    throw new Error("fake executor: needs a teacher target and an moe model");
  }
  const tm = config.target.teacher.m, sm = config.model.layer.m;
  const lrFactor = (tm === 4) === (config.train.lr === 0.01) ? 0.5 : 1;
  const base = (tm / (sm + tm)) * lrFactor * (1 + 0.125 * config.seed);
  const zero = 2 + tm / 8;
  const curves = [];
  for (let e = 0; e < config.train.epochs; e++) {
    const last = e === config.train.epochs - 1;
    const normalized = diverge && last ? NaN : base * (1 + 1 / (e + 1));
    curves.push({
      epoch: e,
      train_loss: diverge && last ? NaN : zero * base * (1.25 + 1 / (e + 1)),
      test_loss: normalized * zero,
      zero_loss: zero,
      normalized,
      lr: config.train.lr * Math.cos((Math.PI * e) / (2 * config.train.epochs)),
    });
  }
  const finiteTests = curves.map((c) => c.test_loss).filter((x) => Number.isFinite(x));
  const norms = curves.map((c) => c.normalized).filter((x) => Number.isFinite(x));
  return {
    status: diverge ? "diverged" : "ok",
    score: norms.length ? Math.min(...norms) : NaN,
    final_test_loss: curves[curves.length - 1].test_loss,
    min_test_loss: finiteTests.length ? Math.min(...finiteTests) : NaN,
    zero_loss: zero,
    epochs: curves.length,
    steps: curves.length * FAKE_STEPS_PER_EPOCH,
    wall_s: 0,
    strategy: "dense",
    curves,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The record a finished fake run of `config` leaves: its fakeResult, finished at `finishedAt`. */
export function fakeRecord(config: RunConfig, finishedAt: string): RunRecord {
  return {
    run_id: runId(config),
    config,
    result: fakeResult(config),
    versions: FAKE_VERSIONS,
    finished_at: finishedAt,
  };
}

/** Options of fakeExecutor. */
export interface FakeOptions {
  /** Total sleep per run, split over the epochs (honours the abort signal). */
  delayMs?: number;
  /** Appends "start <id>\n" / "end <id>\n" / "abort <id>\n" lines to this file. */
  logPath?: string;
  /** Receives the config of every call, in order. */
  calls?: RunConfig[];
  /** Throw an Error for these configs (an executor bug). */
  throwIf?: (c: RunConfig) => boolean;
  /** Report these runs as diverged. */
  divergeIf?: (c: RunConfig) => boolean;
  /** Run id function, for the log (passed in to keep this module engine-agnostic). */
  idOf?: (c: RunConfig) => string;
}

/** A deterministic executor returning fakeResult(config) after `delayMs`. */
export function fakeExecutor(opts: FakeOptions = {}): Executor {
  const log = (what: string, c: RunConfig) => {
    if (opts.logPath && opts.idOf) {
      Deno.writeTextFileSync(opts.logPath, `${what} ${opts.idOf(c)}\n`, { append: true });
    }
  };
  return async (config, { onProgress, signal }) => {
    opts.calls?.push(config);
    log("start", config);
    const t0 = performance.now();
    const epochs = config.train.epochs;
    try {
      for (let e = 0; e < epochs; e++) {
        if (opts.delayMs) await sleep(opts.delayMs / epochs, signal);
        onProgress({
          epoch: e + 1,
          epochs,
          step: (e + 1) * FAKE_STEPS_PER_EPOCH,
          steps: epochs * FAKE_STEPS_PER_EPOCH,
          loss: 1 / (e + 1),
        });
      }
    } catch (err) {
      log("abort", config);
      throw err;
    }
    if (opts.throwIf?.(config)) throw new Error("fake executor: deliberate failure");
    const result = fakeResult(config, opts.divergeIf?.(config) ?? false);
    result.wall_s = (performance.now() - t0) / 1000;
    log("end", config);
    return result;
  };
}

if (import.meta.main) {
  const { runId } = await import("../../lib/sweep/runid.ts");
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "20" },
      delay: { type: "string", default: "50" },
      log: { type: "string" },
      shard: { type: "string" },
      poll: { type: "string", default: "2000" },
    },
    allowPositionals: true,
  });
  const summary = await runSweep({
    outDir: positionals[0],
    runs: makeRuns(Number(values.runs)),
    execute: fakeExecutor({ delayMs: Number(values.delay), logPath: values.log, idOf: runId }),
    versions: FAKE_VERSIONS,
    shard: values.shard ? parseShard(values.shard) : undefined,
    pollMs: Number(values.poll),
  });
  Deno.exit(sweepExitCode(summary));
}
