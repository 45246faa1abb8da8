/**
 * The sweep engine: runs a list of RunConfigs through an Executor, one at a time, so that the
 * sweep can be killed at any instant and resumed by rerunning the same command.
 *
 * - A finished run is a record written atomically to `<outDir>/runs/<run_id>.json`; runs whose
 *   record exists are skipped. After every finished run results.csv, best.csv and curves.csv are
 *   rebuilt from all records (atomically), so even SIGKILL loses no finished run.
 * - An executor that throws is reported and the sweep goes on; no record is written, so the run
 *   is retried next time. A diverged run is a normal result (status "diverged").
 * - Ctrl-C (SIGINT) or `signal` aborts the current run through the executor's AbortSignal,
 *   writes no record for it, rebuilds the tables and returns `interrupted: true` (exit 130);
 *   a second Ctrl-C exits at once (records are atomic, so that is safe too).
 * - All input is validated before anything is written; the output folder's writability is
 *   checked before anything trains.
 * - Several processes may share one output folder: each run is claimed before it trains (see
 *   claims.ts), a run claimed by a live worker is left to it, and once its own runs are done a
 *   worker waits for the others' runs, taking over those whose worker died.
 * - With a `configuration`, the tables only hold runs of that configuration; records of others
 *   (folders mixed by older versions) are reported and left out.
 */
import { canonicalJson, runId } from "./runid.ts";
import {
  checkOutDir,
  checkRunConfig,
  checkVersions,
  type InvalidRecord,
  normalizeResult,
  readRecords,
  runsDir,
  writeRecord,
} from "./records.ts";
import { type AfterRebuild, rebuildOutputs } from "./outputs.ts";
import { checkShard, type Shard, shardRuns } from "./shard.ts";
import { type ClaimOptions, Claims } from "./claims.ts";
import {
  type Configuration,
  configurationKey,
  foreignReport,
  splitRecords,
} from "./configuration.ts";
import { checkWritable } from "./preflight.ts";
import { type ProgressSink, silentProgress, TextProgress } from "./progress.ts";
import { compactLabel } from "./tables.ts";
import type { Executor, GroupExecutor, RunConfig, RunResult } from "./types.ts";
import { groups } from "./batches.ts";

/** What runSweep needs. */
export interface SweepOptions {
  /** The experiment directory, e.g. "out/fig2"; created if missing, must not be a file. */
  outDir: string;
  /** The full run list (every shard passes the same list); run ids must be distinct. */
  runs: RunConfig[];
  /** Runs one run (groups go to `group.execute` when given). */
  execute: Executor;
  /** Stored in every record, e.g. { deno, "onnxruntime-node", "moe-onnx" }. */
  versions: Record<string, string>;
  /** Run only this shard of `runs` (see shardRuns). */
  shard?: Shard;
  /** Progress display: a sink, false for none, or (default) TextProgress on stderr. */
  progress?: ProgressSink | false;
  /** Called after every rebuild of the tables (e.g. plots); a throw is reported, not fatal. */
  afterRebuild?: AfterRebuild;
  /** Aborting it stops the sweep like Ctrl-C. */
  signal?: AbortSignal;
  /** Listen for SIGINT (Ctrl-C) during the sweep (default true). */
  handleSigint?: boolean;
  /**
   * Runs together what can run together: pending runs with equal `key` (e.g. a teacher's
   * students and learning rates) go to `execute` as one call, in the order of their first run,
   * split in order into groups whose `weight`s sum to at most `maxWeight` (a heavier run goes
   * alone); a run left alone goes to the single-run executor. Each run still gets its own
   * record, written as soon as its group returns; an interrupted group writes none.
   */
  group?: {
    key(config: RunConfig): string;
    execute: GroupExecutor;
    weight?(config: RunConfig): number;
    maxWeight?: number;
  };
  /** The sweep's configuration (configuration.ts); every run must be of it. */
  configuration?: Configuration;
  /** Claim options (claims.ts), or false to claim nothing (a folder no other worker uses). */
  claims?: ClaimOptions | false;
  /** How often to look at runs claimed by other workers, ms (default 2000). */
  pollMs?: number;
}

/** What happened. Counts are over the runs of this shard. */
export interface SweepSummary {
  /** Runs in this shard. */
  total: number;
  /** Runs that already had a record when the sweep started. */
  skipped: number;
  /** Runs finished by other workers on the same folder while this sweep ran. */
  byOthers: number;
  /** Records in the folder of other configurations (left out of the tables). */
  foreign: number;
  /** Runs finished (record written) by this call, diverged ones included. */
  done: number;
  /** Of `done`, how many diverged. */
  diverged: number;
  /** Runs whose executor threw (no record written; retried next time). */
  failed: { run_id: string; error: string }[];
  /** Stopped by SIGINT or `signal` before all runs were attempted. */
  interrupted: boolean;
  /** Record files that could not be used (reported; their runs count as not done). */
  invalidRecords: InvalidRecord[];
  /** Errors from rebuilding the tables or from afterRebuild (reported; records are safe). */
  outputErrors: string[];
  /** The one-line summary that was printed, e.g. "stopped: 12/128 runs done; rerun ...". */
  message: string;
}

/** Process exit code for a summary: 130 if interrupted, 1 if anything failed, else 0. */
export function sweepExitCode(s: SweepSummary): number {
  if (s.interrupted) return 130;
  return s.failed.length > 0 || s.outputErrors.length > 0 ? 1 : 0;
}

interface Planned {
  id: string;
  config: RunConfig;
}

/** Validates everything and returns the runs of this shard, before anything is written. */
async function plan(opts: SweepOptions): Promise<Planned[]> {
  if (opts === null || typeof opts !== "object") throw new Error("options: must be an object");
  await checkOutDir(opts.outDir, "outDir");
  if (!Array.isArray(opts.runs)) throw new Error("runs: must be an array of RunConfig");
  if (typeof opts.execute !== "function") throw new Error("execute: must be an Executor function");
  checkVersions(opts.versions, "versions");
  if (opts.shard !== undefined) checkShard(opts.shard);
  if (
    opts.group !== undefined &&
    (typeof opts.group?.key !== "function" || typeof opts.group?.execute !== "function")
  ) {
    throw new Error("group: must be { key(config), execute(configs, hooks) }");
  }
  const firstIndex = new Map<string, number>();
  opts.runs.forEach((config, i) => {
    checkRunConfig(config, `runs[${i}]`);
    canonicalJson(config, `runs[${i}]`);
    const id = runId(config);
    const j = firstIndex.get(id);
    if (j !== undefined) {
      throw new Error(`runs[${i}]: duplicate of runs[${j}] (same config, run id ${id})`);
    }
    firstIndex.set(id, i);
  });
  const conf = opts.configuration;
  opts.runs.forEach((config, i) => {
    if (conf && configurationKey(config, conf.axes) !== conf.key) {
      throw new Error(`runs[${i}]: not of configuration ${conf.id}`);
    }
  });
  const runs = opts.shard ? shardRuns(opts.runs, opts.shard.index, opts.shard.count) : opts.runs;
  return runs.map((config) => ({ id: runId(config), config }));
}

/** A run's optimizer steps (epochs × steps per epoch), the progress unit. */
function stepsOf(run: Planned): number {
  const t = run.config.train;
  return Math.max(0, Math.round((t.epochs * t.samplesPerEpoch) / t.batch)) || 0;
}

function errorText(err: unknown): { message: string; detail: string } {
  if (err instanceof Error) {
    return { message: err.message, detail: err.stack ?? `${err.name}: ${err.message}` };
  }
  return { message: String(err), detail: String(err) };
}

/**
 * Runs the sweep described by `opts` (see the module doc and SweepOptions) and returns its
 * summary; the caller exits with sweepExitCode(summary). Throws (one line, naming the field)
 * on invalid options before touching `outDir`, and on I/O errors writing records.
 */
export async function runSweep(opts: SweepOptions): Promise<SweepSummary> {
  const runs = await plan(opts);
  const { outDir } = opts;
  const sink = opts.progress === false ? silentProgress : opts.progress ?? new TextProgress();

  await checkWritable(outDir, "outDir");
  await Deno.mkdir(runsDir(outDir), { recursive: true });
  const scan = await readRecords(outDir);
  for (const bad of scan.invalid) {
    sink.warn(`warning: ignoring record ${bad.path}: ${bad.error} (its run counts as not done)`);
  }
  const foreign = opts.configuration ? splitRecords(scan.records, opts.configuration).foreign : [];
  if (foreign.length) sink.warn(foreignReport(outDir, opts.configuration!, foreign));
  const finished = new Set(scan.records.map((r) => r.run_id));
  const pending = runs.filter((r) => !finished.has(r.id));
  const summary: SweepSummary = {
    total: runs.length,
    skipped: runs.length - pending.length,
    byOthers: 0,
    foreign: foreign.length,
    done: 0,
    diverged: 0,
    failed: [],
    interrupted: false,
    invalidRecords: scan.invalid,
    outputErrors: [],
    message: "",
  };

  const abort = new AbortController();
  const stop = () => {
    if (!abort.signal.aborted) {
      abort.abort(new DOMException("sweep interrupted", "AbortError"));
    }
  };
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) {
      sink.end("interrupted again: exiting now (finished runs are saved)");
      Deno.exit(130);
    }
    sink.warn("interrupt: aborting the current run (Ctrl-C again to quit at once)");
    stop();
  };
  const listen = opts.handleSigint !== false;
  if (listen) Deno.addSignalListener("SIGINT", onSigint);
  opts.signal?.addEventListener("abort", stop, { once: true });
  if (opts.signal?.aborted) stop();

  const rebuild = async () => {
    try {
      await rebuildOutputs(outDir, {
        afterRebuild: opts.afterRebuild,
        configuration: opts.configuration,
      });
    } catch (err) {
      const { message } = errorText(err);
      summary.outputErrors.push(message);
      sink.warn(`warning: rebuilding the tables of ${outDir} failed: ${message}`);
    }
  };

  /**
   * Runs one group (a single run is a group of one); false when the sweep was interrupted
   * during it. A result returned after an abort may be partial: it is never recorded.
   */
  const runGroup = async (batch: Planned[], execute: GroupExecutor): Promise<boolean> => {
    const labels = batch.map((r) => compactLabel(r.config));
    const label = batch.length === 1
      ? labels[0]
      : `${labels[0]} (+${batch.length - 1} in one program)`;
    sink.runStart({ run_id: batch[0].id, label, runs: batch.length, steps: stepsOf(batch[0]) });
    const t0 = performance.now();
    const wall = () => (performance.now() - t0) / 1000 / batch.length;
    const aborted = () => {
      batch.forEach((r, i) =>
        sink.runEnd({ run_id: r.id, label: labels[i], outcome: "aborted", wall_s: wall() })
      );
      return false;
    };
    let results: RunResult[];
    try {
      const raw = await execute(batch.map((r) => r.config), {
        onProgress: (p) => {
          if (!abort.signal.aborted) sink.runProgress(p);
        },
        signal: abort.signal,
      });
      if (abort.signal.aborted) return aborted();
      if (!Array.isArray(raw) || raw.length !== batch.length) {
        throw new Error(
          `group executor: expected ${batch.length} results, got ${
            Array.isArray(raw) ? raw.length : typeof raw
          }`,
        );
      }
      results = raw.map((r, i) =>
        normalizeResult(r, batch.length === 1 ? "result" : `result[${i}]`)
      );
    } catch (err) {
      if (abort.signal.aborted) return aborted();
      const { message, detail } = errorText(err);
      batch.forEach((r, i) => {
        summary.failed.push({ run_id: r.id, error: message });
        sink.runEnd({
          run_id: r.id,
          label: labels[i],
          outcome: "failed",
          wall_s: wall(),
          error: detail,
        });
      });
      return true;
    }
    for (const [i, r] of batch.entries()) await record(r, results[i], wall(), labels[i]);
    await rebuild();
    return true;
  };

  const record = async (run: Planned, result: RunResult, wall_s: number, label: string) => {
    await writeRecord(outDir, {
      run_id: run.id,
      config: run.config,
      result,
      versions: { ...opts.versions },
      finished_at: new Date().toISOString(),
    });
    summary.done++;
    if (result.status === "diverged") summary.diverged++;
    sink.runEnd({ run_id: run.id, label, outcome: result.status, wall_s, score: result.score });
  };

  /** The single-run executor as a group executor of one run. */
  const single: GroupExecutor = async (configs, hooks) => [await opts.execute(configs[0], hooks)];

  const claims = opts.claims === false ? undefined : new Claims(outDir, opts.claims);
  /** Claims what it can of `batch`: the runs to train now, and those busy elsewhere. */
  const take = async (batch: Planned[]) => {
    const mine: Planned[] = [], busy: Planned[] = [];
    for (const r of batch) {
      const state = claims
        ? await claims.claim(r.id, (why) => sink.warn(`taking over run ${r.id}: ${why}`))
        : "mine";
      if (state === "mine") mine.push(r);
      else if (state === "busy") busy.push(r);
      else summary.byOthers++;
    }
    return { mine, busy };
  };

  try {
    const work = pending.reduce((sum, r) => sum + stepsOf(r), 0);
    sink.start({ total: summary.total, skipped: summary.skipped, work });
    let queue = pending;
    while (queue.length > 0 && !abort.signal.aborted) {
      const waiting: Planned[] = [];
      for (const batch of opts.group ? groups(queue, opts.group) : queue.map((r) => [r])) {
        if (abort.signal.aborted) break;
        const { mine, busy } = await take(batch);
        waiting.push(...busy);
        if (mine.length === 0) continue;
        const execute = mine.length > 1 ? opts.group!.execute : single;
        const ok = await runGroup(mine, execute);
        for (const r of mine) await claims?.release(r.id);
        if (!ok) break;
      }
      queue = waiting;
      // Runs other workers hold: wait for their records, or for their claims to go stale.
      if (queue.length > 0 && !abort.signal.aborted) {
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
      }
    }
    summary.interrupted = abort.signal.aborted &&
      summary.skipped + summary.byOthers + summary.done + summary.failed.length < summary.total;
    // Also when nothing ran: the tables then reflect exactly the records on disk.
    await rebuild();
  } finally {
    await claims?.releaseAll();
    if (listen) Deno.removeSignalListener("SIGINT", onSigint);
    opts.signal?.removeEventListener("abort", stop);
  }

  summary.message = summaryLine(summary, outDir);
  sink.end(summary.message);
  return summary;
}

function summaryLine(s: SweepSummary, outDir: string): string {
  const done = `${s.skipped + s.byOthers + s.done}/${s.total} runs done`;
  const failed = s.failed.length
    ? `, ${s.failed.length} failed (${s.failed.slice(0, 5).map((f) => f.run_id).join(", ")}` +
      `${s.failed.length > 5 ? ", ..." : ""})`
    : "";
  if (s.interrupted) return `stopped: ${done}${failed}; rerun the same command to resume`;
  if (s.failed.length) return `finished: ${done}${failed}; rerun the same command to retry them`;
  const extra = [`${s.skipped} skipped`, `${s.diverged} diverged`];
  if (s.byOthers) extra.push(`${s.byOthers} by other workers`);
  if (s.foreign) extra.push(`${s.foreign} runs of other configurations left out`);
  if (s.outputErrors.length) extra.push(`${s.outputErrors.length} table rebuild errors`);
  return `done: ${done} (${extra.join(", ")}) in ${outDir}`;
}
