/**
 * What the executor reads from a RunConfig before building anything: the checks of the fields
 * it relies on, the learning-rate schedule and the optimizer (from the registry in
 * lib/optim/registry.ts).
 */
import { validateBalance } from "../nn/balance.ts";
import { targetByName } from "../data/targets.ts";
import { moeConfig } from "../nn/config.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { makeOptimizer } from "../optim/registry.ts";
import type { ScheduleSpec } from "../optim/schedule.ts";
import type { RunConfig } from "../sweep/types.ts";
import { deepConfigOf } from "./models.ts";

/** The schedule of `cfg` for `stepsPerEpoch` steps per epoch. */
export function scheduleOf(cfg: RunConfig, stepsPerEpoch: number): ScheduleSpec {
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

/** The optimizer `cfg.train` names, with its hyperparameters. */
export function optimizerOf(cfg: RunConfig): Optimizer {
  return makeOptimizer(cfg.train.optimizer, cfg.train);
}

/** Checks the parts of a config the executor relies on; one-line errors naming the field. */
export function checkRunShape(cfg: RunConfig): void {
  const tr = cfg.train;
  for (const f of ["epochs", "samplesPerEpoch", "batch", "testSamples"] as const) {
    if (!Number.isInteger(tr[f]) || tr[f] < 1) {
      throw new Error(`train.${f}: must be a positive integer, got ${tr[f]}`);
    }
  }
  if (
    tr.trainSamples !== undefined && !(Number.isInteger(tr.trainSamples) && tr.trainSamples >= 1)
  ) {
    throw new Error(`train.trainSamples: must be a positive integer, got ${tr.trainSamples}`);
  }
  if (tr.samplesPerEpoch % tr.batch !== 0) {
    throw new Error(
      `train.batch: must divide train.samplesPerEpoch (${tr.samplesPerEpoch}), got ${tr.batch}`,
    );
  }
  if (!(tr.lr > 0)) throw new Error(`train.lr: must be > 0, got ${tr.lr}`);
  optimizerOf(cfg);
  if (cfg.model.kind === "moe") {
    const layer = moeConfig(cfg.model.layer);
    if (cfg.model.balance !== undefined) {
      validateBalance(cfg.model.balance, layer, "model.balance.");
    }
    if (cfg.model.layer.dIn !== cfg.input.d) {
      throw new Error(
        `model.layer.dIn: must equal input.d (${cfg.input.d}), got ${cfg.model.layer.dIn}`,
      );
    }
  } else if (cfg.model.kind === "deep") {
    const c = deepConfigOf(cfg);
    if (cfg.model.balance !== undefined) {
      // Deep layers have no selection bias, so biasRate is refused here.
      validateBalance(cfg.model.balance, { gate: c.gate }, "model.balance.");
    }
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
