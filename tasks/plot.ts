/**
 * `deno task plot out/<experiment> ...`: redraws an experiment's figures. When the folder has
 * its run records, its CSVs and reproduction report are first rebuilt from them (only runs of the folder's
 * configuration; runs of others, in folders mixed by older versions, are reported and left out).
 */
import { runMain, UsageError } from "../lib/cli/args.ts";
import { readExperimentInfo, renderFigures } from "../lib/experiments/figures.ts";
import { folderConfiguration } from "../lib/experiments/folder.ts";
import { readRecords, runsDir } from "../lib/sweep/records.ts";
import { rebuildOutputs } from "../lib/sweep/outputs.ts";
import { foreignReport } from "../lib/sweep/configuration.ts";
import { writeReproduction } from "../lib/experiments/reproduction.ts";

async function hasRuns(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(runsDir(dir))).isDirectory;
  } catch {
    return false;
  }
}

await runMain("plot", async () => {
  if (Deno.args.length === 0 || Deno.args.includes("--help")) {
    throw new UsageError("usage: deno task plot out/<experiment> [out/<experiment> ...]");
  }
  for (const dir of Deno.args) {
    const info = await readExperimentInfo(dir);
    if (await hasRuns(dir)) {
      const conf = folderConfiguration(dir, info, (await readRecords(dir)).records);
      const scan = await rebuildOutputs(dir, {
        configuration: conf,
        afterRebuild: async (records) => void await writeReproduction(dir, records, info),
      });
      if (scan.foreign.length) console.error(foreignReport(dir, conf, scan.foreign));
    }
    const paths = await renderFigures(dir, info);
    console.log(paths.length ? paths.join("\n") : `${dir}: no finished runs to plot`);
  }
  return 0;
});
