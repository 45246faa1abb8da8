/**
 * `deno task plot out/<experiment> ...`: redraws an experiment's figures. When the folder has
 * its run records, its CSVs and reproduction report are first rebuilt from them (only runs of the folder's
 * configuration; runs of others, in folders mixed by older versions, are reported and left out).
 * With --loads it also redraws every run's router load plot (lib/sweep/load_plots.ts).
 */
import { parseArgs } from "node:util";
import { runMain, UsageError } from "../lib/cli/args.ts";
import { readExperimentInfo, renderFigures } from "../lib/experiments/figures.ts";
import { folderConfiguration } from "../lib/experiments/folder.ts";
import { readRecords, runsDir } from "../lib/sweep/records.ts";
import { rebuildOutputs } from "../lib/sweep/outputs.ts";
import { foreignReport } from "../lib/sweep/configuration.ts";
import { writeReproduction } from "../lib/experiments/reproduction.ts";
import { writeLoadPlots } from "../lib/sweep/load_plots.ts";

async function hasRuns(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(runsDir(dir))).isDirectory;
  } catch {
    return false;
  }
}

const USAGE = "usage: deno task plot [--loads] out/<experiment> [out/<experiment> ...]\n" +
  "  --loads  also (re)draw each run's expert loads over the epochs to " +
  "out/<experiment>/loads/<run_id>.png";

await runMain("plot", async () => {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      strict: true,
      options: { loads: { type: "boolean" }, help: { type: "boolean" } },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]}\n${USAGE}`);
  }
  const dirs = parsed.positionals;
  if (dirs.length === 0 || parsed.values.help) throw new UsageError(USAGE);
  for (const dir of dirs) {
    const info = await readExperimentInfo(dir);
    const loads: string[] = [];
    if (await hasRuns(dir)) {
      const conf = folderConfiguration(dir, info, (await readRecords(dir)).records);
      const scan = await rebuildOutputs(dir, {
        configuration: conf,
        afterRebuild: async (records) => {
          await writeReproduction(dir, records, info);
          if (parsed.values.loads) {
            loads.push(...await writeLoadPlots(dir, records, { redraw: true }));
          }
        },
      });
      if (scan.foreign.length) console.error(foreignReport(dir, conf, scan.foreign));
    } else if (parsed.values.loads) {
      throw new UsageError(`--loads: ${dir} has no run records (${runsDir(dir)})`);
    }
    const paths = [...await renderFigures(dir, info), ...loads];
    console.log(paths.length ? paths.join("\n") : `${dir}: no finished runs to plot`);
  }
  return 0;
});
