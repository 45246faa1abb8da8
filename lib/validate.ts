/**
 * One-line validation of user-facing values (model configs, optimizer and schedule options,
 * settings): each check throws an Error naming the field and what is allowed.
 */

/** Throws unless every key of `opts` is in `allowed`. */
export function checkKeys(where: string, opts: object, allowed: readonly string[]): void {
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new Error(`${where}: unknown option '${k}' (allowed: ${allowed.join(", ")})`);
    }
  }
}

/** Throws unless `x` is a finite number satisfying `ok`; `range` describes the allowed values. */
export function checkNumber(
  field: string,
  x: unknown,
  range: string,
  ok: (x: number) => boolean,
): number {
  if (typeof x !== "number" || !Number.isFinite(x) || !ok(x)) {
    throw new Error(`${field}: must be ${range}, got ${show(x)}`);
  }
  return x;
}

export const nonNegative = (x: number): boolean => x >= 0;
export const positiveInt = (x: number): boolean => Number.isInteger(x) && x > 0;
export const nonNegativeInt = (x: number): boolean => Number.isInteger(x) && x >= 0;
export const unitInterval = (x: number): boolean => x >= 0 && x < 1;

export function show(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "number" || typeof x === "boolean" || x == null) return String(x);
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

/** Throws unless `v` is an integer >= 1. */
export function checkPosInt(field: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new Error(`${field}: must be an integer >= 1, got ${String(v)}`);
  }
}

/** Throws unless `v` is one of `allowed`. */
export function checkOneOf(field: string, v: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(v)) {
    throw new Error(
      `${field}: unknown value ${JSON.stringify(v)} (allowed: ${allowed.join(", ")})`,
    );
  }
}

/** Throws unless `v` is a boolean. */
export function checkBool(field: string, v: unknown): void {
  if (typeof v !== "boolean") throw new Error(`${field}: must be true or false, got ${String(v)}`);
}
