/**
 * Small helpers for the thin CLI entry points in tasks/: typed flag values with one-line
 * errors, and `runMain`, which tells usage errors (one line, exit 2) from internal ones (stack,
 * exit 70).
 */

import { parseArgs } from "node:util";

/** Bad input from the user: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Parses a task's flags strictly: each of `strings` takes a value, each of `booleans` none, and
 * `--help` (`-h`) is always known. Returns `null` for --help; an unknown flag or a positional
 * argument is a one-line usage error.
 */
export function parseFlags<S extends string, B extends string = never>(
  args: string[],
  strings: readonly S[],
  booleans: readonly B[] = [],
): ({ [K in S]?: string } & { [K in B]?: boolean }) | null {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const name of strings) options[name] = { type: "string" };
  for (const name of booleans) options[name] = { type: "boolean" };
  options.help = { type: "boolean", short: "h" };
  const { values, positionals } = parseArgs({
    args,
    options,
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return null;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  return values as { [K in S]?: string } & { [K in B]?: boolean };
}

export function intFlag(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name}: must be an integer >= ${min}, got '${v}'`);
  }
  return n;
}

export function numFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${name}: must be a number, got '${v}'`);
  }
  return n;
}

export function listFlag<T>(
  name: string,
  v: string | undefined,
  parse: (s: string) => T,
  want: string,
): T[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) {
    throw new UsageError(`--${name}: must be a comma-separated list of ${want}, got '${v}'`);
  }
  return parts.map((s) => {
    const x = parse(s);
    if (typeof x === "number" && !Number.isFinite(x)) {
      throw new UsageError(`--${name}: must be a comma-separated list of ${want}, got '${v}'`);
    }
    return x;
  });
}

export function choiceFlag<T extends string>(
  name: string,
  v: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new UsageError(`--${name}: unknown value '${v}' (allowed: ${allowed.join(", ")})`);
  }
  return v as T;
}

/** Exit code of a usage error (bad flags, config or input files): one line on stderr. */
export const USAGE_EXIT = 2;
/** Exit code of an internal error (a bug): its stack on stderr. */
export const INTERNAL_EXIT = 70;

/** A broken invariant inside the toolkit (a bug, not bad input). */
export class InternalError extends Error {
  override name = "InternalError";
}

/**
 * Error classes that mean a bug rather than bad input. Everything else (`Error` with a one-line
 * message naming the field, UsageError, execution-provider and file-system errors) is a usage
 * error.
 */
const INTERNAL_NAMES = new Set([
  "TypeError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "EvalError",
  "URIError",
  "AssertionError",
  "GraphError",
  "GradError",
  "InternalError",
]);

/** Whether `e` is an internal error (printed with its stack) rather than a usage error. */
export function isInternalError(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  if (e instanceof UsageError) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) return false; // node:util
  return INTERNAL_NAMES.has(e.name);
}

/**
 * Runs a CLI main and exits with its code. A usage error prints one line on stderr and exits
 * with USAGE_EXIT; an internal error prints its stack and exits with INTERNAL_EXIT.
 */
export async function runMain(prog: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    if (isInternalError(e)) {
      const text = e instanceof Error ? e.stack ?? `${e.name}: ${e.message}` : String(e);
      console.error(`${prog}: internal error (please report it): ${text}`);
      code = INTERNAL_EXIT;
    } else {
      console.error(`${prog}: ${(e as Error).message.split("\n")[0]}`);
      code = USAGE_EXIT;
    }
  }
  Deno.exit(code);
}
