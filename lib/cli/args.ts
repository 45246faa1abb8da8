/** Small helpers for the thin CLI entry points in tasks/: typed flag values with one-line errors. */

export class UsageError extends Error {
  override name = "UsageError";
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

/** Runs a CLI main, turning expected errors into one line on stderr and exit code 2. */
export async function runMain(prog: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`${prog}: ${msg.split("\n")[0]}`);
    code = 2;
  }
  Deno.exit(code);
}
