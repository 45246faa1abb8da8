/**
 * `deno task plot out/<experiment> ...`: rewrites an experiment's reproduction report
 * (reproduction.csv, reproduction.md) from its run records and redraws its figures.
 */
import { runMain, UsageError } from "../lib/cli/args.ts";
import { readExperimentInfo, renderFigures } from "../lib/experiments/figures.ts";
import { writeReproduction } from "../lib/experiments/reproduction.ts";
import { readRecords } from "../lib/sweep/records.ts";

await runMain("plot", async () => {
  if (Deno.args.length === 0 || Deno.args.includes("--help")) {
    throw new UsageError("usage: deno task plot out/<experiment> [out/<experiment> ...]");
  }
  for (const dir of Deno.args) {
    const info = await readExperimentInfo(dir);
    const scan = await readRecords(dir);
    if (scan.records.length > 0) await writeReproduction(dir, scan.records, info);
    const paths = await renderFigures(dir, info);
    console.log(paths.length ? paths.join("\n") : `${dir}: no finished runs to plot`);
  }
  return 0;
});
