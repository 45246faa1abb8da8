/**
 * The overrides of a preset's settings (nanoGPT style), declared once as a knob table, and the
 * training protocol they adjust. A bad value is a one-line error naming the field before
 * anything runs.
 */
import type { TrainConfig } from "../sweep/types.ts";
import {
  checkKnobs,
  choice,
  int,
  ints,
  type KnobTable,
  type KnobValues,
  num,
  nums,
  str,
  strs,
} from "../cli/knobs.ts";
import { GATES, isShorthand, STRATEGIES } from "../nn/config.ts";
import { OPTIMIZER_NAMES } from "../optim/registry.ts";
import { TARGETS } from "../data/targets.ts";

/** The scales every preset has. */
export const SCALES = ["quick", "full"] as const;
/** A preset's scale: `quick` (minutes on a laptop CPU) or `full` (the papers' sizes). */
export type Scale = typeof SCALES[number];

export const SCHEDULES = ["cosine-epoch", "cosine-step", "constant"] as const;

const SHORTHAND = "shorthands like 16e8a with 1 <= k <= m";

/**
 * Every setting a user can override, on the command line (`--samples-per-epoch 65536`) or in a
 * JSON grid (`"samplesPerEpoch": 65536`). A new knob is one entry here (then read it where the
 * presets build their runs); flags, `--help`, grid fields and validation follow from it.
 * `arg` is the example `--help` shows and the CLI test tries. Entries with `select` pick runs of
 * the preset's grid without changing them (same run ids, same output folder).
 */
export const OVERRIDES = {
  d: int({ arg: "32", help: "input dimension (paper A keeps the preset's active neurons per d)" }),
  epochs: int({ arg: "10", help: "training epochs" }),
  samplesPerEpoch: int({ arg: "65536", help: "training samples per epoch" }),
  trainSamples: int({
    arg: "4096",
    help: "a fixed training set of N samples, drawn once per run and reshuffled every " +
      "epoch (default: fresh samples every step)",
  }),
  batch: int({ arg: "1024", help: "batch size (a divisor of the samples per epoch)" }),
  testSamples: int({ arg: "1024", help: "test samples (drawn once per run)" }),
  lrs: nums({
    arg: "0.01,0.003",
    help: "learning rates, one run each",
    want: "positive numbers",
    ok: (x) => x > 0,
  }),
  seeds: ints({ arg: "0,1", min: 0, help: "trial seeds (student init and data), one run each" }),
  teacherSeed: int({ arg: "1", min: 0, help: "paper A: seed of the teacher's weights" }),
  dtype: choice(["float32", "float64"], { help: "floating-point type of the whole run" }),
  strategy: choice(STRATEGIES, {
    help: "MoE compute: all experts masked, per-expert dispatch, or by size",
  }),
  archs: strs({
    arg: "4e2a,16e8a",
    help: "paper A heatmaps: the architectures (teachers and students)",
    want: SHORTHAND,
    ok: isShorthand,
  }),
  granularities: ints({ arg: "2,4", help: "paper A size sweeps: student granularities g" }),
  relSizes: ints({ arg: "1,2", help: "paper A size sweeps: relative sizes x (2·x·g experts)" }),
  dims: ints({ arg: "16,32", help: "paper B: ambient dimensions D" }),
  widths: ints({ arg: "16,32", help: "paper B: expert widths" }),
  expertDepth: int({
    arg: "2",
    help: "paper B: hidden layers per expert (Exp. II default 2, i.e. 3-layer experts; Exp. I 1)",
  }),
  hiddenDim: int({
    arg: "2",
    help: "paper B: the width between MoE layers (default: the expert width)",
  }),
  residual: choice(["on", "off"], {
    help: "paper B: add a MoE layer's input to its output where the widths agree (default off)",
  }),
  target: choice(Object.keys(TARGETS), {
    help: "paper B: the closed-form target (defaults: Exp. I sincos, Exp. II compose9; " +
      "piecewise9 is the earlier 9-piece target with jumps)",
  }),
  teacherFile: str({
    arg: "models/teacher-16e8a-d64-seed0.onnx",
    help: "paper A: learn this exported teacher instead of the preset's",
    want: "a file path",
  }),
  optimizer: choice(OPTIMIZER_NAMES, { help: "optimizer (default adamw; lib/optim/registry.ts)" }),
  weightDecay: num({ arg: "0.1", min: 0, help: "weight decay (AdamW: decoupled; SGD: L2)" }),
  momentum: num({ arg: "0.9", min: 0, help: "SGD momentum (with --optimizer sgd; default 0)" }),
  warmupSteps: int({ arg: "100", min: 0, help: "linear learning-rate warm-up steps" }),
  schedule: choice(SCHEDULES, { help: "learning-rate schedule (default cosine-epoch)" }),
  teachers: strs({
    arg: "32e16a",
    help: "run only these teachers' cells",
    want: SHORTHAND,
    ok: isShorthand,
    select: true,
  }),
  students: strs({
    arg: "4e2a,8e4a",
    help: "run only these students' cells",
    want: SHORTHAND,
    ok: isShorthand,
    select: true,
  }),
  gate: choice(GATES, {
    help: "the gate family of the students (paper A) or models (paper B) (lib/nn/config.ts Gate)",
  }),
  auxLoss: num({
    arg: "0.01",
    min: 0,
    help: "aux load-balancing loss alpha (paper A students; paper B: every MoE layer)",
  }),
  zLoss: num({
    arg: "0.001",
    min: 0,
    help: "router z-loss beta (paper A students; paper B: every MoE layer)",
  }),
  biasRate: num({
    arg: "0.001",
    min: 0,
    help: "paper A students: aux-loss-free bias balancing rate gamma (adds a selection bias)",
  }),
  routedScale: num({
    arg: "2.5",
    help: "paper A students: routed scaling factor of the gates",
    want: "a number > 0",
    ok: (x) => x > 0,
  }),
  sharedExperts: int({ arg: "1", help: "paper A students: always-active shared experts" }),
  cells: strs({
    arg: "32e16a:4e2a,8e4a:8e4a",
    help: "run only these teacher:student cells",
    want: "teacher:student pairs like 32e16a:4e2a",
    ok: (x) => x.split(":").length === 2 && x.split(":").every(isShorthand),
    select: true,
  }),
} satisfies KnobTable;

/**
 * Plain overrides of a preset's settings (every field optional, replacing the preset's value
 * when given), as declared in `OVERRIDES`.
 */
export type Overrides = KnobValues<typeof OVERRIDES> & {
  /** Set by the registry when a run-shaping override is given: the scale is "custom". */
  custom?: boolean;
};

/** The name of an entry of `OVERRIDES`. */
export type Setting = keyof typeof OVERRIDES;

/** The settings `protocol` and the run loops read: every preset takes them. */
export const TRAINING_SETTINGS = [
  "epochs",
  "samplesPerEpoch",
  "trainSamples",
  "batch",
  "testSamples",
  "lrs",
  "seeds",
  "dtype",
  "strategy",
  "optimizer",
  "weightDecay",
  "momentum",
  "warmupSteps",
  "schedule",
] as const satisfies readonly Setting[];

/** The keys of the selection entries (they pick runs and change none). */
export const SELECTION_KEYS = Object.entries(OVERRIDES).filter(([, k]) => k.select).map((
  [key],
) => key) as (keyof Overrides)[];

/** The overrides that change run configs: all given ones except selections and `custom`. */
export function shapingOverrides(o: Overrides): Overrides {
  return Object.fromEntries(
    Object.entries(o).filter(([k, v]) =>
      v !== undefined && k !== "custom" && !(SELECTION_KEYS as string[]).includes(k)
    ),
  ) as Overrides;
}

/** Throws a one-line error naming the first invalid field. */
export function validateOverrides(o: Overrides): void {
  checkKnobs(OVERRIDES, o);
  if (o.batch && o.samplesPerEpoch && o.samplesPerEpoch % o.batch !== 0) {
    throw new Error(
      `batch: must be a divisor of samplesPerEpoch (${o.samplesPerEpoch}), got ${o.batch}`,
    );
  }
}

/** A preset's default budget and weight decay; everything else is the authors' AdamW protocol. */
export interface ProtocolDefaults {
  epochs: number;
  samplesPerEpoch: number;
  batch: number;
  testSamples: number;
  weightDecay: number;
  /** A fixed training set's size; undefined: fresh samples. */
  trainSamples?: number;
}

/**
 * The training protocol of the authors' code (AdamW 0.9/0.999/1e-8, cosine annealing stepped
 * per epoch, no warm-up) with a preset's defaults, then the overrides (e.g. another optimizer
 * of the registry).
 */
export function protocol(defaults: ProtocolDefaults, lr: number, o: Overrides): TrainConfig {
  const trainSamples = o.trainSamples ?? defaults.trainSamples;
  return {
    optimizer: o.optimizer ?? "adamw",
    lr,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: o.weightDecay ?? defaults.weightDecay,
    schedule: o.schedule ?? "cosine-epoch",
    warmupSteps: o.warmupSteps ?? 0,
    epochs: o.epochs ?? defaults.epochs,
    samplesPerEpoch: o.samplesPerEpoch ?? defaults.samplesPerEpoch,
    batch: o.batch ?? defaults.batch,
    testSamples: o.testSamples ?? defaults.testSamples,
    // Omitted at its default (0), so runs without momentum keep their ids.
    ...(o.momentum ? { momentum: o.momentum } : {}),
    // Omitted without a fixed set (fresh samples), so those runs keep their ids.
    ...(trainSamples !== undefined ? { trainSamples } : {}),
  };
}
