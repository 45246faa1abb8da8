/**
 * `deno task merge <out_dir_a> [<out_dir_b> ...] --out <dir>`: combines the outputs of sweep
 * shards (their runs/ records) into one directory and rebuilds its results.csv, best.csv and
 * curves.csv. `--out` may be one of the inputs; with a single input and no `--out` the input's
 * tables are rebuilt in place (shards that all wrote to one directory).
 */
import { parseArgs } from "node:util";
import { mergeOutputs } from "../lib/sweep/merge.ts";

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
  const s = await mergeOutputs({ inputs: positionals, out });
  console.error(
    `merge: ${s.records} runs in ${out} (${s.copied} records copied, ${s.identical} identical ` +
      `duplicates, ${s.conflicts.length} conflicts, ${s.invalid.length} invalid skipped)`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (err) {
    console.error(`merge: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exitCode = 2;
  }
}
