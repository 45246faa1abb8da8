/**
 * The named experiments (`deno task sweep <name>`) and user grids given as JSON files. A grid
 * file starts from a preset and overrides its settings:
 *
 *   { "name": "my-fig2", "base": "fig2", "scale": "quick",
 *     "archs": ["4e2a", "16e8a"], "lrs": [0.01], "epochs": 10 }
 */
import type { RunConfig } from "../sweep/types.ts";
import {
  OVERRIDES,
  type Overrides,
  type Scale,
  SCALES,
  type Setting,
  shapingOverrides,
  validateOverrides,
} from "./overrides.ts";
import { knobsFromJson } from "../cli/knobs.ts";
import { selectRuns } from "./selection.ts";
import { PAPER_A } from "./paper_a.ts";
import { PAPER_B } from "./paper_b.ts";
import { ROUTERS } from "./routers.ts";

/** How an experiment's results are drawn (see figures.ts). */
export type FigureKind =
  | "heatmap"
  | "size-lines"
  | "error-vs-D"
  | "error-vs-width"
  | "family-lines";

/** A named experiment: how its runs are made at a scale, with overrides, and drawn. */
export interface Experiment {
  /** The name of `deno task sweep <name>`. */
  name: string;
  /** One paragraph: what the experiment shows. */
  description: string;
  /** How its results are drawn. */
  figure: FigureKind;
  /**
   * The settings its runs read (selections aside): any other given setting is refused, so no
   * flag is silently ignored. tests/settings_test.ts checks each one changes the runs.
   */
  settings: readonly Setting[];
  /** Its runs at a scale, with the overrides applied. */
  runs(scale: Scale, o: Overrides): RunConfig[];
}

/** The named experiments of `deno task sweep <name>`: papers A and B. */
export const EXPERIMENTS: Record<string, Experiment> = Object.fromEntries(
  Object.entries({ ...PAPER_A, ...PAPER_B, ...ROUTERS }).map(([name, e]) => [name, { name, ...e }]),
);

export function experimentByName(name: string): Experiment {
  const e = EXPERIMENTS[name];
  if (!e) {
    throw new Error(
      `experiment: unknown experiment '${name}' (allowed: ${
        Object.keys(EXPERIMENTS).join(", ")
      }, or --grid FILE.json)`,
    );
  }
  return e;
}

export function checkScale(scale: string): asserts scale is Scale {
  if (!(SCALES as readonly string[]).includes(scale)) {
    throw new Error(`scale: unknown scale '${scale}' (allowed: ${SCALES.join(", ")})`);
  }
}

/** A resolved sweep: its output name, figure kind and runs. */
export interface ResolvedSweep {
  /** Directory name under out/ and the `experiment` column: e.g. "fig2", "fig2-full". */
  name: string;
  /** The preset the sweep starts from. */
  base: string;
  /** The preset's scale. */
  scale: Scale;
  /** How the results are drawn. */
  figure: FigureKind;
  /** The preset's description. */
  description: string;
  /** The runs, in order. */
  runs: RunConfig[];
}

/**
 * A preset at a scale, with overrides. Quick results go to out/<name>, others to
 * out/<name>-<scale>. Selections (`teachers`, `students`, `cells`) only pick runs: the runs, their
 * ids and the output folder are those of the preset without them.
 */
export function resolvePreset(name: string, scale: string, o: Overrides = {}): ResolvedSweep {
  const e = experimentByName(name);
  checkScale(scale);
  validateOverrides(o);
  const shaping = shapingOverrides(o);
  checkSettings(e, shaping);
  const custom = Object.keys(shaping).length > 0;
  const outName = scale === "quick" ? name : `${name}-${scale}`;
  const runs = selectRuns(e.runs(scale, { ...shaping, custom }), o)
    .map((r) => ({ ...r, experiment: outName }));
  return { name: outName, base: name, scale, figure: e.figure, description: e.description, runs };
}

/** Throws a one-line error naming the first given setting the experiment does not read. */
function checkSettings(e: Experiment, shaping: Overrides): void {
  for (const k of Object.keys(shaping)) {
    if (!(e.settings as readonly string[]).includes(k)) {
      throw new Error(
        `${k}: not a setting of ${e.name} (its settings: ${e.settings.join(", ")})`,
      );
    }
  }
}

/** Parses and validates a JSON grid; errors name the file and the field. */
export function parseGrid(text: string, source: string): ResolvedSweep {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: malformed JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: must hold a JSON object like {"name": ..., "base": "fig2", ...}`);
  }
  const g = raw as Record<string, unknown>;
  const allowed = ["name", "base", "scale", ...Object.keys(OVERRIDES)];
  for (const k of Object.keys(g)) {
    if (!allowed.includes(k)) {
      throw new Error(`${source}: unknown field '${k}' (allowed: ${allowed.join(", ")})`);
    }
  }
  if (typeof g.name !== "string" || !/^[A-Za-z0-9._-]+$/.test(g.name)) {
    throw new Error(
      `${source}: name: must be a string of letters, digits, '.', '_' or '-', got ${
        JSON.stringify(g.name)
      }`,
    );
  }
  if (typeof g.base !== "string" || !EXPERIMENTS[g.base]) {
    throw new Error(
      `${source}: base: must be one of ${Object.keys(EXPERIMENTS).join(", ")}, got ${
        JSON.stringify(g.base)
      }`,
    );
  }
  const scale = g.scale === undefined ? "quick" : g.scale;
  if (typeof scale !== "string") {
    throw new Error(`${source}: scale: must be one of ${SCALES.join(", ")}`);
  }
  try {
    const r = resolvePreset(g.base, scale, knobsFromJson(OVERRIDES, g));
    const runs = r.runs.map((run) => ({
      ...run,
      experiment: g.name as string,
      scale: "custom" as const,
    }));
    return { ...r, name: g.name, runs };
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}
