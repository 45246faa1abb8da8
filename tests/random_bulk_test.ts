import assert from "node:assert/strict";
import { BulkRng, fillNormal, fillUniform } from "../lib/random/bulk.ts";
import { key, Stream, uniform } from "../lib/random/prng.ts";

/** The polynomial with coefficients `c` (highest power first) at `z`. */
function horner(z: number, c: readonly number[]): number {
  let v = c[0];
  for (let i = 1; i < c.length; i++) v = v * z + c[i];
  return v;
}

/** Standard normal CDF to ~1e-14 (Hart 1968 / West 2005, double precision). */
function phi(x: number): number {
  const z = Math.abs(x);
  let c = 0;
  if (z < 37) {
    const e = Math.exp(-z * z / 2);
    if (z < 7.07106781186547) {
      const n = horner(z, [
        3.52624965998911e-2,
        0.700383064443688,
        6.37396220353165,
        33.912866078383,
        112.079291497871,
        221.213596169931,
        220.206867912376,
      ]);
      const d = horner(z, [
        8.83883476483184e-2,
        1.75566716318264,
        16.064177579207,
        86.7807322029461,
        296.564248779674,
        637.333633378831,
        793.826512519948,
        440.413735824752,
      ]);
      c = e * n / d;
    } else {
      c = e / (z + 1 / (z + 2 / (z + 3 / (z + 4 / (z + 0.65))))) / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

/** Pearson chi-square of `z` against N(mu, sigma^2) over `bins` equal bins in [-5, 5] + 2 tails. */
function chiSquare(z: Float64Array, bins: number, mu = 0, sigma = 1): number {
  const lo = -5, hi = 5, cnt = new Float64Array(bins + 2);
  for (const v of z) {
    cnt[v < lo ? 0 : v >= hi ? bins + 1 : 1 + Math.floor((v - lo) / (hi - lo) * bins)]++;
  }
  let chi = 0;
  for (let b = 0; b < bins + 2; b++) {
    const a = b === 0 ? -Infinity : lo + (b - 1) * (hi - lo) / bins;
    const c = b === bins + 1 ? Infinity : lo + b * (hi - lo) / bins;
    const p = (c === Infinity ? 1 : phi((c - mu) / sigma)) -
      (a === -Infinity ? 0 : phi((a - mu) / sigma));
    chi += (cnt[b] - p * z.length) ** 2 / (p * z.length);
  }
  return chi;
}

Deno.test("BulkRng words equal Stream.nextU32 and fillUniform equals prng.uniform", () => {
  for (const seed of [0, 1, -7, 2 ** 40 + 3]) {
    const k = key(seed);
    const s = new Stream(k), b = new BulkRng(k);
    for (let i = 0; i < 2000; i++) assert.equal(b.nextU32(), s.nextU32());
    const u1 = uniform(k, new Float64Array(3001), -2, 5);
    const u2 = fillUniform(k, new Float64Array(3001), -2, 5);
    assert.deepEqual(u2, u1);
    // Continuing fills continue the same stream.
    const b2 = new BulkRng(k), part = new Float64Array(3001);
    b2.fillUniform(part, 0, 1000, -2, 5);
    b2.fillUniform(part, 1000, 2001, -2, 5);
    assert.deepEqual(part, u1);
  }
});

Deno.test("ziggurat normals match N(0, 1): chi-square over 402 bins, tails, moments", () => {
  const n = 1 << 21;
  const z = fillNormal(key(2024), new Float64Array(n));
  // dof 401: mean 401, sd ~28; a correct sampler stays well under 401 + 6 sd.
  const chi = chiSquare(z, 400);
  assert.ok(chi < 570, `chi-square ${chi}`);
  // The same statistic detects a 1 % error of the scale (and so would broken tables).
  assert.ok(chiSquare(z, 400, 0, 1.01) > 700, "chi-square is not sensitive enough");
  const R = 3.6541528853610088; // where the base layer's tail branch starts
  let m1 = 0, m2 = 0, m4 = 0, tail = 0, excess = 0;
  for (const v of z) {
    m1 += v;
    m2 += v * v;
    m4 += v ** 4;
    if (Math.abs(v) > R) {
      tail++;
      excess += Math.abs(v) - R;
    }
  }
  assert.ok(Math.abs(m1 / n) < 0.004, `mean ${m1 / n}`);
  assert.ok(Math.abs(m2 / n - 1) < 0.006, `variance ${m2 / n}`);
  assert.ok(Math.abs(m4 / n - 3) < 0.04, `4th moment ${m4 / n}`);
  const expected = 2 * phi(-R) * n; // ~541, sd ~23
  assert.ok(Math.abs(tail - expected) < 120, `tail count ${tail} vs ${expected}`);
  // E[X - R | X > R] = pdf(R) / Q(R) - R ~ 0.243; the mean of ~500 draws has sd ~0.011, and a
  // tail sampler 20 % too short gives ~0.19.
  const excessMean = Math.exp(-R * R / 2) / Math.sqrt(2 * Math.PI) / phi(-R) - R;
  assert.ok(Math.abs(excess / tail - excessMean) < 0.035, `tail excess ${excess / tail}`);
});

Deno.test("fillNormal: deterministic, float32 is the rounding of float64, mean/std affine", () => {
  const k = key(5);
  const a = fillNormal(k, new Float64Array(100003));
  assert.deepEqual(fillNormal(k, new Float64Array(100003)), a);
  assert.notDeepEqual(fillNormal(key(6), new Float64Array(100003)), a);
  const f = fillNormal(k, new Float32Array(100003));
  for (let i = 0; i < a.length; i++) assert.equal(f[i], Math.fround(a[i]));
  const s = fillNormal(k, new Float64Array(100003), 2, 0.5);
  for (let i = 0; i < a.length; i++) assert.equal(s[i], 2 + 0.5 * a[i]);
  // A fill at an offset writes only its window.
  const w = new Float64Array(10).fill(9);
  new BulkRng(k).fillNormal(w, 3, 4);
  assert.deepEqual([...w.slice(0, 3), ...w.slice(7)], [9, 9, 9, 9, 9, 9]);
  assert.deepEqual(w.slice(3, 7), fillNormal(k, new Float64Array(4)));
});

Deno.test("bulk fills reject windows outside the buffer", () => {
  const b = new BulkRng(key(1));
  assert.throws(() => b.fillNormal(new Float32Array(4), 2, 3), /fill: offset 2 \+ count 3/);
  assert.throws(() => b.fillUniform(new Float32Array(4), -1, 1), /fill: offset -1/);
});
