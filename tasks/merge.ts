/**
 * `deno task merge <out_dir_a> [<out_dir_b> ...] --out <dir>`: combines the outputs of sweep
 * shards (their runs/ records) into one complete folder: experiment.json, results.csv,
 * best.csv, curves.csv and every figure. `--out` may be one of the inputs; with a single input
 * and no `--out` the input is completed in place (shards that all wrote to one directory).
 * Inputs of different experiments or configurations are refused.
 */
import { parseArgs } from "node:util";
import { runMain } from "../lib/cli/args.ts";
import { mergeOutputs } from "../lib/sweep/merge.ts";
import { readRecords } from "../lib/sweep/records.ts";
import type { Configuration } from "../lib/sweep/configuration.ts";
import type { AfterRebuild } from "../lib/sweep/outputs.ts";

const USAGE = "usage: deno task merge <out_dir> [<out_dir> ...] --out <dir>";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new Error(`inputs: give at least one directory; ${USAGE}`);
  let out = values.out;
  if (out === undefined) {
    if (positionals.length > 1) throw new Error(`--out: required with several inputs; ${USAGE}`);
    out = positionals[0];
  }
  // The figure modules load native code: only when there is an experiment to draw.
  const described = await Promise.all(
    [...positionals, out].map((d) =>
      Deno.stat(`${d}/experiment.json`).then(() => true, () => false)
    ),
  );
  const folder = described.includes(true)
    ? await import("../lib/experiments/folder.ts")
    : undefined;
  const info = await folder?.sharedInfo([...positionals, out]);
  let configuration: Configuration | undefined;
  let afterRebuild: AfterRebuild | undefined;
  if (folder && info) {
    const { renderFigures, writeExperimentInfo } = await import("../lib/experiments/figures.ts");
    const records = (await Promise.all(positionals.map((d) => readRecords(d).catch(() => null))))
      .flatMap((scan) => scan?.records ?? []);
    configuration = folder.folderConfiguration(positionals.join(" + "), info, records);
    const merged = { ...info, configuration };
    const { writeReproduction } = await import("../lib/experiments/reproduction.ts");
    afterRebuild = async (records, dir) => {
      await writeExperimentInfo(dir, merged);
      await writeReproduction(dir, records, merged);
      await renderFigures(dir, merged);
    };
  }
  const s = await mergeOutputs({ inputs: positionals, out, configuration, afterRebuild });
  const what = info
    ? `; ${info.name}, configuration ${configuration!.id}`
    : "; no input has an experiment.json (written by 'deno task sweep'): tables only, no figures";
  console.error(
    `merge: ${s.records} runs in ${out} (${s.copied} records copied, ${s.identical} identical ` +
      `duplicates, ${s.conflicts.length} conflicts, ${s.invalid.length} invalid skipped${what})`,
  );
  return 0;
}

if (import.meta.main) await runMain("merge", () => main(Deno.args));
