/**
 * Rebuilds an experiment directory's derived files (results.csv, best.csv, curves.csv) from
 * its run records. The records are the only source of truth; each CSV is replaced atomically,
 * so a reader or a killed process never sees a torn table. Rebuilds of one directory are
 * serialized by an advisory lock on `<dir>/.rebuild.lock` (released by the OS if the holder
 * dies), so with several workers the last rebuild always sees every record written before it.
 */
import { writeCsvAtomic } from "../io/csv.ts";
import { readRecords, type RecordScan } from "./records.ts";
import { bestTable, curvesTable, resultsTable } from "./tables.ts";
import { type Configuration, splitRecords } from "./configuration.ts";
import type { RunRecord } from "./types.ts";

/** Called after the CSVs are rebuilt, e.g. to redraw plots; errors propagate to the caller. */
export type AfterRebuild = (records: RunRecord[], outDir: string) => Promise<void>;

/** Options of rebuildOutputs. */
export interface RebuildOptions {
  afterRebuild?: AfterRebuild;
  /** Only records of this configuration go into the tables; the others are returned as foreign. */
  configuration?: Configuration;
}

/** A rebuild's scan: the records used (`records`), the foreign ones left out, invalid files. */
export interface RebuildScan extends RecordScan {
  /** Valid records of other configurations than the one asked for (left out of the tables). */
  foreign: RunRecord[];
}

/**
 * Runs `fn` while holding the exclusive lock `<dir>/.rebuild.lock` (created if needed; waits
 * for other holders). The lock is an OS file lock, released when the holder exits or dies.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const file = await Deno.open(`${dir.replace(/\/+$/, "") || "/"}/.rebuild.lock`, {
    create: true,
    write: true,
  });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

/**
 * Reads all valid records of `outDir` (see readRecords), keeps those of `opts.configuration`
 * (all when absent) and atomically rewrites `<outDir>/results.csv`, `best.csv` and
 * `curves.csv` from them (header-only files when there are none), then calls
 * `afterRebuild(records, outDir)` if given, all under the directory's rebuild lock. Returns
 * the scan, whose `invalid` and `foreign` lists the caller should report.
 */
export function rebuildOutputs(outDir: string, opts: RebuildOptions = {}): Promise<RebuildScan> {
  const dir = outDir.replace(/\/+$/, "") || "/";
  return withDirLock(dir, async () => {
    const scan = await readRecords(outDir);
    const { mine, foreign } = opts.configuration
      ? splitRecords(scan.records, opts.configuration)
      : { mine: scan.records, foreign: [] };
    for (
      const [name, table] of [
        ["results.csv", resultsTable(mine)],
        ["best.csv", bestTable(mine)],
        ["curves.csv", curvesTable(mine)],
      ] as const
    ) {
      await writeCsvAtomic(`${dir}/${name}`, table.rows, table.columns);
    }
    if (opts.afterRebuild) await opts.afterRebuild(mine, outDir);
    return { ...scan, records: mine, foreign };
  });
}
