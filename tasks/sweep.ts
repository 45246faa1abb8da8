/**
 * `deno task sweep [EXPERIMENT] [flags]`: runs a grid of student-teacher experiments and writes
 * out/<experiment>/ (run records, results.csv, best.csv, curves.csv, PNG figures). Rerunning
 * the same command skips finished runs. See `--help`.
 */
import { choiceFlag, intFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { experimentList, parseSweepArgs, resolveSweep, sweepHelp } from "../lib/cli/sweep_args.ts";
import { versions } from "../lib/cli/versions.ts";
import type { ResolvedSweep } from "../lib/experiments/registry.ts";
import {
  checkRunShape,
  groupKey,
  makeExecutor,
  makeGroupExecutor,
  studentParamCount,
  SWEEP_GROUP_MAX_PARAMS,
} from "../lib/experiments/executor.ts";
import { renderFigures, writeExperimentInfo } from "../lib/experiments/figures.ts";
import { writeReproduction } from "../lib/experiments/reproduction.ts";
import { checkExecutionProvider, EXECUTION_PROVIDERS } from "../lib/runtime/session.ts";
import { runSweep, sweepExitCode } from "../lib/sweep/engine.ts";
import { parseShard, shardRuns } from "../lib/sweep/shard.ts";
import { checkThreads, checkWritable } from "../lib/sweep/preflight.ts";
import { checkFolderConfiguration, sweepFolder } from "../lib/experiments/folder.ts";
import { runId } from "../lib/sweep/runid.ts";
import { writeLoadPlots } from "../lib/sweep/load_plots.ts";
import { refuseCudaSweep } from "../lib/cuda/programs.ts";

async function main(): Promise<number> {
  const args = parseSweepArgs(Deno.args);
  const values = args.flags;
  if (values.help) {
    console.log(sweepHelp());
    return 0;
  }
  if (values.list) {
    console.log(experimentList());
    return 0;
  }
  const sweep: ResolvedSweep = await resolveSweep(args);
  sweep.runs.forEach((r, i) => {
    try {
      checkRunShape(r);
    } catch (e) {
      throw new UsageError(`run ${i} (${JSON.stringify(r.labels)}): ${(e as Error).message}`);
    }
  });
  const ep = choiceFlag("ep", values.ep, EXECUTION_PROVIDERS) ?? "cpu";
  const allowCpuFallback = values["allow-cpu-fallback"] === true;
  // Results do not depend on it; off is faster when other work shares the cores.
  const spinning = (choiceFlag("spinning", values.spinning, ["on", "off"] as const) ?? "off") ===
    "on";
  if (allowCpuFallback && ep !== "cuda") {
    throw new UsageError("--allow-cpu-fallback needs --ep cuda");
  }
  // Every program is audited for the CUDA EP before anything trains (static: no GPU needed).
  if (ep === "cuda") await refuseCudaSweep(sweep.runs, allowCpuFallback);
  checkExecutionProvider(ep);
  const threads = intFlag("threads", values.threads, 0);
  if (threads !== undefined) checkThreads(threads, undefined, values["force-threads"] === true);
  const shard = values.shard ? parseShard(values.shard) : undefined;
  const folder = sweepFolder(sweep, values.out ?? "out", values.grid !== undefined);
  const { outDir, configuration } = folder;
  await checkFolderConfiguration(outDir, configuration);
  const mine = shard ? shardRuns(sweep.runs, shard.index, shard.count) : sweep.runs;
  const head = `${sweep.name}: ${folder.description}: ${
    shard ? `shard ${shard.index}/${shard.count}: ${mine.length} of ` : ""
  }${sweep.runs.length} runs -> ${outDir}`;

  if (values["dry-run"]) {
    console.log(`${head}\n${sweep.description}`);
    for (const r of mine) {
      const t = r.train;
      console.log(
        `  ${runId(r)}  ${JSON.stringify(r.labels)}  lr=${t.lr} seed=${r.seed} ${t.epochs}x${
          t.samplesPerEpoch / t.batch
        } steps of ${t.batch}`,
      );
    }
    return 0;
  }

  const info = {
    name: sweep.name,
    base: sweep.base,
    scale: sweep.scale,
    figure: sweep.figure,
    description: sweep.description,
    configuration,
  };
  console.error(head);
  await checkWritable(outDir, "out");
  const execOpts = {
    threads,
    spinning,
    ep,
    allowCpuFallback,
    saveModelDir: values["save-models"] ? `${outDir}/models` : undefined,
  };
  const summary = await runSweep({
    outDir,
    runs: sweep.runs,
    execute: makeExecutor(execOpts),
    // A teacher's students and learning rates train as one program (shared data and teacher
    // forward) up to a parameter budget; the results are the same either way.
    group: {
      key: groupKey,
      execute: makeGroupExecutor(execOpts),
      weight: studentParamCount,
      maxWeight: SWEEP_GROUP_MAX_PARAMS,
    },
    versions: versions(),
    shard,
    configuration,
    afterRebuild: async (records) => {
      await writeExperimentInfo(outDir, info);
      await writeReproduction(outDir, records, info);
      await renderFigures(outDir, info);
      if (values["load-plots"]) await writeLoadPlots(outDir, records);
    },
  });
  console.error(
    `results: ${outDir}/results.csv, ${outDir}/best.csv, ${outDir}/reproduction.md, ` +
      `figures: ${outDir}/*.png${values["load-plots"] ? `, ${outDir}/loads/*.png` : ""}`,
  );
  return sweepExitCode(summary);
}

await runMain("sweep", main);
