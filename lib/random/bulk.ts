/**
 * Bulk random draws for data generation: the same xoshiro128** stream as `Stream` in prng.ts
 * (same key, same 32-bit words), but with the state held in local variables inside tight loops,
 * and normals from a 256-layer ziggurat instead of Box-Muller. The ziggurat needs one 32-bit word
 * and no transcendental function for ~98.5 % of draws, which is what makes ~0.5 M normals per
 * training step affordable (see bench/random_bench.ts).
 *
 * Determinism: integer arithmetic (Math.imul, shifts) plus V8's fdlibm-based Math.exp/log/sqrt,
 * which give the same bits on every machine; the tables are computed with the same functions.
 * A value is computed in float64 and then stored, so a Float32Array gets exactly the float32
 * rounding of what a Float64Array gets from the same key.
 */
import { type Key, xoshiroSeed } from "./prng.ts";

/** Float buffers the bulk fillers write into. */
export type FloatArray = Float32Array | Float64Array;

// ---- ziggurat tables (Marsaglia & Tsang 2000, 256 layers) --------------------------------------
//
// Layer i >= 1 is the strip between heights f(X[i]) and f(X[i-1]) (X[0] = 0, X[255] = R);
// layer 0 is the base [0, R] x [0, f(R)] plus the tail beyond R, given the same area V as a
// virtual rectangle of width V / f(R). A 32-bit word u gives the layer (u & 255), the sign
// (bit 8) and a 23-bit magnitude j = u >>> 9: x = j * X[i] / 2^23. Using disjoint bits for the
// layer and the magnitude avoids the correlation of the original RNOR, which reused the low bits.
// Magnitudes lie on a lattice of spacing X[i] / 2^23 <= 4.4e-7 (finer than float32 near |x| ~ 1).

const LAYERS = 256;
const R = 3.6541528853610088; // right edge of the base rectangle
const V = 0.00492867323399; // area of each layer
const TWO23 = 8388608;
const INV_2_32 = 1 / 4294967296;

/** Accept j < K[i] without further test (the part of layer i under the layer above it). */
const K = new Float64Array(LAYERS);
/** x = j * W[u & 511]: the layer's scale, negated for the upper 256 entries (the sign bit). */
const W = new Float64Array(2 * LAYERS);
/** f(X[i]) = exp(-X[i]^2 / 2), the lower height of layer i (F[0] = f(R) for the base). */
const F = new Float64Array(LAYERS);
/** The upper height of layer i >= 1: 1 for the top layer, else F[i - 1]. */
const FU = new Float64Array(LAYERS);

(function buildTables() {
  const fr = Math.exp(-0.5 * R * R);
  const q = V / fr;
  const X = new Float64Array(LAYERS); // X[i]: right edge of layer i (X[0] is the virtual width)
  X[0] = q;
  X[LAYERS - 1] = R;
  F[0] = fr;
  F[LAYERS - 1] = fr;
  let dn = R;
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(V / dn + Math.exp(-0.5 * dn * dn)));
    X[i] = dn;
    F[i] = Math.exp(-0.5 * dn * dn);
  }
  K[0] = (R / q) * TWO23;
  K[1] = 0; // the top layer has no core rectangle: always the wedge test
  for (let i = 2; i < LAYERS; i++) K[i] = (X[i - 1] / X[i]) * TWO23;
  FU[1] = 1;
  for (let i = 2; i < LAYERS; i++) FU[i] = F[i - 1];
  for (let i = 0; i < LAYERS; i++) {
    W[i] = X[i] / TWO23;
    W[i + LAYERS] = -X[i] / TWO23;
  }
})();

/** xoshiro128** state handed to and from the out-of-line slow path. */
const SLOW = new Int32Array(4);

/** Scratch list of (slot, word) pairs that missed the fast path; grown on demand, shared. */
let PENDING: Int32Array = new Int32Array(4096);
function growPending(need: number): Int32Array {
  const next = new Int32Array(Math.max(need, 2 * PENDING.length));
  next.set(PENDING);
  PENDING = next;
  return next;
}

/** The next word from the state in SLOW (as a signed int32). */
function slowNext(): number {
  let s0 = SLOW[0], s1 = SLOW[1], s2 = SLOW[2], s3 = SLOW[3];
  const y = Math.imul(s1, 5);
  const u = Math.imul((y << 7) | (y >>> 25), 9);
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = (s3 << 11) | (s3 >>> 21);
  SLOW[0] = s0;
  SLOW[1] = s1;
  SLOW[2] = s2;
  SLOW[3] = s3;
  return u;
}

/** A uniform in (0, 1) from one word: never 0, so its log is finite. */
function slowUniform(): number {
  return ((slowNext() >>> 0) + 0.5) * INV_2_32;
}

/**
 * The ziggurat's rare path for a word `u` that missed its layer's core rectangle: the tail test
 * for the base layer, the wedge test otherwise, and on rejection a fresh word (Marsaglia & Tsang's
 * nfix). Reads and advances the stream state in SLOW.
 */
function slowNormal(u: number): number {
  for (;;) {
    const i = u & 255;
    const j = u >>> 9;
    const z = j * W[u & 511];
    if (j < K[i]) return z;
    if (i === 0) {
      // Tail beyond R (Marsaglia 1964): x = -ln(U1)/R, accept if -2 ln(U2) > x^2.
      let x: number, e: number;
      do {
        x = -Math.log(slowUniform()) / R;
        e = -Math.log(slowUniform());
      } while (e + e < x * x);
      return z < 0 ? -(R + x) : R + x;
    }
    // Wedge: accept if a uniform height within layer i falls under the density at z.
    if (F[i] + slowUniform() * (FU[i] - F[i]) < Math.exp(-0.5 * z * z)) return z;
    u = slowNext();
  }
}

/**
 * A xoshiro128** generator for bulk fills. `new BulkRng(k)` produces exactly the 32-bit words of
 * `new Stream(k).nextU32()`, and `fillUniform` the values of prng.ts `uniform(k, ...)`; the
 * normals differ from `Stream.normal()` (ziggurat, not Box-Muller). Successive fills continue
 * the same stream; for uniforms, filling [0, a) then [a, n) equals filling [0, n) in one call
 * (for normals it does not: see `fillNormal`).
 */
export class BulkRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(k: Key) {
    // Int32 views of the same state as Stream's (the bit patterns are what matter).
    const [a, b, c, d] = xoshiroSeed(k);
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
  }

  /** A uniform 32-bit unsigned integer (the next word of the stream). */
  nextU32(): number {
    const s1 = this.s1;
    const y = Math.imul(s1, 5);
    const r = Math.imul((y << 7) | (y >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits (two words), as `Stream.uniform()`. */
  uniform(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * Writes `count` draws of N(mean, std^2) into `out[offset .. offset+count)`, computed in
   * float64 as mean + std * z and then stored (rounded once for a Float32Array).
   *
   * Two passes: the first draws one word per slot and keeps the ~98.5 % that land in a core
   * rectangle; the second finishes the rest in slot order with further words (wedge and tail
   * tests). Keeping calls and Math.exp/log out of the hot loop makes it ~2x faster. The result
   * is a deterministic function of the stream and `count`, but filling [0, a) and then [a, n)
   * is not the same as filling [0, n) at once.
   */
  fillNormal(out: FloatArray, offset = 0, count = out.length - offset, std = 1, mean = 0): void {
    checkRange(out, offset, count);
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    let pending = PENDING;
    let np = 0;
    const end = offset + count;
    for (let p = offset; p < end; p++) {
      // One xoshiro128** step -> u (inlined: a call per draw would cost more than the draw).
      const y = Math.imul(s1, 5);
      const u = Math.imul((y << 7) | (y >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const j = u >>> 9;
      out[p] = mean + std * (j * W[u & 511]);
      if (j >= K[u & 255]) {
        if (np + 2 > pending.length) pending = growPending(np + 2);
        pending[np] = p;
        pending[np + 1] = u;
        np += 2;
      }
    }
    SLOW[0] = s0;
    SLOW[1] = s1;
    SLOW[2] = s2;
    SLOW[3] = s3;
    for (let q = 0; q < np; q += 2) out[pending[q]] = mean + std * slowNormal(pending[q + 1]);
    this.s0 = SLOW[0];
    this.s1 = SLOW[1];
    this.s2 = SLOW[2];
    this.s3 = SLOW[3];
  }

  /**
   * Writes `count` draws of U[lo, hi) into `out[offset .. offset+count)`: the same values as
   * prng.ts `uniform(k, out, lo, hi)` for a fresh `BulkRng(k)` (53-bit uniforms, two words each).
   */
  fillUniform(out: FloatArray, offset = 0, count = out.length - offset, lo = 0, hi = 1): void {
    checkRange(out, offset, count);
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const span = hi - lo;
    const end = offset + count;
    for (let p = offset; p < end; p++) {
      let y = Math.imul(s1, 5);
      const a = Math.imul((y << 7) | (y >>> 25), 9) >>> 5;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      y = Math.imul(s1, 5);
      const b = Math.imul((y << 7) | (y >>> 25), 9) >>> 6;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[p] = lo + span * ((a * 67108864 + b) / 9007199254740992);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

function checkRange(out: FloatArray, offset: number, count: number): void {
  if (
    !Number.isInteger(offset) || !Number.isInteger(count) || offset < 0 || count < 0 ||
    offset + count > out.length
  ) {
    throw new Error(
      `fill: offset ${offset} + count ${count} must be non-negative integers within the buffer ` +
        `(length ${out.length})`,
    );
  }
}

/** Fills `out` with N(mean, std^2) draws from `k` (ziggurat; see `BulkRng.fillNormal`). */
export function fillNormal<T extends FloatArray>(k: Key, out: T, mean = 0, std = 1): T {
  new BulkRng(k).fillNormal(out, 0, out.length, std, mean);
  return out;
}

/** Fills `out` with U[lo, hi) draws from `k`; equal to prng.ts `uniform(k, out, lo, hi)`. */
export function fillUniform<T extends FloatArray>(k: Key, out: T, lo = 0, hi = 1): T {
  new BulkRng(k).fillUniform(out, 0, out.length, lo, hi);
  return out;
}
