/**
 * Sweep progress for humans, on stderr by default. On a terminal one status line is redrawn in
 * place with "\r" (throttled); elsewhere (CI, log files) one line is printed per finished run,
 * so logs stay readable. The sink interface lets the engine stay independent of the display.
 */
import type { RunProgress } from "./types.ts";

/** How a run attempt ended, as the engine reports it. */
export interface RunEnd {
  /** The run's id. */
  run_id: string;
  /** compactLabel of the run, e.g. "t=16e8a s=4e2a lr=0.01 seed=0". */
  label: string;
  /** How the attempt ended. */
  outcome: "ok" | "diverged" | "failed" | "aborted";
  /** Wall time of the attempt measured by the engine, seconds. */
  wall_s: number;
  /** The run's score, when it finished. */
  score?: number;
  /** For "failed": the error (message or stack). */
  error?: string;
}

/** Receives the engine's events; every method must be cheap and must not throw. */
export interface ProgressSink {
  /**
   * The sweep starts: `total` runs in this shard, `skipped` of them already have records;
   * `work`: the optimizer steps of the runs to do, summed over runs (for the ETA).
   */
  start(info: { total: number; skipped: number; work?: number }): void;
  /**
   * A run starts (or a group of `runs` runs in one program, labelled by its first); `steps`:
   * the optimizer steps of each of its runs, the unit of runProgress's `step`.
   */
  runStart(info: { run_id: string; label: string; runs?: number; steps?: number }): void;
  /** Live progress of the current run (from the executor's onProgress). */
  runProgress(p: RunProgress): void;
  /** A run (or group) attempt ended. */
  runEnd(info: RunEnd): void;
  /** A message that must stay visible (invalid record, failed rebuild...). */
  warn(message: string): void;
  /** The sweep's final one-line summary. */
  end(message: string): void;
}

/** Options of TextProgress; all injectable for tests. */
export interface TextProgressOptions {
  /** Writes text to the output (default: stderr, synchronously). */
  write?: (text: string) => void;
  /** Redraw one line in place (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Terminal width for truncating the status line (default: stderr's, else 100). */
  columns?: number;
  /** Clock in milliseconds (default: performance.now). */
  now?: () => number;
  /** Minimum time between two throttled redraws, ms (default 100: at most 10 redraws/s). */
  minIntervalMs?: number;
}

/** "1.5s", "42s", "3m05s", "1h02m", "2d03h" ("?" if unknown). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 9.95) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

function formatNumber(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

function stderrWrite(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

function stderrColumns(): number {
  try {
    return Deno.consoleSize().columns || 100;
  } catch {
    return 100;
  }
}

/**
 * The default progress display (see the module doc). Counts shown: runs done (including the
 * skipped ones) / total, skipped, failed, and an ETA. When the engine gives the work (steps
 * per run), the ETA is the steps left (summed over runs) at the rate of the steps done so far
 * (summed over runs, the current ones included), so it is known from the first steps of the
 * first run; without it, the mean wall time of the finished runs times the runs left.
 * The live part always counts a run's own optimizer steps ("step 120/640"), alone or in a group.
 */
export class TextProgress implements ProgressSink {
  #write: (text: string) => void;
  #tty: boolean;
  #columns: number;
  #now: () => number;
  #minInterval: number;
  #total = 0;
  #skipped = 0;
  #finished = 0;
  #failed = 0;
  #wallSum = 0;
  #current?: { label: string; started: number; runs: number; steps?: number; live?: RunProgress };
  #work?: number;
  #workDone = 0;
  #began?: number;
  #lastDraw = -Infinity;
  #drawn = false;

  constructor(opts: TextProgressOptions = {}) {
    this.#write = opts.write ?? stderrWrite;
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#columns = opts.columns ?? (opts.write ? 100 : stderrColumns());
    this.#now = opts.now ?? (() => performance.now());
    this.#minInterval = opts.minIntervalMs ?? 100;
  }

  start(info: { total: number; skipped: number; work?: number }): void {
    this.#total = info.total;
    this.#skipped = info.skipped;
    this.#work = info.work;
    if (!this.#tty) {
      this.#write(
        `sweep: ${info.total} runs, ${info.skipped} already done, ` +
          `${info.total - info.skipped} to run\n`,
      );
    }
    this.#draw(true);
  }

  runStart(info: { run_id: string; label: string; runs?: number; steps?: number }): void {
    this.#current = {
      label: info.label,
      started: this.#now(),
      runs: info.runs ?? 1,
      steps: info.steps,
    };
    this.#began ??= this.#current.started;
    this.#draw(true);
  }

  runProgress(p: RunProgress): void {
    if (this.#current) this.#current.live = p;
    this.#draw(false);
  }

  runEnd(info: RunEnd): void {
    const cur = this.#current;
    if (cur && cur.steps !== undefined && info.outcome !== "aborted") {
      // A finished run's steps are done; a failed run's will never be.
      if (info.outcome === "failed") this.#work = (this.#work ?? 0) - cur.steps;
      else this.#workDone += cur.steps;
      if (--cur.runs > 0) cur.live = undefined;
    }
    this.#current = cur && cur.runs > 0 && info.outcome !== "aborted" && cur.steps !== undefined
      ? cur
      : undefined;
    if (info.outcome === "ok" || info.outcome === "diverged") {
      this.#finished++;
      this.#wallSum += info.wall_s;
    } else if (info.outcome === "failed") {
      this.#failed++;
    }
    if (info.outcome === "failed") {
      this.#line(`run ${info.run_id} (${info.label}) failed: ${info.error ?? "unknown error"}`);
    } else if (!this.#tty && info.outcome !== "aborted") {
      const score = info.score === undefined ? "" : ` score=${formatNumber(info.score)}`;
      this.#write(
        `[${this.#done()}/${this.#total}] ${info.outcome} ${info.run_id} ${info.label}` +
          `${score} (${formatDuration(info.wall_s)}) ETA ${this.#eta()}\n`,
      );
    }
    this.#draw(true);
  }

  warn(message: string): void {
    this.#line(message);
  }

  end(message: string): void {
    this.#clear();
    this.#write(message + "\n");
  }

  #done(): number {
    return this.#skipped + this.#finished;
  }

  #eta(): string {
    const left = this.#total - this.#done() - this.#failed;
    if (left <= 0) return "0s";
    if (this.#work !== undefined && this.#began !== undefined) {
      const cur = this.#current;
      const live = cur?.live && cur.steps !== undefined
        ? Math.min(cur.live.step, cur.steps) * cur.runs
        : 0;
      const done = this.#workDone + live;
      const elapsed = (this.#now() - this.#began) / 1000;
      if (done <= 0 || elapsed <= 0) return "?";
      return formatDuration(Math.max(0, this.#work - done) * (elapsed / done));
    }
    if (this.#finished === 0) return "?";
    const elapsed = this.#current ? (this.#now() - this.#current.started) / 1000 : 0;
    return formatDuration(Math.max(0, (this.#wallSum / this.#finished) * left - elapsed));
  }

  /** Prints a persistent line (above the status line on a terminal). */
  #line(text: string): void {
    this.#clear();
    this.#write(text + "\n");
    this.#draw(true);
  }

  #clear(): void {
    if (this.#tty && this.#drawn) {
      this.#write("\r\x1b[2K");
      this.#drawn = false;
    }
  }

  #draw(force: boolean): void {
    if (!this.#tty) return;
    const now = this.#now();
    if (!force && now - this.#lastDraw < this.#minInterval) return;
    this.#lastDraw = now;
    let text = `${this.#done()}/${this.#total} done`;
    if (this.#skipped) text += `, ${this.#skipped} skipped`;
    if (this.#failed) text += `, ${this.#failed} failed`;
    text += `, ETA ${this.#eta()}`;
    const cur = this.#current;
    if (cur) {
      text += ` | ${cur.label}`;
      const p = cur.live;
      if (p) {
        text += ` | epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps}`;
        if (p.loss !== undefined) text += ` loss ${formatNumber(p.loss)}`;
      }
    }
    const max = Math.max(10, this.#columns - 1);
    if (text.length > max) text = text.slice(0, max - 1) + "…";
    this.#write("\r\x1b[2K" + text);
    this.#drawn = true;
  }
}

/** A sink that shows nothing (progress: false). */
export const silentProgress: ProgressSink = {
  start() {},
  runStart() {},
  runProgress() {},
  runEnd() {},
  warn() {},
  end() {},
};
