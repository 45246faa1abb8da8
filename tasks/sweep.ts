/**
 * `deno task sweep [EXPERIMENT] [flags]`: runs a grid of student-teacher experiments and writes
 * out/<experiment>/ (run records, results.csv, best.csv, curves.csv, PNG figures). Rerunning
 * the same command skips finished runs. See `--help`.
 */
import { choiceFlag, intFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { parseSweepArgs, sweepHelp } from "../lib/cli/sweep_args.ts";
import { versions } from "../lib/cli/versions.ts";
import {
  EXPERIMENTS,
  parseGrid,
  type ResolvedSweep,
  resolvePreset,
} from "../lib/experiments/registry.ts";
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

async function main(): Promise<number> {
  const { flags: values, positionals, overrides: o } = parseSweepArgs(Deno.args);
  if (values.help) {
    console.log(sweepHelp());
    return 0;
  }
  if (values.list) {
    for (const e of Object.values(EXPERIMENTS)) {
      console.log(`${e.name.padEnd(12)} ${e.description}`);
    }
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one experiment, got ${positionals.join(" ")}`);
  }
  let sweep: ResolvedSweep;
  if (values.grid) {
    if (positionals.length) {
      throw new UsageError("give either an experiment or --grid FILE, not both");
    }
    if (Object.keys(o).length || values.scale) {
      throw new UsageError("--grid: put the settings in the grid file, not in flags");
    }
    let text: string;
    try {
      text = await Deno.readTextFile(values.grid);
    } catch (e) {
      throw new UsageError(`--grid: cannot read '${values.grid}' (${(e as Error).message})`);
    }
    sweep = parseGrid(text, values.grid);
  } else {
    sweep = resolvePreset(positionals[0] ?? "fig2", values.scale ?? "quick", o);
  }
  sweep.runs.forEach((r, i) => {
    try {
      checkRunShape(r);
    } catch (e) {
      throw new UsageError(`run ${i} (${JSON.stringify(r.labels)}): ${(e as Error).message}`);
    }
  });
  const ep = choiceFlag("ep", values.ep, EXECUTION_PROVIDERS) ?? "cpu";
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
    ep,
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
    },
  });
  console.error(
    `results: ${outDir}/results.csv, ${outDir}/best.csv, ${outDir}/reproduction.md, ` +
      `figures: ${outDir}/*.png`,
  );
  return sweepExitCode(summary);
}

await runMain("sweep", main);
