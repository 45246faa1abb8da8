/**
 * Merging sweep outputs: the records of several shard directories are copied into one
 * directory (byte for byte) and its tables are rebuilt. Merging a directory into itself is
 * allowed and just rebuilds the tables (several shards that wrote to one shared directory).
 */
import { writeFileAtomic } from "../io/atomic.ts";
import {
  checkOutDir,
  encodeRecord,
  type InvalidRecord,
  readRecords,
  recordPath,
  runsDir,
} from "./records.ts";
import { type AfterRebuild, rebuildOutputs } from "./outputs.ts";
import type { RunRecord } from "./types.ts";
import {
  type Configuration,
  configurationsIn,
  differences,
  splitRecords,
} from "./configuration.ts";

/** What mergeOutputs needs. */
export interface MergeOptions {
  /** Sweep output directories (each with a runs/ directory); `out` itself may be one of them. */
  inputs: string[];
  /** The merged directory; created if missing, must not be a file. */
  out: string;
  /** Called after the tables are rebuilt (e.g. plots). */
  afterRebuild?: AfterRebuild;
  /** Receives warnings (conflicts, invalid records); default console.error. */
  warn?: (message: string) => void;
  /**
   * The configuration being merged: a record of any other configuration (in an input or in
   * `out`) makes the merge fail before anything is written.
   */
  configuration?: Configuration;
}

/** What mergeOutputs did. */
export interface MergeSummary {
  /** Valid records in `out` after the merge. */
  records: number;
  /** Record files written into `out`. */
  copied: number;
  /** Records found more than once with identical content. */
  identical: number;
  /** Run ids found with different content: the one with the earlier finished_at was kept. */
  conflicts: { run_id: string; kept: string; dropped: string }[];
  /** Record files that could not be used (reported and skipped). */
  invalid: InvalidRecord[];
}

interface Candidate {
  record: RunRecord;
  text: string;
  path: string;
  /** Already in `out` (no copy needed unless replaced). */
  inOut: boolean;
}

async function realPathOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch {
    return null;
  }
}

/** Throws a one-line error unless `dir` is an existing directory with a runs/ directory. */
async function checkInput(dir: unknown, field: string): Promise<string> {
  if (typeof dir !== "string" || dir.trim() === "") {
    throw new Error(`${field}: must be a sweep output directory, got ${JSON.stringify(dir)}`);
  }
  for (const path of [dir, runsDir(dir)]) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch {
      throw new Error(`${field}: ${path} does not exist (expected a sweep output directory)`);
    }
    if (!info.isDirectory) throw new Error(`${field}: ${path} is not a directory`);
  }
  return dir;
}

/**
 * Copies the records of every input into `<out>/runs` and rebuilds out's tables. A run id
 * present several times with identical records is fine; with different records the one with
 * the earlier `finished_at` is kept (the one seen first on a tie) and a warning is issued.
 * Invalid record files are reported and skipped. Records of different experiments, or of
 * another configuration than `configuration`, make it fail. All inputs are checked before
 * anything is written; throws a one-line error naming the bad input.
 */
export async function mergeOutputs(opts: MergeOptions): Promise<MergeSummary> {
  const warn = opts.warn ?? ((m: string) => console.error(m));
  if (!Array.isArray(opts.inputs) || opts.inputs.length === 0) {
    throw new Error("inputs: give at least one sweep output directory");
  }
  for (const [i, dir] of opts.inputs.entries()) await checkInput(dir, `inputs[${i}]`);
  const outExists = await checkOutDir(opts.out, "out");
  const outReal = outExists ? await realPathOrNull(opts.out) : null;

  const chosen = new Map<string, Candidate>();
  const summary: MergeSummary = { records: 0, copied: 0, identical: 0, conflicts: [], invalid: [] };
  const consider = (c: Candidate) => {
    const id = c.record.run_id;
    const cur = chosen.get(id);
    if (!cur) return void chosen.set(id, c);
    if (encodeRecord(cur.record) === encodeRecord(c.record)) return void summary.identical++;
    const earlier = Date.parse(c.record.finished_at) < Date.parse(cur.record.finished_at);
    const [kept, dropped] = earlier ? [c, cur] : [cur, c];
    summary.conflicts.push({ run_id: id, kept: kept.path, dropped: dropped.path });
    warn(
      `warning: run ${id} has different records in ${cur.path} and ${c.path}; ` +
        `keeping ${kept.path} (finished earlier, at ${kept.record.finished_at})`,
    );
    chosen.set(id, kept);
  };

  const scanDir = async (dir: string, inOut: boolean) => {
    const scan = await readRecords(dir);
    const conf = opts.configuration;
    const foreign = conf ? splitRecords(scan.records, conf).foreign : [];
    if (conf && foreign.length) {
      const other = configurationsIn(foreign, conf.axes)[0].conf;
      throw new Error(
        `${inOut ? "out" : "inputs"}: ${dir} holds ${foreign.length} run(s) of configuration ` +
          `${other.id}, not ${conf.id} (${differences(conf.key, other.key, 3).join(", ")}); ` +
          `merge only shards of one sweep`,
      );
    }
    for (const bad of scan.invalid) {
      summary.invalid.push(bad);
      warn(`warning: skipping invalid record ${bad.path}: ${bad.error}`);
    }
    for (const record of scan.records) {
      const text = scan.texts.get(record.run_id)!;
      consider({ record, text, path: recordPath(dir, record.run_id), inOut });
    }
  };

  if (outExists) await scanDir(opts.out, true);
  const seen = new Set<string>(outReal ? [outReal] : []);
  for (const dir of opts.inputs) {
    const real = (await realPathOrNull(dir)) ?? dir;
    if (seen.has(real)) continue; // out itself, or an input given twice
    seen.add(real);
    await scanDir(dir, false);
  }

  const experiments = [...new Set([...chosen.values()].map((c) => c.record.config.experiment))];
  if (experiments.length > 1) {
    const at = (e: string) => [...chosen.values()].find((c) => c.record.config.experiment === e)!;
    throw new Error(
      `inputs: ${at(experiments[0]).path} is of experiment ${experiments[0]} but ` +
        `${at(experiments[1]).path} is of ${experiments[1]}; merge only shards of one sweep`,
    );
  }
  await Deno.mkdir(runsDir(opts.out), { recursive: true });
  for (const c of chosen.values()) {
    if (c.inOut) continue;
    await writeFileAtomic(recordPath(opts.out, c.record.run_id), c.text);
    summary.copied++;
  }
  const rebuilt = await rebuildOutputs(opts.out, {
    afterRebuild: opts.afterRebuild,
    configuration: opts.configuration,
  });
  summary.records = rebuilt.records.length;
  return summary;
}
