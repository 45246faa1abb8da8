/**
 * k-subsets of the m experts: exact binomial coefficients, a canonical key per subset (the
 * bitmask sum of 2^j over its members, so the key does not depend on the order TopK lists them),
 * and the number of distinct subsets a sample should hit if all C(m, k) were equally likely.
 */

/** Largest m whose subsets fit a bitmask key in int64 (2^62 + ... stays below 2^63). */
export const MAX_EXPERTS = 62;

function checkMK(m: number, k: number): void {
  if (!Number.isInteger(m) || m < 0) throw new Error(`m: must be an integer >= 0, got ${m}`);
  if (!Number.isInteger(k) || k < 0 || k > m) {
    throw new Error(`k: must be an integer between 0 and m (=${m}), got ${k}`);
  }
}

/** C(m, k) exactly, as a bigint (0 <= k <= m). */
export function binomial(m: number, k: number): bigint {
  checkMK(m, k);
  const kk = Math.min(k, m - k);
  let c = 1n;
  // c stays an exact integer: after step i it is C(m - kk + i, i).
  for (let i = 1; i <= kk; i++) c = (c * BigInt(m - kk + i)) / BigInt(i);
  return c;
}

/**
 * The canonical key of a set of expert indices: sum of 2^j over the (distinct) members, as a
 * bigint. Independent of the order of `indices`; throws on repeats or indices outside 0..62.
 */
export function subsetKey(indices: Iterable<number>): bigint {
  let key = 0n;
  for (const j of indices) {
    if (!Number.isInteger(j) || j < 0 || j > MAX_EXPERTS) {
      throw new Error(`indices: each must be an integer in 0..${MAX_EXPERTS}, got ${j}`);
    }
    const bit = 1n << BigInt(j);
    if (key & bit) throw new Error(`indices: expert ${j} appears twice`);
    key |= bit;
  }
  return key;
}

/** The members of a subset key, ascending. */
export function keyToSet(key: bigint | number): number[] {
  let k = BigInt(key);
  if (k < 0n) throw new Error(`key: must be >= 0, got ${k}`);
  const out: number[] = [];
  for (let j = 0; k > 0n; j++, k >>= 1n) if (k & 1n) out.push(j);
  return out;
}

/** `{0,3,5}`: a subset key as readable text. */
export function formatSet(key: bigint | number): string {
  return `{${keyToSet(key).join(",")}}`;
}

/**
 * Expected number of distinct values among `n` independent uniform draws from `c` values:
 * c (1 - (1 - 1/c)^n), computed as -c expm1(n log1p(-1/c)) so it stays accurate when c is far
 * larger than n (it then tends to n).
 */
export function expectedDistinct(c: bigint | number, n: number): number {
  const cn = typeof c === "bigint" ? Number(c) : c;
  if (!(cn >= 1)) throw new Error(`c: must be >= 1, got ${c}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`n: must be an integer >= 0, got ${n}`);
  if (cn === 1) return n > 0 ? 1 : 0;
  return -cn * Math.expm1(n * Math.log1p(-1 / cn));
}

/**
 * Calls `visit` with every k-subset of {0..m-1} in colex order (ascending bitmask key). The array
 * passed is reused between calls (ascending indices); copy it to keep it.
 */
export function forEachSubset(m: number, k: number, visit: (s: readonly number[]) => void): void {
  checkMK(m, k);
  const s = Array.from({ length: k }, (_, i) => i);
  while (true) {
    visit(s);
    // Colex successor: bump the lowest index that can move up, reset the ones below it.
    let i = 0;
    while (i < k && s[i] + 1 === (i + 1 < k ? s[i + 1] : m)) i++;
    if (i === k) return;
    s[i]++;
    for (let j = 0; j < i; j++) s[j] = j;
  }
}
