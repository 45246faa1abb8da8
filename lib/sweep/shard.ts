/**
 * Sharding a sweep across independent processes (Slurm job arrays, Kubernetes indexed Jobs):
 * shard i of n takes the runs at positions p with p % n == i in the run list sorted by run id,
 * so every process computes the same split from the same run list without talking to others.
 */
import { runId } from "./runid.ts";
import type { RunConfig } from "./types.ts";

/** Shard `index` of `count` (0 <= index < count). */
export interface Shard {
  /** This shard, 0-based. */
  index: number;
  /** Number of shards. */
  count: number;
}

function invalid(got: string): Error {
  return new Error(`shard: expected i/n with 0 <= i < n, got '${got}'`);
}

/** Throws the one-line shard error unless `s` is integers with 0 <= index < count. */
export function checkShard(s: Shard): void {
  const ok = s !== null && typeof s === "object" && Number.isSafeInteger(s.index) &&
    Number.isSafeInteger(s.count) && s.index >= 0 && s.index < s.count;
  if (!ok) throw invalid(`${s?.index}/${s?.count}`);
}

/**
 * Parses a `--shard` value "i/n" (decimal integers, 0 <= i < n), e.g. "0/3". Throws
 * "shard: expected i/n with 0 <= i < n, got '3/3'" otherwise.
 */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(String(text));
  if (!m) throw invalid(String(text));
  const s = { index: Number(m[1]), count: Number(m[2]) };
  if (!(s.index < s.count)) throw invalid(String(text));
  return s;
}

/**
 * The runs of shard `index` of `count`: those whose position in the list sorted by run id is
 * ≡ index (mod count). Returned in their original order. Shards 0..count-1 partition `runs`.
 */
export function shardRuns<T extends RunConfig>(runs: T[], index: number, count: number): T[] {
  checkShard({ index, count });
  const ids = runs.map((r) => runId(r));
  const order = runs.map((_, i) => i).sort((a, b) =>
    ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b
  );
  const keep = new Set(order.filter((_, pos) => pos % count === index));
  return runs.filter((_, i) => keep.has(i));
}
