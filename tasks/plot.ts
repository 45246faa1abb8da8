/** `deno task plot out/<experiment> ...`: redraws an experiment's figures from its CSVs. */
import { runMain, UsageError } from "../lib/cli/args.ts";
import { readExperimentInfo, renderFigures } from "../lib/experiments/figures.ts";

await runMain("plot", async () => {
  if (Deno.args.length === 0 || Deno.args.includes("--help")) {
    throw new UsageError("usage: deno task plot out/<experiment> [out/<experiment> ...]");
  }
  for (const dir of Deno.args) {
    const paths = await renderFigures(dir, await readExperimentInfo(dir));
    console.log(paths.length ? paths.join("\n") : `${dir}: no finished runs to plot`);
  }
  return 0;
});
