/**
 * The command line of `deno task sweep`: its own flags (how and where to run) declared in one
 * table here, the override knobs from lib/experiments/overrides.ts, and from both the
 * `node:util` parseArgs options and the `--help` text.
 */
import { parseArgs } from "node:util";
import { UsageError } from "./args.ts";
import {
  flagOf,
  helpLines,
  knobHelpRows,
  knobOptions,
  knobsFromFlags,
  type KnobTable,
} from "./knobs.ts";
import {
  EXPERIMENTS,
  parseGrid,
  type ResolvedSweep,
  resolvePreset,
} from "../experiments/registry.ts";
import { OVERRIDES, type Overrides } from "../experiments/overrides.ts";

interface FlagSpec {
  /** What follows the flag in `--help`; absent for a boolean flag. */
  arg?: string;
  help: string;
}

/** The sweep's own flags. A flag without `arg` is a boolean switch. */
export const SWEEP_FLAGS = {
  scale: {
    arg: "quick|full",
    help: "quick (default): the same effect in minutes on a laptop CPU; full: the papers' sizes",
  },
  grid: {
    arg: "FILE.json",
    help: 'your own grid: {"name": ..., "base": "fig2", "archs": [...], "lrs": [...], ...}',
  },
  out: {
    arg: "DIR",
    help: "output root (default out); results go to DIR/<experiment>[-<scale>], or to " +
      "DIR/<experiment>[-<scale>]-<id> when settings change the configuration (printed at start)",
  },
  shard: {
    arg: "1/4",
    help: "run only slice i of n, i counting from 0 (0/4 .. 3/4; Slurm arrays, indexed Jobs); " +
      "shards may share one folder, or be combined with 'deno task merge'",
  },
  threads: {
    arg: "N",
    help: "onnxruntime intra-op threads (default: 1 for small programs, see " +
      "lib/experiments/grouping.ts, else one per physical core; at most the cores)",
  },
  "force-threads": { help: "allow --threads above the machine's core count" },
  spinning: {
    arg: "on|off",
    help: "onnxruntime threads spin while waiting for work (default off: on a busy machine " +
      "spinning takes cores from the work; output only, same results and run ids)",
  },
  ep: {
    arg: "cpu|cuda",
    help: "execution provider (default cpu); cuda first audits every program (deno task audit)",
  },
  "allow-cpu-fallback": {
    help: "with --ep cuda: train even when the audit finds nodes that would run on the CPU",
  },
  "save-models": {
    help: "also write each finished run's trained student to DIR/<experiment>/models/<run_id>.onnx",
  },
  "load-plots": {
    help: "also draw each run's expert loads per MoE layer over the epochs to " +
      "DIR/<experiment>/loads/<run_id>.png (output only: same runs and run ids)",
  },
  "dry-run": { help: "list the runs and exit" },
  list: { help: "list the experiments and exit" },
  help: { help: "show this help and exit" },
} satisfies Record<string, FlagSpec>;

type Flags = typeof SWEEP_FLAGS;
/** The values of the sweep's own flags: a string, or a boolean for a switch. */
export type SweepFlagValues = {
  [K in keyof Flags]?: Flags[K] extends { arg: string } ? string : boolean;
};

const OPTIONS = {
  ...knobOptions(OVERRIDES),
  ...Object.fromEntries(
    Object.entries(SWEEP_FLAGS as Record<string, FlagSpec>).map((
      [flag, f],
    ) => [flag, { type: f.arg === undefined ? "boolean" as const : "string" as const }]),
  ),
};

const pick = (t: KnobTable, select: boolean): KnobTable =>
  Object.fromEntries(Object.entries(t).filter(([, k]) => (k.select === true) === select));

/** The `--help` text. */
export function sweepHelp(): string {
  const rows = (t: Record<string, FlagSpec>) =>
    Object.entries(t).map(([flag, f]) => ({ flag, ...f }));
  return [
    "usage: deno task sweep [EXPERIMENT] [flags]",
    "",
    `Experiments (default fig2): ${Object.keys(EXPERIMENTS).join(", ")}`,
    "",
    ...helpLines(rows(SWEEP_FLAGS)),
    "",
    "Settings (replace the preset's; the runs then have their own ids and scale 'custom'; " +
    "each experiment takes those --list shows):",
    ...helpLines(knobHelpRows(pick(OVERRIDES, false))),
    "",
    "Selections (part of a heatmap's grid; same runs, run ids and folder as the whole preset):",
    ...helpLines(knobHelpRows(pick(OVERRIDES, true))),
  ].join("\n");
}

/** The `--list` text: each experiment, what it shows and the setting flags it takes. */
export function experimentList(): string {
  return Object.values(EXPERIMENTS).flatMap((e) => [
    `${e.name.padEnd(12)} ${e.description}`,
    `${"".padEnd(12)} settings: ${e.settings.map((s) => `--${flagOf(s, OVERRIDES[s])}`).join(" ")}`,
  ]).join("\n");
}

/** Parsed command-line arguments: the sweep's flags, the experiment and the overrides. */
export interface SweepArgs {
  flags: SweepFlagValues;
  positionals: string[];
  overrides: Overrides;
}

/** Parses the sweep's arguments; every error is a one-line UsageError. */
export function parseSweepArgs(args: string[]): SweepArgs {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  let overrides: Overrides;
  try {
    overrides = knobsFromFlags(OVERRIDES, values);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const flags = Object.fromEntries(
    Object.keys(SWEEP_FLAGS).filter((f) => values[f] !== undefined).map((f) => [f, values[f]]),
  ) as SweepFlagValues;
  return { flags, positionals: parsed.positionals, overrides };
}

/** The sweep the arguments select: a preset with its settings, or a --grid file. */
export async function resolveSweep(a: SweepArgs): Promise<ResolvedSweep> {
  const { flags, positionals, overrides: o } = a;
  if (positionals.length > 1) {
    throw new UsageError(`expected at most one experiment, got ${positionals.join(" ")}`);
  }
  if (!flags.grid) return resolvePreset(positionals[0] ?? "fig2", flags.scale ?? "quick", o);
  if (positionals.length) {
    throw new UsageError("give either an experiment or --grid FILE, not both");
  }
  if (Object.keys(o).length || flags.scale) {
    throw new UsageError("--grid: put the settings in the grid file, not in flags");
  }
  let text: string;
  try {
    text = await Deno.readTextFile(flags.grid);
  } catch (e) {
    throw new UsageError(`--grid: cannot read '${flags.grid}' (${(e as Error).message})`);
  }
  return parseGrid(text, flags.grid);
}
