/**
 * Knobs: settings declared once, as table entries, from which the command-line options, the
 * `--help` lines, the fields a JSON file may hold and the validation all derive (the style of
 * nanoGPT's configurator). An entry says how the value is written (`kind`), what a valid value
 * is (`want` and `ok`) and what it does (`help`); its flag is the key in kebab-case unless given.
 *
 *   const TABLE = {
 *     epochs: int({ arg: "20", help: "training epochs" }),
 *     lrs: nums({ arg: "0.01,0.003", help: "learning rates", want: "positive numbers", ok: (x) => x > 0 }),
 *   };
 *   type Settings = KnobValues<typeof TABLE>;   // { epochs?: number; lrs?: number[] }
 */
import { show } from "../validate.ts";

/** How a knob's value is written: one integer, number or string, or a list of them. */
export type KnobKind = "int" | "num" | "str" | "ints" | "nums" | "strs";

/** One setting. `V` is its value's type (a phantom field carries it for `KnobValues`). */
export interface Knob<V = unknown> {
  /** How the value is written. */
  kind: KnobKind;
  /** What follows the flag in `--help`: an example value (`20`, `4e2a,16e8a`) or `a|b|c`. */
  arg: string;
  /** One line for `--help`. */
  help: string;
  /** What a valid value is (each item, for a list), for errors: "a positive integer". */
  want: string;
  /** Whether a value (each item, for a list) is valid. */
  ok(item: never): boolean;
  /** Command-line flag without the dashes; defaults to the key in kebab-case. */
  flag?: string;
  /** A run selection: picks runs of a grid without changing any run's configuration. */
  select?: true;
  /** Never set: carries the value type. */
  readonly _value?: V;
}

/** A table of knobs, keyed by the field name used in code and in JSON. */
export type KnobTable = Record<string, Knob>;

/** The value type of a knob. */
export type KnobValue<K> = K extends Knob<infer V> ? V : never;

/** The settings a table declares, every one optional. */
export type KnobValues<T extends KnobTable> = { -readonly [K in keyof T]?: KnobValue<T[K]> };

interface Common {
  arg: string;
  help: string;
  flag?: string;
  select?: true;
}

type Checked<X> = Common & { want?: string; ok?: (x: X) => boolean };

const isList = (kind: KnobKind) => kind === "ints" || kind === "nums" || kind === "strs";

/** An integer >= `min` (default 1). */
export function int(o: Checked<number> & { min?: number }): Knob<number> {
  const min = o.min ?? 1;
  return {
    kind: "int",
    want: min === 1 ? "a positive integer" : `an integer >= ${min}`,
    ok: (x: number) => x >= min,
    ...o,
  } as Knob<number>;
}

/** A finite number >= `min` (any finite number without `min`). */
export function num(o: Checked<number> & { min?: number }): Knob<number> {
  const min = o.min ?? -Infinity;
  return {
    kind: "num",
    want: o.min === undefined ? "a number" : `a number >= ${min}`,
    ok: (x: number) => x >= min,
    ...o,
  } as Knob<number>;
}

/** A non-empty string. */
export function str(o: Checked<string>): Knob<string> {
  return { kind: "str", want: "a non-empty string", ok: (x: string) => x !== "", ...o } as Knob<
    string
  >;
}

/** One of `values`; `--help` shows them as `a|b|c`. */
export function choice<const T extends string>(
  values: readonly T[],
  o: Omit<Common, "arg">,
): Knob<T> {
  return {
    kind: "str",
    arg: values.join("|"),
    want: `one of ${values.join(", ")}`,
    ok: (x: string) => (values as readonly string[]).includes(x),
    ...o,
  } as Knob<T>;
}

/** A non-empty list of integers, each >= `min` (default 1). */
export function ints(o: Checked<number> & { min?: number }): Knob<number[]> {
  const min = o.min ?? 1;
  return {
    kind: "ints",
    want: min === 1 ? "positive integers" : `integers >= ${min}`,
    ok: (x: number) => x >= min,
    ...o,
  } as Knob<number[]>;
}

/** A non-empty list of finite numbers. */
export function nums(o: Checked<number>): Knob<number[]> {
  return { kind: "nums", want: "numbers", ok: () => true, ...o } as Knob<number[]>;
}

/** A non-empty list of non-empty strings. */
export function strs(o: Checked<string>): Knob<string[]> {
  return { kind: "strs", want: "non-empty strings", ok: (x: string) => x !== "", ...o } as Knob<
    string[]
  >;
}

/** `samplesPerEpoch` -> `samples-per-epoch`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The command-line flag of a knob (without the dashes). */
export function flagOf(key: string, k: Knob): string {
  return k.flag ?? kebab(key);
}

function fail(msg: string): never {
  throw new Error(msg);
}

/** Throws a one-line error naming the field unless `v` is a valid value of knob `k`. */
export function checkKnob(key: string, k: Knob, v: unknown): void {
  const ok = k.ok as (x: unknown) => boolean;
  const items = isList(k.kind) ? v as unknown[] : [v];
  if (isList(k.kind) && items.length === 0) fail(`${key}: must be a non-empty list of ${k.want}`);
  for (const x of items) {
    if (!ok(x)) fail(`${key}: must be ${k.want}, got ${show(x)}`);
  }
}

const itemOk: Record<"int" | "num" | "str", (x: unknown) => boolean> = {
  int: (x) => Number.isSafeInteger(x),
  num: (x) => typeof x === "number" && Number.isFinite(x),
  str: (x) => typeof x === "string",
};

const itemKind = (kind: KnobKind) => kind.replace(/s$/, "") as "int" | "num" | "str";

const JSON_WANT: Record<KnobKind, string> = {
  int: "an integer",
  num: "a number",
  str: "a string",
  ints: "a list of integers",
  nums: "a list of numbers",
  strs: "a list of strings",
};

/** A JSON value of knob `k`: type-checked, then validated. */
export function knobFromJson<V>(key: string, k: Knob<V>, v: unknown): V {
  const ok = itemOk[itemKind(k.kind)];
  const typed = isList(k.kind) ? Array.isArray(v) && v.every(ok) : ok(v);
  if (!typed) fail(`${key}: must be ${JSON_WANT[k.kind]}, got ${show(v)}`);
  checkKnob(key, k, v);
  return v as V;
}

/** A command-line value of knob `k` (lists comma-separated): parsed, then validated. */
export function knobFromFlag<V>(key: string, k: Knob<V>, raw: string): V {
  const flag = flagOf(key, k);
  const list = isList(k.kind);
  const kind = itemKind(k.kind);
  const parts = list ? raw.split(",").map((s) => s.trim()).filter((s) => s !== "") : [raw];
  const items = parts.map((s) => kind === "str" ? s : s.trim() === "" ? NaN : Number(s));
  if ((list && items.length === 0) || !items.every(itemOk[kind])) {
    fail(`--${flag}: must be ${list ? "a comma-separated list of " : ""}${k.want}, got '${raw}'`);
  }
  const v = list ? items : items[0];
  checkKnob(key, k, v);
  return v as V;
}

/** The `node:util` parseArgs options of a table: every knob takes a string. */
export function knobOptions(table: KnobTable): Record<string, { type: "string" }> {
  return Object.fromEntries(
    Object.entries(table).map(([key, k]) => [flagOf(key, k), { type: "string" as const }]),
  );
}

/** The knobs whose flags were given, parsed and validated (flags not in the table are ignored). */
export function knobsFromFlags<T extends KnobTable>(
  table: T,
  values: Record<string, unknown>,
): KnobValues<T> {
  const out: Record<string, unknown> = {};
  for (const [key, k] of Object.entries(table)) {
    const raw = values[flagOf(key, k)];
    if (typeof raw === "string") out[key] = knobFromFlag(key, k, raw);
  }
  return out as KnobValues<T>;
}

/** The knobs present in a JSON object, type-checked and validated (other fields are ignored). */
export function knobsFromJson<T extends KnobTable>(
  table: T,
  obj: Record<string, unknown>,
): KnobValues<T> {
  const out: Record<string, unknown> = {};
  for (const [key, k] of Object.entries(table)) {
    if (obj[key] !== undefined) out[key] = knobFromJson(key, k, obj[key]);
  }
  return out as KnobValues<T>;
}

/** Validates settings given in code (every present field of the table). */
export function checkKnobs(table: KnobTable, values: Record<string, unknown>): void {
  for (const [key, k] of Object.entries(table)) {
    if (values[key] !== undefined) checkKnob(key, k, values[key]);
  }
}

const HELP_COLUMN = 34;

/** `--help` lines: `  --flag ARG   help`, aligned (a long head puts its help on the next line). */
export function helpLines(rows: { flag: string; arg?: string; help: string }[]): string[] {
  return rows.map((r) => {
    const head = `  --${r.flag}${r.arg ? ` ${r.arg}` : ""}`;
    return head.length + 2 > HELP_COLUMN
      ? `${head}\n${" ".repeat(HELP_COLUMN)}${r.help}`
      : `${head.padEnd(HELP_COLUMN)}${r.help}`;
  });
}

/** The `--help` rows of a knob table. */
export function knobHelpRows(table: KnobTable): { flag: string; arg: string; help: string }[] {
  return Object.entries(table).map(([key, k]) => ({
    flag: flagOf(key, k),
    arg: k.arg,
    help: k.help,
  }));
}
