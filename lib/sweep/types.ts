/**
 * The contract between experiment definitions (presets, JSON grids), the run executor and the
 * sweep engine. A RunConfig is plain JSON: everything that determines a run's result, so its
 * canonical hash is a stable run id.
 */
import type { InputDist } from "../data/inputs.ts";
import type { MoeLayerConfig } from "../nn/config.ts";
import type { OptimizerName } from "../optim/registry.ts";

/** One student-teacher (or student-function) training run, fully resolved. */
export interface RunConfig {
  /** Preset or grid name, e.g. "fig2". */
  experiment: string;
  scale: "quick" | "full" | "custom";
  /** Trial seed: student initialization and data. */
  seed: number;
  dtype: "float32" | "float64";
  input: { dist: InputDist; d: number };
  target: TargetConfig;
  model: ModelConfig;
  train: TrainConfig;
  /**
   * Cell coordinates used for tables and plots (e.g. teacher "16e8a", student "4e2a",
   * rel_size 4, granularity 2, D 16, width 32, arch "2-3-MoE"). Not used for training.
   */
  labels: Record<string, string | number>;
}

export type TargetConfig =
  | { kind: "teacher"; teacher: MoeSpec; seed: number; init: "torch" | "paper" }
  | { kind: "teacher-file"; path: string; sha256: string }
  | { kind: "function"; name: string };

/** An (m, k, w, d)-MoE layer: the layer config of lib/nn/config.ts, as stored in a run config. */
export type MoeSpec = MoeLayerConfig;

export type ModelConfig =
  | {
    kind: "moe";
    layer: MoeSpec;
    init: "torch" | "paper";
    /** Router load balancing while training (lib/nn/balance.ts); absent = none. */
    balance?: { auxLoss?: number; zLoss?: number; biasRate?: number };
  }
  | { kind: "deep"; deep: Record<string, unknown> };

export interface TrainConfig {
  /** A registered optimizer (lib/optim/registry.ts). */
  optimizer: OptimizerName;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** "cosine-epoch": cosine annealing to 0 stepped once per epoch (the authors'). */
  schedule: "cosine-epoch" | "cosine-step" | "constant";
  warmupSteps: number;
  epochs: number;
  samplesPerEpoch: number;
  batch: number;
  testSamples: number;
  /** SGD's momentum (optimizer "sgd" only); omitted means 0. */
  momentum?: number;
}

/** Per-epoch numbers of a run. */
export interface EpochRow {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  train_loss: number;
  test_loss: number;
  zero_loss: number;
  /** test_loss / zero_loss. */
  normalized: number;
  lr: number;
}

export interface RunResult {
  status: "ok" | "diverged";
  /** min over epochs of test_loss / zero_loss (NaN if diverged before any epoch). */
  score: number;
  final_test_loss: number;
  min_test_loss: number;
  zero_loss: number;
  epochs: number;
  steps: number;
  wall_s: number;
  /** Compute strategy actually used ("dense" | "sparse" | "deep"...). */
  strategy: string;
  curves: EpochRow[];
}

/** A finished run as stored on disk (out/<experiment>/runs/<run_id>.json). */
export interface RunRecord {
  run_id: string;
  config: RunConfig;
  result: RunResult;
  versions: Record<string, string>;
  finished_at: string;
}

/** Live progress from inside a run (for the progress bar). */
export interface RunProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss?: number;
}

/** Executes one run. Must honour `signal` (stop early by throwing an AbortError). */
export type Executor = (
  config: RunConfig,
  hooks: { onProgress(p: RunProgress): void; signal: AbortSignal },
) => Promise<RunResult>;

/**
 * Executes several runs together (e.g. the learning rates of one cell, sharing data and teacher
 * in one program) and returns their results in order. Each result must equal what the Executor
 * would return for that run alone. Must honour `signal` like an Executor.
 */
export type GroupExecutor = (
  configs: RunConfig[],
  hooks: { onProgress(p: RunProgress): void; signal: AbortSignal },
) => Promise<RunResult[]>;
