/**
 * Executes RunConfigs with the authors' protocol: the optimizer of train.optimizer (AdamW in
 * the presets), cosine schedule, epochs of fresh samples, a fresh fixed-size test set per
 * epoch, MSE summed over outputs and averaged over the batch. The teacher (or closed-form
 * target) and the student live in one training graph; each onnxruntime run() performs a chunk
 * of steps. Score = min over epochs of test_loss / zero_loss.
 *
 * The parts: models.ts (student and target), train_config.ts (checks, schedule, optimizer),
 * prepare.ts (the programs and the data), grouping.ts (which runs share a program),
 * epochs.ts (the epoch loop). A single run is trained as a group of one.
 */
import type { HostTensor } from "../graph/tensor.ts";
import type { Executor, GroupExecutor, RunConfig, RunResult } from "../sweep/types.ts";
import { runId } from "../sweep/runid.ts";
import { describeModel, writeModel } from "../export/onnx_export.ts";
import { studentSpec } from "./models.ts";
import { type ExecutorOptions, prepareGroup } from "./prepare.ts";
import { summarize, trainEpochs } from "./epochs.ts";

export { checkRunShape } from "./train_config.ts";
export { groupKey, studentParamCount, SWEEP_GROUP_MAX_PARAMS } from "./grouping.ts";
export {
  type ExecutorOptions,
  type PreparedGroup,
  type PreparedRun,
  prepareGroup,
  prepareRun,
} from "./prepare.ts";

/** The executor the sweep engine drives: a run is trained as a group of one. */
export function makeExecutor(opts: ExecutorOptions = {}): Executor {
  const group = makeGroupExecutor(opts);
  return async (cfg, hooks) => (await group([cfg], hooks))[0];
}

/**
 * The group executor the sweep engine drives (SweepOptions.group): trains runs that share
 * groupKey as one program and returns, per run, what it returns for that run alone (the same
 * curves, status, steps and scores); wall_s is the group's wall time divided among its runs.
 * A run that diverges stops being recorded after the chunk that diverged; the others go on.
 */
export function makeGroupExecutor(opts: ExecutorOptions = {}): GroupExecutor {
  return async (cfgs, hooks) => {
    const t0 = performance.now();
    const run = await prepareGroup(cfgs, opts);
    let tracks;
    try {
      tracks = await trainEpochs(run, cfgs, hooks);
    } finally {
      await run.release();
    }
    const wall = (performance.now() - t0) / 1000 / run.size;
    const results: RunResult[] = [];
    for (const [r, t] of tracks.entries()) {
      if (opts.saveModelDir && !t.diverged) {
        await saveStudent(opts.saveModelDir, cfgs[r], run.paramsOf(r));
      }
      const steps = t.diverged ? t.divergedAt : run.trainer.state.step;
      results.push(summarize(t, steps, run.strategyOf(r), wall));
    }
    return results;
  };
}

/** Writes the trained student of `cfg` (its parameters by name) as `<dir>/<run_id>.onnx`. */
async function saveStudent(
  dir: string,
  cfg: RunConfig,
  trained: Record<string, HostTensor>,
): Promise<void> {
  const model = studentSpec(cfg);
  const id = runId(cfg);
  const description = `Trained student of run ${id} (experiment ${cfg.experiment}, ` +
    `${JSON.stringify(cfg.labels)}, lr ${cfg.train.lr}, seed ${cfg.seed}), parameters after ` +
    `${cfg.train.epochs} epochs. ` +
    describeModel(model, { seed: null, init: null, dtype: cfg.dtype, strategy: "dense" });
  // writeModel checks the names and dims against the config's layout and orders them itself.
  await writeModel(
    `${dir.replace(/\/+$/, "") || "/"}/${id}.onnx`,
    model,
    new Map(Object.entries(trained)),
    { preset: cfg.experiment, description },
  );
}
