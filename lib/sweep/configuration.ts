/**
 * The configuration of a sweep: what its runs share. A figure, a best.csv cell or a reproduction
 * row may only combine runs of one configuration.
 *
 * A run's configuration key is its RunConfig flattened to leaf paths (`train.epochs`,
 * `target.teacher.m`, arrays as leaves) minus
 * - the swept fields `seed` and `train.lr`, and `labels` (table coordinates, not training);
 * - the preset's cell axes: the paths whose value differs between the runs of the preset's own
 *   run list (teacher and student shapes in Fig. 2, the ambient dimension D in paper B Exp. I...).
 *
 * written as canonical JSON of the remaining `{ path: value }` object. Every run of a sweep
 * shares one key; the configuration id is the first 8 hex digits of its SHA-256. A run
 * selection (other cells, learning rates or seeds of the same preset) keeps the key, flags that
 * change how runs train (`--epochs`, `--d`, `--batch`, a teacher file...) change it. Run ids are
 * untouched: the key is derived from the RunConfig, never stored in it.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "./runid.ts";
import type { RunConfig, RunRecord } from "./types.ts";

/** A sweep's configuration: the cell axes, the key shared by its runs and the key's short hash. */
export interface Configuration {
  /** 8 hex digits of the SHA-256 of `key`. */
  id: string;
  /** Canonical JSON `{ path: value }` of what the runs share (see the module doc). */
  key: string;
  /** Leaf paths that vary between cells (excluded from the key), sorted. */
  axes: string[];
}

/** Paths never part of a configuration: the swept fields and the table labels. */
function swept(path: string): boolean {
  return path === "seed" || path === "train.lr" || path === "labels" ||
    path.startsWith("labels.");
}

/** The leaves of a plain JSON value as path -> canonical JSON of the value (arrays are leaves). */
export function flatten(value: unknown, prefix = "", out = new Map<string, string>()) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      flatten(v, prefix ? `${prefix}.${k}` : k, out);
    }
  } else {
    out.set(prefix, canonicalJson(value, prefix || "value"));
  }
  return out;
}

/** The leaf paths (minus seed, train.lr, labels) whose value is not the same in every run. */
export function cellAxes(runs: RunConfig[]): string[] {
  const values = new Map<string, Set<string>>();
  const flat = runs.map((r) => flatten(r));
  const paths = new Set(flat.flatMap((f) => [...f.keys()]));
  for (const p of paths) {
    if (swept(p)) continue;
    values.set(p, new Set(flat.map((f) => f.get(p) ?? "<absent>")));
  }
  return [...values].filter(([, v]) => v.size > 1).map(([p]) => p).sort();
}

/** The configuration key of one run under the given cell axes (see the module doc). */
export function configurationKey(config: RunConfig, axes: readonly string[]): string {
  const skip = new Set(axes);
  const kept: Record<string, unknown> = {};
  for (const [p, v] of [...flatten(config)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!swept(p) && !skip.has(p)) kept[p] = JSON.parse(v);
  }
  return canonicalJson(kept, "configuration");
}

/** The 8-hex-digit id of a configuration key. */
export function configurationId(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex").slice(0, 8);
}

/**
 * The configuration of `runs` with the cell axes of `presetRuns` (the preset's own run list;
 * default `runs`). Throws a one-line error if the runs do not share one key (they would vary
 * in a field the preset does not sweep).
 */
export function configurationOf(runs: RunConfig[], presetRuns: RunConfig[] = runs): Configuration {
  if (runs.length === 0) throw new Error("runs: a configuration needs at least one run");
  const axes = cellAxes(presetRuns);
  const key = configurationKey(runs[0], axes);
  for (const [i, r] of runs.entries()) {
    const k = configurationKey(r, axes);
    if (k !== key) {
      throw new Error(
        `runs[${i}]: differs from runs[0] in ${differences(key, k).join(", ")}, ` +
          `which the preset does not sweep (one sweep must be one configuration)`,
      );
    }
  }
  return { id: configurationId(key), key, axes };
}

/**
 * The fields in which two configuration keys differ, as `path <b's value> vs <a's value>`,
 * shallow paths first, at most `max` (then "N more").
 */
export function differences(a: string, b: string, max = 4): string[] {
  const x = JSON.parse(a) as Record<string, unknown>;
  const y = JSON.parse(b) as Record<string, unknown>;
  const show = (v: unknown) => (v === undefined ? "absent" : JSON.stringify(v));
  const depth = (p: string) => p.split(".").length;
  // Shallow paths first: "input.d" before the model's "model.layer.dIn" that follows from it.
  const out = [...new Set([...Object.keys(x), ...Object.keys(y)])]
    .sort((p, q) => depth(p) - depth(q) || (p < q ? -1 : p > q ? 1 : 0))
    .filter((p) => JSON.stringify(x[p]) !== JSON.stringify(y[p]))
    .map((p) => `${p} ${show(y[p])} vs ${show(x[p])}`);
  return out.length > max ? [...out.slice(0, max), `${out.length - max} more`] : out;
}

/**
 * The output folder name of a sweep named `name` with configuration `conf`: `name` itself when
 * `conf` is the preset's own configuration (`preset`), else `<name>-<conf.id>`.
 */
export function folderName(name: string, conf: Configuration, preset?: Configuration): string {
  return preset && preset.key === conf.key ? name : `${name}-${conf.id}`;
}

/** Records split into those of a configuration and the others ("foreign"). */
export interface RecordSplit {
  mine: RunRecord[];
  foreign: RunRecord[];
}

/** Splits records by whether they belong to `conf` (same key under conf's axes). */
export function splitRecords(records: RunRecord[], conf: Configuration): RecordSplit {
  const mine: RunRecord[] = [], foreign: RunRecord[] = [];
  for (const r of records) {
    (configurationKey(r.config, conf.axes) === conf.key ? mine : foreign).push(r);
  }
  return { mine, foreign };
}

/** The distinct configurations among records (under `axes`), largest first, with their runs. */
export function configurationsIn(
  records: RunRecord[],
  axes: string[],
): { conf: Configuration; records: RunRecord[] }[] {
  const by = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = configurationKey(r.config, axes);
    by.set(k, [...(by.get(k) ?? []), r]);
  }
  return [...by].map(([key, rs]) => ({
    conf: { id: configurationId(key), key, axes },
    records: rs,
  }))
    .sort((a, b) => b.records.length - a.records.length || (a.conf.id < b.conf.id ? -1 : 1));
}

/**
 * A one-line report of the runs in `dir` that are not of configuration `conf`, e.g. "out/fig2
 * holds 8 runs of another configuration (configuration 1a2b3c4d: train.epochs 1 vs 20, ...);
 * they are left out of its tables and figures". Empty when there are none.
 */
export function foreignReport(dir: string, conf: Configuration, foreign: RunRecord[]): string {
  if (foreign.length === 0) return "";
  const others = configurationsIn(foreign, conf.axes);
  const parts = others.slice(0, 3).map((o) =>
    `${o.records.length} of configuration ${o.conf.id}: ${
      differences(conf.key, o.conf.key, 3).join(", ")
    }`
  );
  return `warning: ${dir} holds ${foreign.length} run(s) of other configurations than ` +
    `${conf.id} (${parts.join("; ")}${others.length > 3 ? "; ..." : ""}); they are left out ` +
    `of its tables and figures (move their runs/ records to the folder of their configuration)`;
}
