/**
 * Rebuilds an experiment directory's derived files (results.csv, best.csv, curves.csv) from
 * its run records. The records are the only source of truth; each CSV is replaced atomically,
 * so a reader or a killed process never sees a torn table.
 */
import { writeCsvAtomic } from "../io/csv.ts";
import { readRecords, type RecordScan } from "./records.ts";
import { bestTable, curvesTable, resultsTable } from "./tables.ts";
import type { RunRecord } from "./types.ts";

/** Called after the CSVs are rebuilt, e.g. to redraw plots; errors propagate to the caller. */
export type AfterRebuild = (records: RunRecord[], outDir: string) => Promise<void>;

/** Options of rebuildOutputs. */
export interface RebuildOptions {
  afterRebuild?: AfterRebuild;
}

/**
 * Reads all valid records of `outDir` (see readRecords) and atomically rewrites
 * `<outDir>/results.csv`, `best.csv` and `curves.csv` from them (header-only files when there
 * are none), then calls `afterRebuild(records, outDir)` if given. Returns the scan, whose
 * `invalid` list the caller should report.
 */
export async function rebuildOutputs(
  outDir: string,
  opts: RebuildOptions = {},
): Promise<RecordScan> {
  const scan = await readRecords(outDir);
  const dir = outDir.replace(/\/+$/, "") || "/";
  for (
    const [name, table] of [
      ["results.csv", resultsTable(scan.records)],
      ["best.csv", bestTable(scan.records)],
      ["curves.csv", curvesTable(scan.records)],
    ] as const
  ) {
    await writeCsvAtomic(`${dir}/${name}`, table.rows, table.columns);
  }
  if (opts.afterRebuild) await opts.afterRebuild(scan.records, outDir);
  return scan;
}
