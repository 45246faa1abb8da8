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

/**
 * A group's programs run on one intra-op thread unless the user sets `threads`, when its
 * students' parameters times the batch are at most this (paper B: Exp. I groups 8.8e6, Exp. II
 * full 2.1e8). Their ops are too small to split: measured on the shared 2-core machine
 * (2026-12-01, docs/reproduction/paperB-timing.md), `deno task sweep paperB-exp1 --scale full
 * --dims 128 --seeds 0` took 25.6 s wall and 16.7 s CPU on one thread, 75.7 s and 50.1 s on
 * two, with bit-identical results.
 */
export const SINGLE_THREAD_MAX_WORK = 2.5e8;

/** The intra-op threads of a group when none are given: 1 for small groups, else the default. */
export function defaultThreads(cfgs: RunConfig[]): number | undefined {
  const work = cfgs.reduce((n, c) => n + studentParamCount(c) * c.train.batch, 0);
  return work <= SINGLE_THREAD_MAX_WORK ? 1 : undefined;
}
