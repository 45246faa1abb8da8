/**
 * The on-disk store of finished runs: one JSON file per run, `<outDir>/runs/<run_id>.json`,
 * written atomically so that a record file, once it has its final name, is always complete.
 * Also the validation of what goes in and comes out of that store (run configs, run results,
 * experiment names, output directories), since a bad record must be caught before it is written.
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { RUN_ID_PATTERN, runId } from "./runid.ts";
import { CURVES_COLUMNS } from "./tables.ts";
import type { EpochRow, RunConfig, RunRecord, RunResult } from "./types.ts";

/** Allowed experiment names: they become directory names. */
export const EXPERIMENT_NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Throws a one-line error naming `field` unless `name` is a usable experiment directory name. */
export function checkExperimentName(name: unknown, field = "experiment"): asserts name is string {
  if (typeof name !== "string" || !EXPERIMENT_NAME_PATTERN.test(name) || /^\.+$/.test(name)) {
    throw new Error(
      `${field}: must match ${EXPERIMENT_NAME_PATTERN} and not be "." or ".." ` +
        `(it becomes a directory name), got ${JSON.stringify(name)}`,
    );
  }
}

/** `<outDir>/runs`. */
export function runsDir(outDir: string): string {
  return `${outDir.replace(/\/+$/, "") || "/"}/runs`;
}

/** `<outDir>/runs/<runId>.json`. */
export function recordPath(outDir: string, id: string): string {
  return `${runsDir(outDir)}/${id}.json`;
}

/**
 * Checks that `dir` can serve as a sweep output directory without touching it: it is a
 * non-empty path that is a directory or does not exist yet, and its `runs` entry (if any) is a
 * directory. Returns whether it exists. Throws a one-line error naming `field`.
 */
export async function checkOutDir(dir: unknown, field = "outDir"): Promise<boolean> {
  if (typeof dir !== "string" || dir.trim() === "") {
    throw new Error(`${field}: must be a non-empty directory path, got ${JSON.stringify(dir)}`);
  }
  for (const [path, what] of [[dir, field], [runsDir(dir), `${field}/runs`]] as const) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return path !== dir;
      throw new Error(`${what}: cannot access ${path}: ${(err as Error).message}`);
    }
    if (!info.isDirectory) throw new Error(`${what}: ${path} exists and is not a directory`);
  }
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function finite(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`${field}: must be a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") {
    throw new Error(`${field}: must be a non-empty string, got ${JSON.stringify(v)}`);
  }
  return v;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) throw new Error(`${field}: must be an object, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Checks the parts of a RunConfig that the sweep machinery relies on (run ids, file names,
 * tables): experiment name, seed, train.lr, model kind (and an moe layer's m, k, w), target
 * kind (and a teacher's m, k or a function's name), and labels (string or number values).
 * Everything else is the executor's to validate. Throws a one-line error naming the field.
 */
export function checkRunConfig(config: unknown, field = "config"): asserts config is RunConfig {
  const c = obj(config, field);
  checkExperimentName(c.experiment, `${field}.experiment`);
  finite(c.seed, `${field}.seed`);
  finite(obj(c.train, `${field}.train`).lr, `${field}.train.lr`);
  const model = obj(c.model, `${field}.model`);
  if (model.kind === "moe") {
    const layer = obj(model.layer, `${field}.model.layer`);
    for (const k of ["m", "k", "w"]) finite(layer[k], `${field}.model.layer.${k}`);
  } else if (model.kind !== "deep") {
    throw new Error(
      `${field}.model.kind: must be "moe" or "deep", got ${JSON.stringify(model.kind)}`,
    );
  }
  const target = obj(c.target, `${field}.target`);
  if (target.kind === "teacher") {
    const t = obj(target.teacher, `${field}.target.teacher`);
    for (const k of ["m", "k"]) finite(t[k], `${field}.target.teacher.${k}`);
  } else if (target.kind === "function") {
    str(target.name, `${field}.target.name`);
  } else if (target.kind === "teacher-file") {
    str(target.path, `${field}.target.path`);
  } else {
    throw new Error(
      `${field}.target.kind: must be "teacher", "teacher-file" or "function", ` +
        `got ${JSON.stringify(target.kind)}`,
    );
  }
  const labels = obj(c.labels, `${field}.labels`);
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== "string" && !(typeof v === "number" && Number.isFinite(v))) {
      throw new Error(
        `${field}.labels.${k}: must be a string or a finite number, got ${JSON.stringify(v)}`,
      );
    }
  }
}

/** NaN and ±Infinity are stored as the strings "NaN", "Infinity", "-Infinity" (JSON has none). */
function encodeNumber(_key: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
}

/** A number that may have been stored as "NaN"/"Infinity"/"-Infinity" (or null: NaN). */
function decodeNumber(v: unknown, field: string): number {
  if (typeof v === "number") return v;
  if (v === null || v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  throw new Error(`${field}: must be a number, got ${JSON.stringify(v)}`);
}

const RESULT_NUMBERS = [
  "score",
  "final_test_loss",
  "min_test_loss",
  "zero_loss",
  "epochs",
  "steps",
  "wall_s",
] as const;
const CURVE_NUMBERS = CURVES_COLUMNS.filter((c) => c !== "run_id");

/**
 * Validates an executor's RunResult (or one read from a record) and returns a normalized copy:
 * numeric fields may be numbers (NaN allowed: a diverged run) or the stored strings "NaN",
 * "Infinity", "-Infinity"; extra fields are kept. Throws a one-line error naming the field.
 */
export function normalizeResult(raw: unknown, field = "result"): RunResult {
  const r = obj(raw, field);
  if (r.status !== "ok" && r.status !== "diverged") {
    throw new Error(`${field}.status: must be "ok" or "diverged", got ${JSON.stringify(r.status)}`);
  }
  const out: Record<string, unknown> = { ...r };
  for (const k of RESULT_NUMBERS) out[k] = decodeNumber(r[k], `${field}.${k}`);
  if (typeof r.strategy !== "string") {
    throw new Error(`${field}.strategy: must be a string, got ${JSON.stringify(r.strategy)}`);
  }
  if (!Array.isArray(r.curves)) throw new Error(`${field}.curves: must be an array`);
  out.curves = r.curves.map((row, i) => {
    const o = obj(row, `${field}.curves[${i}]`);
    const norm: Record<string, unknown> = { ...o };
    for (const k of CURVE_NUMBERS) norm[k] = decodeNumber(o[k], `${field}.curves[${i}].${k}`);
    return norm as unknown as EpochRow;
  });
  return out as unknown as RunResult;
}

/** Checks a versions map: string keys to string values. */
export function checkVersions(v: unknown, field = "versions"): Record<string, string> {
  const o = obj(v, field);
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== "string") {
      throw new Error(`${field}.${k}: must be a string, got ${JSON.stringify(x)}`);
    }
  }
  return o as Record<string, string>;
}

/** The JSON text of a record (2-space indented, non-finite numbers as strings, final newline). */
export function encodeRecord(record: RunRecord): string {
  return JSON.stringify(record, encodeNumber, 2) + "\n";
}

/**
 * Parses and validates a record's text. The run id must be the hash of the stored config (so
 * an edited config is caught) and, when `expectedId` is given, the file's name. Throws a
 * one-line error saying what is wrong.
 */
export function decodeRecord(text: string, expectedId?: string): RunRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  const r = obj(raw, "record");
  const id = str(r.run_id, "run_id");
  if (!RUN_ID_PATTERN.test(id)) {
    throw new Error(`run_id: must match ${RUN_ID_PATTERN}, got "${id}"`);
  }
  if (expectedId !== undefined && id !== expectedId) {
    throw new Error(`run_id: "${id}" does not match the file name "${expectedId}.json"`);
  }
  checkRunConfig(r.config, "config");
  const hash = runId(r.config);
  if (hash !== id) {
    throw new Error(`run_id: "${id}" is not the hash of the stored config ("${hash}"): edited?`);
  }
  const result = normalizeResult(r.result, "result");
  const versions = checkVersions(r.versions, "versions");
  const finishedAt = str(r.finished_at, "finished_at");
  if (Number.isNaN(Date.parse(finishedAt))) {
    throw new Error(`finished_at: must be an ISO 8601 time, got "${finishedAt}"`);
  }
  return { ...r, run_id: id, config: r.config, result, versions, finished_at: finishedAt };
}

/** Writes `record` atomically to its record path and returns that path. */
export async function writeRecord(outDir: string, record: RunRecord): Promise<string> {
  const path = recordPath(outDir, record.run_id);
  await writeFileAtomic(path, encodeRecord(record));
  return path;
}

/** A record file that could not be used, and why. */
export interface InvalidRecord {
  /** The record file. */
  path: string;
  /** Why it cannot be used. */
  error: string;
}

/** The valid records of a directory plus the files that looked like records but were not. */
export interface RecordScan {
  /** Sorted by run id. */
  records: RunRecord[];
  invalid: InvalidRecord[];
  /** The text of each valid record file, by run id (for byte-exact copies when merging). */
  texts: Map<string, string>;
}

/**
 * Reads every record in `<outDir>/runs` (an absent directory holds none). Only `*.json` files
 * count: temp files of interrupted writes (`.<name>.<pid>-<rand>.tmp`) and other dotfiles are
 * ignored. A `*.json` file whose name is not `<run_id>.json`, that does not parse or that fails
 * validation is listed in `invalid` with the reason, and its run counts as not done.
 */
export async function readRecords(outDir: string): Promise<RecordScan> {
  const dir = runsDir(outDir);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".") || !e.name.endsWith(".json")) continue;
      names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { records: [], invalid: [], texts: new Map() };
    throw err;
  }
  names.sort();
  const records: RunRecord[] = [];
  const invalid: InvalidRecord[] = [];
  const texts = new Map<string, string>();
  for (const name of names) {
    const path = `${dir}/${name}`;
    const stem = name.slice(0, -".json".length);
    try {
      if (!RUN_ID_PATTERN.test(stem)) throw new Error("file name is not <run_id>.json");
      const text = await Deno.readTextFile(path);
      const rec = decodeRecord(text, stem);
      records.push(rec);
      texts.set(stem, text);
    } catch (err) {
      invalid.push({ path, error: (err as Error).message });
    }
  }
  return { records, invalid, texts };
}
