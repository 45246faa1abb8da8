/**
 * `deno task sweep [EXPERIMENT] [flags]`: runs a grid of student-teacher experiments and writes
 * out/<experiment>/ (run records, results.csv, best.csv, curves.csv, PNG figures). Rerunning
 * the same command skips finished runs. See `--help`.
 */
import { parseArgs } from "node:util";
import { choiceFlag, intFlag, listFlag, numFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { versions } from "../lib/cli/versions.ts";
import {
  EXPERIMENTS,
  parseGrid,
  type ResolvedSweep,
  resolvePreset,
} from "../lib/experiments/registry.ts";
import { type Overrides, SCHEDULES } from "../lib/experiments/overrides.ts";
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
import { parseShard } from "../lib/sweep/shard.ts";
import { runId } from "../lib/sweep/runid.ts";

const HELP = `usage: deno task sweep [EXPERIMENT] [flags]

Experiments (default fig2): ${Object.keys(EXPERIMENTS).join(", ")}

  --scale quick|full       quick (default): same effect in minutes on a laptop CPU; full: the papers' sizes
  --grid FILE.json         your own grid: {"name": ..., "base": "fig2", "archs": [...], "lrs": [...], ...}
  --out DIR                output root (default out); results go to DIR/<experiment>[-<scale>]
  --shard i/n              run only slice i of n (Slurm arrays, indexed Jobs); combine with 'deno task merge'
  --threads N              onnxruntime intra-op threads (default: one per physical core)
  --ep cpu|cuda            execution provider (default cpu)
  --epochs N  --lrs a,b  --seeds 0,1  --d N  --batch N  --samples-per-epoch N  --test-samples N
  --archs 4e2a,16e8a  --granularities 2,4  --rel-sizes 1,2  --dims 16,32  --widths 16,32
  --strategy dense|sparse|auto  --dtype float32|float64  --teacher-seed N
  --teacher-file F.onnx    paper A: learn this exported teacher (e.g. models/teacher-16e8a-d64-seed0.onnx)
  --weight-decay X  --warmup-steps N  --schedule cosine-epoch|cosine-step|constant
  --save-models            also write each finished run's trained student to DIR/<experiment>/models/<run_id>.onnx
  --dry-run                list the runs and exit
  --list                   list the experiments and exit`;

function overridesFrom(v: Record<string, string | boolean | undefined>): Overrides {
  const s = (k: string) => v[k] as string | undefined;
  const o: Overrides = {
    d: intFlag("d", s("d")),
    epochs: intFlag("epochs", s("epochs")),
    samplesPerEpoch: intFlag("samples-per-epoch", s("samples-per-epoch")),
    batch: intFlag("batch", s("batch")),
    testSamples: intFlag("test-samples", s("test-samples")),
    lrs: listFlag("lrs", s("lrs"), Number, "positive numbers"),
    seeds: listFlag("seeds", s("seeds"), Number, "integers"),
    teacherSeed: intFlag("teacher-seed", s("teacher-seed"), 0),
    dtype: choiceFlag("dtype", s("dtype"), ["float32", "float64"] as const),
    strategy: choiceFlag("strategy", s("strategy"), ["dense", "sparse", "auto"] as const),
    archs: listFlag("archs", s("archs"), String, "shorthands like 16e8a"),
    granularities: listFlag("granularities", s("granularities"), Number, "integers"),
    relSizes: listFlag("rel-sizes", s("rel-sizes"), Number, "integers"),
    dims: listFlag("dims", s("dims"), Number, "integers"),
    widths: listFlag("widths", s("widths"), Number, "integers"),
    teacherFile: s("teacher-file"),
    weightDecay: numFlag("weight-decay", s("weight-decay")),
    warmupSteps: intFlag("warmup-steps", s("warmup-steps"), 0),
    schedule: choiceFlag("schedule", s("schedule"), SCHEDULES),
  };
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Overrides;
}

const STRING_FLAGS = [
  "scale",
  "grid",
  "out",
  "shard",
  "threads",
  "ep",
  "epochs",
  "lrs",
  "seeds",
  "d",
  "batch",
  "samples-per-epoch",
  "test-samples",
  "archs",
  "granularities",
  "rel-sizes",
  "dims",
  "widths",
  "strategy",
  "dtype",
  "teacher-seed",
];
const OPTIONS: Record<string, { type: "string" | "boolean" }> = {
  ...Object.fromEntries(STRING_FLAGS.map((k) => [k, { type: "string" as const }])),
  "dry-run": { type: "boolean" },
  "save-models": { type: "boolean" },
  list: { type: "boolean" },
  help: { type: "boolean" },
};

async function main(): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    strict: true,
    options: OPTIONS,
  });
  const values = v as Record<string, string | boolean | undefined> & {
    grid?: string;
    scale?: string;
    ep?: string;
    threads?: string;
    shard?: string;
    out?: string;
  };
  if (values.help) {
    console.log(HELP);
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
  const o = overridesFrom(values);
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
  const shard = values.shard ? parseShard(values.shard) : undefined;
  const outDir = `${(values.out ?? "out").replace(/\/+$/, "")}/${sweep.name}`;

  if (values["dry-run"]) {
    console.log(`${sweep.name}: ${sweep.runs.length} runs -> ${outDir}\n${sweep.description}`);
    for (const r of sweep.runs) {
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
  };
  console.error(`${sweep.name}: ${sweep.runs.length} runs -> ${outDir}`);
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
