/**
 * The sweep's grouping policy (SweepOptions.group): which runs can train as one program, and
 * how many student parameters one program holds.
 */
import { numel } from "../graph/tensor.ts";
import { canonicalJson } from "../sweep/runid.ts";
import type { RunConfig } from "../sweep/types.ts";
import { studentParamShapes } from "./models.ts";

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
  return studentParamShapes(cfg).reduce((n, p) => n + numel(p.dims), 0);
}

/**
 * Runs with equal groupKey train together in groups of at most this many student parameters
 * in all; a larger student trains alone. Measured with `deno task bench` (2 runs in one
 * program vs alone, d = 256, batch 2048): +20-28 % run-steps/s for two 16e8a students (0.3 M
 * parameters each), +13 % for 64e8a (1.3 M), -5 % for 256e8a (5.2 M), where the students'
 * parameters and optimizer states outgrow the caches and the shared teacher forward is a small
 * part of the step.
 */
export const SWEEP_GROUP_MAX_PARAMS = 3e6;
