/**
 * Where a sweep writes: one folder per configuration (lib/sweep/configuration.ts). A preset
 * run as defined (or a selection of its cells, learning rates or seeds) writes to
 * `<out>/<name>` (`fig2`, `fig2-full`); flags that change how its runs train write to
 * `<out>/<name>-<configuration id>`; a grid file writes to `<out>/<grid name>` and is refused
 * when that folder holds another configuration.
 */
import {
  type Configuration,
  configurationOf,
  configurationsIn,
  differences,
  folderName,
} from "../sweep/configuration.ts";
import { type ResolvedSweep, resolvePreset } from "./registry.ts";
import { type ExperimentInfo, readExperimentInfo } from "./figures.ts";
import type { RunRecord } from "../sweep/types.ts";

/** A sweep's folder and configuration, and a line saying how it differs from the preset. */
export interface SweepFolder {
  outDir: string;
  configuration: Configuration;
  /** E.g. "configuration 1a2b3c4d (train.epochs 1 vs 20, input.d 16 vs 64)". */
  description: string;
}

/** The configuration of the preset `base` at `scale` as defined (no overrides). */
export function presetConfiguration(base: string, scale: string): Configuration {
  return configurationOf(resolvePreset(base, scale).runs);
}

/**
 * The folder under `outRoot` and the configuration of `sweep` (the run list to do, before any
 * shard). `fromGrid`: the sweep comes from a grid file (its name is its folder).
 */
export function sweepFolder(sweep: ResolvedSweep, outRoot: string, fromGrid: boolean): SweepFolder {
  const presetRuns = resolvePreset(sweep.base, sweep.scale).runs;
  const preset = configurationOf(presetRuns);
  const configuration = configurationOf(sweep.runs, presetRuns);
  const name = fromGrid ? sweep.name : folderName(sweep.name, configuration, preset);
  const diff = differences(preset.key, configuration.key, 6);
  const description = `configuration ${configuration.id}` +
    (fromGrid ? ` (grid ${sweep.name})` : diff.length ? ` (${diff.join(", ")})` : " (as defined)");
  return { outDir: `${outRoot.replace(/\/+$/, "") || "."}/${name}`, configuration, description };
}

/** The experiment.json of `dir`, or undefined when there is none. */
export async function existingInfo(dir: string): Promise<ExperimentInfo | undefined> {
  try {
    await Deno.stat(`${dir}/experiment.json`);
  } catch {
    return undefined;
  }
  return await readExperimentInfo(dir);
}

/**
 * Throws a one-line error when `dir` already describes (experiment.json) another
 * configuration than `conf`, saying how to name a folder of its own.
 */
export async function checkFolderConfiguration(dir: string, conf: Configuration): Promise<void> {
  const info = await existingInfo(dir);
  const theirs = info?.configuration;
  if (!theirs || theirs.key === conf.key) return;
  throw new Error(
    `out: ${dir} holds configuration ${theirs.id}, this sweep is configuration ${conf.id} ` +
      `(${differences(theirs.key, conf.key, 4).join(", ")}); give the grid another "name" ` +
      `or use another --out`,
  );
}

/**
 * The configuration of an existing folder: the one its experiment.json records, else (folders
 * of older versions) the preset's own configuration if any of its runs have it, else the single
 * configuration of its runs. Throws a one-line error when a folder of an older version mixes
 * configurations and none of them is the preset's.
 */
export function folderConfiguration(
  dir: string,
  info: ExperimentInfo,
  records: RunRecord[],
): Configuration {
  if (info.configuration) return info.configuration;
  const preset = presetConfiguration(info.base, info.scale);
  const found = configurationsIn(records, preset.axes);
  if (found.length <= 1 && found[0]) return found[0].conf;
  if (found.some((f) => f.conf.key === preset.key)) return preset;
  if (found.length === 0) return preset;
  throw new Error(
    `${dir} mixes ${found.length} configurations (${
      found.map((f) => `${f.records.length} runs of ${f.conf.id}`).join(", ")
    }; ${differences(found[0].conf.key, found[1].conf.key, 3).join(", ")}); ` +
      `rerun each with 'deno task sweep', which gives each configuration its own folder`,
  );
}

/**
 * The experiment description shared by merge inputs (their experiment.json files): throws a
 * one-line error naming both when two inputs are of different experiments or configurations;
 * undefined when none has one.
 */
export async function sharedInfo(dirs: string[]): Promise<ExperimentInfo | undefined> {
  let first: { dir: string; info: ExperimentInfo } | undefined;
  for (const dir of dirs) {
    const info = await existingInfo(dir);
    if (!info) continue;
    if (!first) {
      first = { dir, info };
      continue;
    }
    const a = first.info, b = info;
    const idA = a.configuration?.id ?? "unrecorded", idB = b.configuration?.id ?? "unrecorded";
    if (a.name !== b.name || (a.configuration && b.configuration && idA !== idB)) {
      throw new Error(
        `inputs: ${first.dir} is ${a.name} (configuration ${idA}) but ${dir} is ${b.name} ` +
          `(configuration ${idB}); merge only shards of one sweep`,
      );
    }
    if (!first.info.configuration && info.configuration) first = { dir, info };
  }
  return first?.info;
}
