/**
 * The contract between experiment definitions (presets, JSON grids), the run executor and the
 * sweep engine. A RunConfig is plain JSON: everything that determines a run's result, so its
 * canonical hash is a stable run id.
 */
import type { InputDist } from "../data/inputs.ts";
import type { MoeLayerConfig } from "../nn/config.ts";
import type { BalanceConfig } from "../nn/balance.ts";
import type { OptimizerName } from "../optim/registry.ts";
import type { LayerLoad } from "./router_loads.ts";

/** One student-teacher (or student-function) training run, fully resolved. */
export interface RunConfig {
  /** Preset or grid name, e.g. "fig2". */
  experiment: string;
  /** The preset's scale, or `custom` when overrides changed the runs. */
  scale: "quick" | "full" | "custom";
  /** Trial seed: student initialization and data. */
  seed: number;
  /** Element type of the whole run. */
  dtype: "float32" | "float64";
  /** Input distribution and dimension. */
  input: { dist: InputDist; d: number };
  /** What the student learns: a teacher MoE, a teacher file, or a closed-form function. */
  target: TargetConfig;
  /** The student. */
  model: ModelConfig;
  /** The training protocol. */
  train: TrainConfig;
  /**
   * Cell coordinates used for tables and plots (e.g. teacher "16e8a", student "4e2a",
   * rel_size 4, granularity 2, D 16, width 32, arch "2-3-MoE"). Not used for training.
   */
  labels: Record<string, string | number>;
}

/** A run's target: a teacher MoE built from a seed, an exported teacher file, or a function. */
export type TargetConfig =
  | { kind: "teacher"; teacher: MoeSpec; seed: number; init: "torch" | "paper" }
  | { kind: "teacher-file"; path: string; sha256: string }
  | { kind: "function"; name: string };

/** An (m, k, w, d)-MoE layer: the layer config of lib/nn/config.ts, as stored in a run config. */
export type MoeSpec = MoeLayerConfig;

/** A run's student: one MoE layer or a deep MoE. */
export type ModelConfig =
  | {
    kind: "moe";
    layer: MoeSpec;
    init: "torch" | "paper";
    /** Router load balancing while training (lib/nn/balance.ts); absent = none. */
    balance?: BalanceConfig;
  }
  | {
    kind: "deep";
    deep: Record<string, unknown>;
    /**
     * Router load balancing of every MoE layer while training; a biasRate is refused by
     * checkRunShape (deep layers have no selection bias).
     */
    balance?: BalanceConfig;
  };

/** A run's training protocol (optimizer, schedule, budget). */
export interface TrainConfig {
  /** A registered optimizer (lib/optim/registry.ts). */
  optimizer: OptimizerName;
  /** Base learning rate. */
  lr: number;
  /** AdamW's (beta1, beta2). */
  betas: [number, number];
  /** AdamW's epsilon. */
  eps: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** "cosine-epoch": cosine annealing to 0 stepped once per epoch (the authors'). */
  schedule: "cosine-epoch" | "cosine-step" | "constant";
  /** Linear learning-rate warm-up steps. */
  warmupSteps: number;
  /** Training epochs. */
  epochs: number;
  /** Training samples per epoch (fresh ones, unless `trainSamples` fixes the set). */
  samplesPerEpoch: number;
  /**
   * A fixed training set of this many samples, drawn once from the run's data key and
   * reshuffled every pass (lib/data/train_set.ts); omitted means fresh samples every step.
   */
  trainSamples?: number;
  /** Batch size. */
  batch: number;
  /** Test samples. */
  testSamples: number;
  /** SGD's momentum (optimizer "sgd" only); omitted means 0. */
  momentum?: number;
}

/** Per-epoch numbers of a run. */
export interface EpochRow {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  train_loss: number;
  /** Test loss after the epoch. */
  test_loss: number;
  /** Loss of the zero predictor on the test set. */
  zero_loss: number;
  /** test_loss / zero_loss. */
  normalized: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Each MoE layer's expert loads on the epoch's test set (absent in older records). */
  router?: LayerLoad[];
}

/** The outcome of one run. */
export interface RunResult {
  /** `diverged` when a loss became non-finite. */
  status: "ok" | "diverged";
  /** min over epochs of test_loss / zero_loss (NaN if diverged before any epoch). */
  score: number;
  /** Test loss after the last epoch. */
  final_test_loss: number;
  /** Minimum test loss over the epochs. */
  min_test_loss: number;
  /** Loss of the zero predictor on the test set. */
  zero_loss: number;
  /** Epochs run. */
  epochs: number;
  /** Optimizer steps run. */
  steps: number;
  /** Wall-clock seconds. */
  wall_s: number;
  /** Compute strategy actually used ("dense" | "sparse" | "deep"...). */
  strategy: string;
  /** Per-epoch numbers. */
  curves: EpochRow[];
}

/** A finished run as stored on disk (out/<experiment>/runs/<run_id>.json). */
export interface RunRecord {
  /** The canonical hash of `config`. */
  run_id: string;
  /** The run's configuration. */
  config: RunConfig;
  /** The run's outcome. */
  result: RunResult;
  /** Versions of the toolkit, Deno and onnxruntime that produced it. */
  versions: Record<string, string>;
  /** ISO time the run finished. */
  finished_at: string;
}

/** Live progress from inside a run (for the progress bar). */
export interface RunProgress {
  /** Current epoch (1-based). */
  epoch: number;
  /** Total epochs. */
  epochs: number;
  /** Steps done in this run. */
  step: number;
  /** Total steps of the run. */
  steps: number;
  /** Latest training loss, when known. */
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
