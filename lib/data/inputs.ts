/**
 * Input distributions for the student-teacher and approximation experiments, sampled host-side
 * from explicit PRNG keys (same key, same bytes on every machine). Rows are row-major [n, d].
 */
import { BulkRng, type FloatArray } from "../random/bulk.ts";
import type { Key } from "../random/prng.ts";

export type { FloatArray };

/**
 * - `gaussian`: x ~ N(0, I_d), as in paper A's training code (not scaled by 1/d).
 * - `gaussian-scaled`: x ~ N(0, I_d / d), so E||x||^2 = 1.
 * - `ball`: uniform in the unit ball of R^d.
 * - `circle`: the unit circle {x1^2 + x2^2 = 1, x_i = 0 for i > 2} in R^d, angle uniform
 *   (paper B, Experiment I); needs d >= 2.
 * - `square`: (x1, x2) uniform in [-1, 1]^2, x_i = 0 for i > 2 (a 2-D product domain embedded in
 *   R^d, the natural domain of the piecewise target of paper B, Experiment II); needs d >= 2.
 * - `cube`: uniform in [-1, 1]^d.
 */
export type InputDist = "gaussian" | "gaussian-scaled" | "ball" | "circle" | "square" | "cube";

/** Every `InputDist`, in documentation order. */
export const INPUT_DISTS: readonly InputDist[] = [
  "gaussian",
  "gaussian-scaled",
  "ball",
  "circle",
  "square",
  "cube",
];

/** The smallest dimension each distribution is defined for. */
const MIN_DIM: Record<InputDist, number> = {
  "gaussian": 1,
  "gaussian-scaled": 1,
  "ball": 1,
  "circle": 2,
  "square": 2,
  "cube": 1,
};

/** Checks that `dist` names an input distribution; throws a one-line error otherwise. */
export function checkInputDist(dist: string): InputDist {
  if (!(INPUT_DISTS as readonly string[]).includes(dist)) {
    throw new Error(`input: unknown distribution "${dist}"; allowed: ${INPUT_DISTS.join(", ")}`);
  }
  return dist as InputDist;
}

/** Checks `dist` and that dimension `d` suits it (a positive integer, >= 2 for circle/square). */
export function checkInputDim(dist: string, d: number): InputDist {
  const dd = checkInputDist(dist);
  if (!Number.isInteger(d) || d < 1) throw new Error(`d: must be a positive integer, got ${d}`);
  if (d < MIN_DIM[dd]) throw new Error(`input: "${dd}" needs d >= ${MIN_DIM[dd]}, got d = ${d}`);
  return dd;
}

/**
 * Samples `n` rows of `dist` in R^d from `k` into a new Float32Array (or into `out`, whose length
 * must be n * d), row-major [n, d]. Values are computed in float64 and stored, so a Float32Array
 * holds the float32 rounding of what a Float64Array gets from the same key.
 */
export function sampleInputs(dist: InputDist, k: Key, n: number, d: number): Float32Array;
/** Like the Float32Array overload, into a typed array of the caller's choice (`out`). */
export function sampleInputs<T extends FloatArray>(
  dist: InputDist,
  k: Key,
  n: number,
  d: number,
  out: T,
): T;
export function sampleInputs(
  dist: InputDist,
  k: Key,
  n: number,
  d: number,
  out?: FloatArray,
): FloatArray {
  checkInputDim(dist, d);
  checkCount(n);
  const buf = out ?? new Float32Array(n * d);
  if (buf.length !== n * d) {
    throw new Error(`out: length ${buf.length} is not n * d = ${n} * ${d} = ${n * d}`);
  }
  fillInputs(dist, k, n, d, buf, 0);
  return buf;
}

/**
 * Writes `n` rows of `dist` in R^d drawn from `k` into `out[offset .. offset + n*d)` (row-major
 * [n, d]); the rest of `out` is untouched. The trainer fills an [N, B, d] buffer one step at a
 * time this way. The rows depend only on (dist, k, n, d), not on `offset` or the buffer type
 * (up to float32 rounding).
 */
export function fillInputs(
  dist: InputDist,
  k: Key,
  n: number,
  d: number,
  out: FloatArray,
  offset = 0,
): void {
  const dd = checkInputDim(dist, d);
  checkCount(n);
  if (!Number.isInteger(offset) || offset < 0 || offset + n * d > out.length) {
    throw new Error(
      `offset: ${offset} + n * d (${n * d}) must fit in the buffer (length ${out.length})`,
    );
  }
  const rng = new BulkRng(k);
  switch (dd) {
    case "gaussian":
      rng.fillNormal(out, offset, n * d);
      return;
    case "gaussian-scaled":
      rng.fillNormal(out, offset, n * d, 1 / Math.sqrt(d));
      return;
    case "cube":
      rng.fillUniform(out, offset, n * d, -1, 1);
      return;
    case "ball":
      fillBall(rng, n, d, out, offset);
      return;
    case "circle":
      fillCircle(rng, n, d, out, offset);
      return;
    case "square":
      fillSquare(rng, n, d, out, offset);
      return;
  }
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`n: must be a non-negative integer, got ${n}`);
}

/** Reused float64 scratch, so a ball batch keeps full precision until its single rounding. */
let scratch = new Float64Array(0);
function scratchOf(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

/**
 * Uniform in the unit ball: a Gaussian direction g / |g| times a radius U^(1/d) (so that
 * P(r < t) = t^d). All n*d normals are drawn first, then the n radii, each in one bulk pass.
 * U^(1/d) is computed as exp(ln(U) / d) from V8's fdlibm exp/log, for bit-reproducibility.
 */
function fillBall(rng: BulkRng, n: number, d: number, out: FloatArray, offset: number): void {
  const g = scratchOf(n * d + n);
  rng.fillNormal(g, 0, n * d);
  rng.fillUniform(g, n * d, n);
  for (let r = 0; r < n; r++) {
    const row = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += g[row + j] * g[row + j];
    const radius = Math.exp(Math.log(g[n * d + r]) / d);
    // A zero Gaussian vector has probability 0; map it to the centre rather than NaN.
    const scale = ss > 0 ? radius / Math.sqrt(ss) : 0;
    for (let j = 0; j < d; j++) out[offset + row + j] = g[row + j] * scale;
  }
}

/** The unit circle in the (x1, x2) plane: angle 2*pi*U, coordinates beyond the second zero. */
function fillCircle(rng: BulkRng, n: number, d: number, out: FloatArray, offset: number): void {
  const u = scratchOf(n);
  rng.fillUniform(u, 0, n);
  for (let r = 0; r < n; r++) {
    const row = offset + r * d;
    const th = 2 * Math.PI * u[r];
    out[row] = Math.cos(th);
    out[row + 1] = Math.sin(th);
    for (let j = 2; j < d; j++) out[row + j] = 0;
  }
}

/** (x1, x2) uniform in [-1, 1]^2, coordinates beyond the second zero. */
function fillSquare(rng: BulkRng, n: number, d: number, out: FloatArray, offset: number): void {
  const u = scratchOf(2 * n);
  rng.fillUniform(u, 0, 2 * n, -1, 1);
  for (let r = 0; r < n; r++) {
    const row = offset + r * d;
    out[row] = u[2 * r];
    out[row + 1] = u[2 * r + 1];
    for (let j = 2; j < d; j++) out[row + j] = 0;
  }
}
