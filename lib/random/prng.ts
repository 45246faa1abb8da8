/**
 * Explicit, splittable PRNG keys (in the style of JAX / equinox): every random draw takes a
 * `Key`, and the same key gives the same numbers on every machine, because everything is
 * 32-bit integer arithmetic (Math.imul) plus V8's deterministic Math.log/cos/sin.
 * Keys are split by hashing; streams are xoshiro128** seeded from the key.
 */

/** An immutable PRNG key: two 32-bit words. */
export type Key = readonly [number, number];

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The xoshiro128** state for a key (shared by `Stream` and lib/random/bulk.ts's `BulkRng`, which
 * must produce the same words).
 */
export function xoshiroSeed(k: Key): [number, number, number, number] {
  return [
    fmix32(k[0] ^ 0xa4093822),
    fmix32(k[1] ^ 0x299f31d0),
    fmix32(k[0] + 0x082efa98),
    fmix32(k[1] + 0xec4e6c89) | 1,
  ];
}

function mix2(a: number, b: number, salt: number): number {
  return fmix32((Math.imul(a ^ 0x9e3779b9, 0x01000193) + fmix32(b ^ salt)) >>> 0);
}

/** The root key for an integer seed (any safe integer, negative included). */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed: must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return [mix2(hi, lo, 0x243f6a88), mix2(lo, hi, 0x85a308d3)];
}

/** A key derived from `k` and an integer or string label, independent of `k`'s other children. */
export function foldIn(k: Key, data: number | string): Key {
  let d: number;
  if (typeof data === "number") d = data >>> 0;
  else {
    d = 0x811c9dc5;
    for (let i = 0; i < data.length; i++) d = Math.imul(d ^ data.charCodeAt(i), 0x01000193) >>> 0;
  }
  return [mix2(k[0], d, 0x13198a2e), mix2(k[1], d, 0x03707344)];
}

/** `n` independent child keys. */
export function split(k: Key, n = 2): Key[] {
  return Array.from({ length: n }, (_, i) => foldIn(k, i));
}

/** A sequential xoshiro128** stream seeded from a key. Use for bulk draws. */
export class Stream {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  /** A stream whose state is seeded from `k` (same key, same draws). */
  constructor(k: Key) {
    [this.s0, this.s1, this.s2, this.s3] = xoshiroSeed(k);
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * v;
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The float arrays the fillers write. */
type Floats = Float32Array | Float64Array;

/** Fills `out` with `draw(stream)`, one call per element in order, from a fresh stream of `k`. */
function fill<T extends Floats>(k: Key, out: T, draw: (s: Stream) => number): T {
  const s = new Stream(k);
  for (let i = 0; i < out.length; i++) out[i] = draw(s);
  return out;
}

/** Fills `out` with N(mean, std^2) draws from `k`. */
export function normal<T extends Floats>(k: Key, out: T, mean = 0, std = 1): T {
  return fill(k, out, (s) => mean + std * s.normal());
}

/** Fills `out` with U[lo, hi) draws from `k`. */
export function uniform<T extends Floats>(k: Key, out: T, lo = 0, hi = 1): T {
  return fill(k, out, (s) => lo + (hi - lo) * s.uniform());
}
