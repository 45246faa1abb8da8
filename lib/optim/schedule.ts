/**
 * Learning-rate schedules computed in-graph from a step counter, and the same formulas in
 * plain TypeScript. Cosine is torch's CosineAnnealingLR in closed form,
 *   lr = eta_min + (base - eta_min) * (1 + cos(pi * T_cur / T_max)) / 2,
 * with T_cur = step, T_max = totalSteps ("step") or T_cur = floor(step / stepsPerEpoch),
 * T_max = totalSteps / stepsPerEpoch ("epoch": torch's scheduler.step() once per epoch).
 * Like torch, nothing is clamped past T_max (the cosine keeps going). Warm-up multiplies the
 * result by min(1, (step + 1) / warmupSteps). The in-graph math runs in float64 and is cast to
 * the base lr's dtype at the end, so a float32 graph gets lrAt's value rounded once.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import { asDType, asF64 } from "./optimizer.ts";
import {
  checkKeys,
  checkNumber,
  nonNegative,
  nonNegativeInt,
  positiveInt,
  show,
} from "../validate.ts";

/** A learning-rate schedule: constant, or cosine annealing per step or per epoch. */
export type Schedule =
  | { kind: "constant" }
  | {
    kind: "cosine";
    /** "step": anneal every optimizer step; "epoch": anneal once per epoch (as the authors). */
    per: "step" | "epoch";
    /** Length of the anneal in optimizer steps (T_max in steps); a multiple of stepsPerEpoch. */
    totalSteps: number;
    /** Required for per "epoch"; ignored for per "step". */
    stepsPerEpoch?: number;
    /** Final lr (torch's eta_min), >= 0. Default 0. */
    etaMin?: number;
  };

/** A schedule with an optional linear warm-up. */
export interface ScheduleSpec {
  /** The schedule after the warm-up. */
  schedule: Schedule;
  /** Linear warm-up length in steps (0 or absent: none). */
  warmupSteps?: number;
}

export const SCHEDULE_KINDS = ["constant", "cosine"] as const;
export const COSINE_PER = ["step", "epoch"] as const;

/** A validated spec reduced to what the formulas need. */
interface Plan {
  cosine?: { perEpoch: boolean; stepsPerEpoch: number; tMax: number; etaMin: number };
  warmup: number;
}

/** Validates `spec`; throws a one-line error naming the bad field and its allowed values. */
export function checkScheduleSpec(spec: ScheduleSpec): void {
  plan(spec);
}

function plan(spec: ScheduleSpec): Plan {
  if (typeof spec !== "object" || spec === null) {
    throw new Error(`schedule spec: must be an object {schedule, warmupSteps?}, got ${show(spec)}`);
  }
  checkKeys("schedule spec", spec, ["schedule", "warmupSteps"]);
  const warmup = checkNumber(
    "warmupSteps",
    spec.warmupSteps ?? 0,
    "an integer >= 0",
    nonNegativeInt,
  );
  const s = spec.schedule as Record<string, unknown> | undefined;
  if (typeof s !== "object" || s === null) {
    throw new Error(`schedule: must be an object with kind (${SCHEDULE_KINDS.join(", ")})`);
  }
  if (s.kind === "constant") {
    checkKeys("schedule (constant)", s, ["kind"]);
    return { warmup };
  }
  if (s.kind !== "cosine") {
    throw new Error(
      `schedule.kind: unknown ${show(s.kind)} (allowed: ${SCHEDULE_KINDS.join(", ")})`,
    );
  }
  checkKeys("schedule (cosine)", s, ["kind", "per", "totalSteps", "stepsPerEpoch", "etaMin"]);
  if (!(COSINE_PER as readonly unknown[]).includes(s.per)) {
    throw new Error(`schedule.per: unknown ${show(s.per)} (allowed: ${COSINE_PER.join(", ")})`);
  }
  const total = checkNumber("schedule.totalSteps", s.totalSteps, "an integer > 0", positiveInt);
  const etaMin = checkNumber("schedule.etaMin", s.etaMin ?? 0, "a number >= 0", nonNegative);
  const perEpoch = s.per === "epoch";
  let spe = 1;
  if (perEpoch) {
    spe = checkNumber(
      "schedule.stepsPerEpoch",
      s.stepsPerEpoch,
      'an integer > 0 (required for per "epoch")',
      positiveInt,
    );
    if (total % spe !== 0) {
      throw new Error(
        `schedule.totalSteps: must be a multiple of stepsPerEpoch (${spe}) for per "epoch", got ${total}`,
      );
    }
  } else if (s.stepsPerEpoch !== undefined) {
    checkNumber("schedule.stepsPerEpoch", s.stepsPerEpoch, "an integer > 0", positiveInt);
  }
  return { cosine: { perEpoch, stepsPerEpoch: spe, tMax: total / spe, etaMin }, warmup };
}

/**
 * The lr for the 0-based global step `step` (int64 scalar) given the base lr: a float scalar,
 * or a [G] vector of per-group base lrs (the result then has shape [G]; see groups.ts).
 * Returns `baseLr` itself for a constant schedule without warm-up.
 */
export function scheduledLr(g: Graph, spec: ScheduleSpec, baseLr: Value, step: Value): Value {
  const p = plan(spec);
  if (!isFloat(baseLr.dtype)) {
    throw new Error(`scheduledLr: baseLr must be float32 or float64, got ${baseLr.dtype}`);
  }
  if (step.dtype !== "int64" || (step.shape && step.shape.length !== 0)) {
    throw new Error(`scheduledLr: step must be an int64 scalar, got ${step}`);
  }
  if (!p.cosine && p.warmup === 0) return baseLr;
  const { op } = g;
  // Same operation order as lrAt, so float64 results agree to the last bit or two.
  let lr = asF64(g, baseLr);
  if (p.cosine) {
    const c = p.cosine;
    const tCur = op.Cast(c.perEpoch ? op.Div(step, BigInt(c.stepsPerEpoch)) : step, "float64");
    const cos = op.Cos(op.Div(op.Mul(tCur, Math.PI), c.tMax));
    lr = op.Add(op.Div(op.Mul(op.Sub(lr, c.etaMin), op.Add(cos, 1)), 2), c.etaMin);
  }
  if (p.warmup > 0) {
    const frac = op.Div(op.Cast(op.Add(step, 1n), "float64"), p.warmup);
    lr = op.Mul(lr, op.Min(frac, 1));
  }
  return asDType(g, lr, baseLr.dtype);
}

/** `scheduledLr` in plain TypeScript (float64) for the 0-based step `step`. */
export function lrAt(spec: ScheduleSpec, baseLr: number, step: number): number {
  const p = plan(spec);
  checkNumber("lrAt.baseLr", baseLr, "a number >= 0", nonNegative);
  checkNumber("lrAt.step", step, "an integer >= 0", nonNegativeInt);
  let lr = baseLr;
  if (p.cosine) {
    const c = p.cosine;
    const tCur = c.perEpoch ? Math.floor(step / c.stepsPerEpoch) : step;
    lr = c.etaMin + ((lr - c.etaMin) * (1 + Math.cos(tCur * Math.PI / c.tMax))) / 2;
  }
  if (p.warmup > 0) lr = lr * Math.min((step + 1) / p.warmup, 1);
  return lr;
}
