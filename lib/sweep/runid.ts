/**
 * Stable run ids: a run id is the SHA-256 of the canonical JSON of its RunConfig, so the same
 * config gets the same id on every machine and in every process, and a record file name says
 * which config produced it.
 */
import { createHash } from "node:crypto";
import type { RunConfig } from "./types.ts";

/** Hex characters of the SHA-256 kept in a run id (48 bits: collisions are negligible). */
export const RUN_ID_LENGTH = 12;

/** A run id: RUN_ID_LENGTH lowercase hex characters. */
export const RUN_ID_PATTERN = /^[0-9a-f]{12}$/;

/**
 * Canonical JSON of a plain JSON value: object keys sorted (by UTF-16 code units) at every
 * depth, no whitespace, numbers as JavaScript prints them (`JSON.stringify`), object entries
 * whose value is `undefined` dropped (as JSON.stringify drops them, so a config read back from
 * its record hashes the same). Throws a one-line error naming the path (e.g. `config.train.lr`)
 * for values that JSON cannot carry faithfully: NaN/±Infinity, bigint, functions, symbols,
 * `undefined` inside arrays, and non-plain objects (Date, Map, typed arrays, class instances).
 */
export function canonicalJson(value: unknown, path = "value"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) {
        throw new Error(`${path}: must be a finite number, got ${value}`);
      }
      return JSON.stringify(value);
    case "object":
      break;
    default:
      throw new Error(`${path}: must be a JSON value, got ${typeof value}`);
  }
  if (Array.isArray(value)) {
    return "[" + value.map((v, i) => {
      if (v === undefined) throw new Error(`${path}[${i}]: must be a JSON value, got undefined`);
      return canonicalJson(v, `${path}[${i}]`);
    }).join(",") + "]";
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as object).constructor?.name ?? "object";
    throw new Error(`${path}: must be a plain object, got ${name}`);
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJson(obj[k], `${path}.${k}`))
    .join(",") +
    "}";
}

/**
 * The run id of `config`: the first RUN_ID_LENGTH hex characters of the SHA-256 of
 * `canonicalJson(config)`. Every field counts, labels included. Throws (naming the field) if
 * the config is not plain JSON; see canonicalJson.
 */
export function runId(config: RunConfig): string {
  const text = canonicalJson(config, "config");
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, RUN_ID_LENGTH);
}
