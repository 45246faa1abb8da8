/**
 * The epoch loop of a prepared group: each epoch trains every live run on the epoch's fresh
 * samples (a chunk of steps per run() call), then evaluates each on a fresh fixed-size test
 * set. A run whose loss turns non-finite stops being trained and recorded after the chunk or
 * evaluation that showed it; the others go on.
 */
import type { HostTensor } from "../graph/tensor.ts";
import { tensor } from "../graph/tensor.ts";
import { lrAt } from "../optim/schedule.ts";
import type { EpochRow, RunConfig, RunProgress, RunResult } from "../sweep/types.ts";
import type { PreparedGroup } from "./prepare.ts";

/** What the loop reports to its caller (the sweep engine's hooks). */
export interface EpochHooks {
  onProgress(p: RunProgress): void;
  signal: AbortSignal;
}

/** One run's course through the epochs. */
export interface RunTrack {
  curves: EpochRow[];
  diverged: boolean;
  /** The optimizer step at which divergence showed (meaningful when diverged). */
  divergedAt: number;
}

function abortError(): Error {
  return new DOMException("run aborted", "AbortError");
}

/** Runs every epoch of `cfgs` (the group `run` was prepared from); returns each run's track. */
export async function trainEpochs(
  run: PreparedGroup,
  cfgs: RunConfig[],
  hooks: EpochHooks,
): Promise<RunTrack[]> {
  const tracks: RunTrack[] = cfgs.map(() => ({ curves: [], diverged: false, divergedAt: 0 }));
  const epochs = cfgs[0].train.epochs;
  for (let epoch = 0; epoch < epochs && tracks.some((t) => !t.diverged); epoch++) {
    const sums = await trainEpoch(run, cfgs, tracks, epoch, hooks);
    await evaluateEpoch(run, cfgs, tracks, epoch, sums);
  }
  return tracks;
}

/**
 * Trains one epoch's steps; returns each run's sum of per-step training losses. A run that
 * diverges is marked at the end of the chunk that showed it; the epoch ends early when none is
 * left.
 */
async function trainEpoch(
  run: PreparedGroup,
  cfgs: RunConfig[],
  tracks: RunTrack[],
  epoch: number,
  hooks: EpochHooks,
): Promise<Float64Array> {
  const { trainer, stepsPerEpoch, chunk, size: R } = run;
  const epochs = cfgs[0].train.epochs;
  const sums = new Float64Array(R);
  for (let done = 0; done < stepsPerEpoch && tracks.some((t) => !t.diverged);) {
    if (hooks.signal.aborted) throw abortError();
    const n = Math.min(chunk, stepsPerEpoch - done);
    const losses = await trainer.run(n, await run.fetchBatch(n));
    tracks.forEach((t, r) => {
      if (t.diverged) return;
      for (let s = 0; s < n; s++) {
        const l = losses[s * R + r];
        if (!Number.isFinite(l)) t.diverged = true;
        sums[r] += l;
      }
      if (t.diverged) t.divergedAt = trainer.state.step;
    });
    done += n;
    hooks.onProgress({
      epoch: epoch + 1,
      epochs,
      step: trainer.state.step,
      steps: epochs * stepsPerEpoch,
      loss: losses[losses.length - R],
    });
  }
  return sums;
}

/** Evaluates every live run on epoch `epoch`'s test set and appends its row to its curve. */
async function evaluateEpoch(
  run: PreparedGroup,
  cfgs: RunConfig[],
  tracks: RunTrack[],
  epoch: number,
  sums: Float64Array,
): Promise<void> {
  const cfg = cfgs[0];
  const dt = cfg.dtype;
  const test = run.source.testSet(epoch, cfg.train.testSamples);
  const feeds: Record<string, HostTensor> = { x: tensor(dt, test.xDims, test.x) };
  if (test.y && test.yDims) feeds.y = tensor(dt, test.yDims, test.y);
  for (const [r, t] of tracks.entries()) {
    if (t.diverged) continue;
    const m = await run.evaluatorOf(r).run(run.paramsOf(r), feeds);
    const row = epochRow(epoch, sums[r] / run.stepsPerEpoch, metricValues(m), {
      lr: lrAt(run.schedule, cfgs[r].train.lr, epoch * run.stepsPerEpoch),
    });
    const router = await run.routerOf(r).run(run.paramsOf(r), feeds.x);
    if (router.length) row.router = router;
    if (!Number.isFinite(row.test_loss)) {
      t.diverged = true;
      t.divergedAt = run.trainer.state.step;
    }
    t.curves.push(row);
  }
}

/** The evaluator's scalar metrics as numbers. */
function metricValues(m: Record<string, HostTensor>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v.data[0])]));
}

/** One epoch's row from its mean training loss, the evaluator's metrics and the epoch's lr. */
function epochRow(
  epoch: number,
  trainLoss: number,
  m: Record<string, number>,
  at: { lr: number },
): EpochRow {
  return {
    epoch: epoch + 1,
    train_loss: trainLoss,
    test_loss: m.test_loss,
    zero_loss: m.zero_loss,
    normalized: m.test_loss / m.zero_loss,
    lr: at.lr,
  };
}

/** A run's result from its track. */
export function summarize(
  track: RunTrack,
  steps: number,
  strategy: string,
  wall: number,
): RunResult {
  const { curves, diverged } = track;
  const finite = curves.filter((c) => Number.isFinite(c.normalized));
  const last = curves[curves.length - 1];
  return {
    status: diverged ? "diverged" : "ok",
    score: finite.length ? Math.min(...finite.map((c) => c.normalized)) : NaN,
    final_test_loss: last?.test_loss ?? NaN,
    min_test_loss: finite.length ? Math.min(...finite.map((c) => c.test_loss)) : NaN,
    zero_loss: last?.zero_loss ?? NaN,
    epochs: curves.length,
    steps,
    wall_s: Math.round(wall * 1000) / 1000,
    strategy,
    curves,
  };
}
