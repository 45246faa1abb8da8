/**
 * Plain overrides of a preset's settings (nanoGPT style): every field is optional and
 * replaces the preset's value when given. Validated here so that a bad value is a one-line
 * error naming the field before anything runs.
 */
import type { TrainConfig } from "../sweep/types.ts";

export const SCALES = ["quick", "full"] as const;
export type Scale = typeof SCALES[number];

export interface Overrides {
  d?: number;
  epochs?: number;
  samplesPerEpoch?: number;
  batch?: number;
  testSamples?: number;
  lrs?: number[];
  seeds?: number[];
  teacherSeed?: number;
  dtype?: "float32" | "float64";
  strategy?: "dense" | "sparse" | "auto";
  /** Paper A heatmaps: the architectures of the grid (shorthand, e.g. 16e8a). */
  archs?: string[];
  /** Paper A size sweeps: granularities and relative sizes. */
  granularities?: number[];
  relSizes?: number[];
  /** Paper B: ambient dimensions and expert widths. */
  dims?: number[];
  widths?: number[];
  /** Paper A: a teacher loaded from an exported .onnx file instead of the preset's teachers. */
  teacherFile?: string;
  /** Training protocol. */
  weightDecay?: number;
  warmupSteps?: number;
  schedule?: "cosine-epoch" | "cosine-step" | "constant";
  /** Set when any override is given, so results say the scale was customized. */
  custom?: boolean;
}

export const SCHEDULES = ["cosine-epoch", "cosine-step", "constant"] as const;

const posInt = (x: unknown) => Number.isInteger(x) && (x as number) > 0;

function check(field: string, ok: boolean, want: string, got: unknown): void {
  if (!ok) throw new Error(`${field}: must be ${want}, got ${JSON.stringify(got)}`);
}

/** Throws a one-line error naming the first invalid field. */
export function validateOverrides(o: Overrides): void {
  for (const f of ["d", "epochs", "samplesPerEpoch", "batch", "testSamples"] as const) {
    if (o[f] !== undefined) check(f, posInt(o[f]), "a positive integer", o[f]);
  }
  if (o.lrs) {
    check(
      "lrs",
      o.lrs.length > 0 && o.lrs.every((x) => x > 0 && Number.isFinite(x)),
      "positive numbers",
      o.lrs,
    );
  }
  if (o.seeds) {
    check("seeds", o.seeds.length > 0 && o.seeds.every(Number.isSafeInteger), "integers", o.seeds);
  }
  if (o.teacherSeed !== undefined) {
    check("teacherSeed", Number.isSafeInteger(o.teacherSeed), "an integer", o.teacherSeed);
  }
  if (o.dtype) {
    check("dtype", ["float32", "float64"].includes(o.dtype), "one of float32, float64", o.dtype);
  }
  if (o.strategy) {
    check(
      "strategy",
      ["dense", "sparse", "auto"].includes(o.strategy),
      "one of dense, sparse, auto",
      o.strategy,
    );
  }
  if (o.archs) {
    for (const a of o.archs) {
      const r = /^(\d+)e(\d+)a$/.exec(a);
      check(
        "archs",
        r !== null && Number(r[2]) >= 1 && Number(r[2]) <= Number(r[1]),
        "shorthands like 16e8a with 1 <= k <= m",
        a,
      );
    }
  }
  for (const f of ["granularities", "relSizes", "dims", "widths"] as const) {
    const v = o[f];
    if (v) check(f, v.length > 0 && v.every(posInt), "positive integers", v);
  }
  if (o.weightDecay !== undefined) {
    check(
      "weightDecay",
      o.weightDecay >= 0 && Number.isFinite(o.weightDecay),
      "a number >= 0",
      o.weightDecay,
    );
  }
  if (o.warmupSteps !== undefined) {
    check(
      "warmupSteps",
      Number.isInteger(o.warmupSteps) && o.warmupSteps >= 0,
      "an integer >= 0",
      o.warmupSteps,
    );
  }
  if (o.schedule) {
    check("schedule", SCHEDULES.includes(o.schedule), `one of ${SCHEDULES.join(", ")}`, o.schedule);
  }
  if (o.teacherFile !== undefined) {
    check(
      "teacherFile",
      typeof o.teacherFile === "string" && o.teacherFile !== "",
      "a file path",
      o.teacherFile,
    );
  }
  if (o.batch && o.samplesPerEpoch) {
    check(
      "batch",
      o.samplesPerEpoch % o.batch === 0,
      `a divisor of samplesPerEpoch (${o.samplesPerEpoch})`,
      o.batch,
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
}

/**
 * The training protocol of the authors' code (AdamW 0.9/0.999/1e-8, cosine annealing stepped
 * per epoch, no warm-up) with a preset's defaults, then the overrides.
 */
export function protocol(defaults: ProtocolDefaults, lr: number, o: Overrides): TrainConfig {
  return {
    optimizer: "adamw",
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
  };
}
