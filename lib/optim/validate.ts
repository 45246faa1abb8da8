/** One-line validation of user-facing optimizer and schedule options. */

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
