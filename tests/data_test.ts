import assert from "node:assert/strict";
import {
  BatchSource,
  fillInputs,
  INPUT_DISTS,
  type InputDist,
  piecewise9,
  PIECEWISE9_DEFAULTS,
  sampleInputs,
  SINCOS,
  stepKey,
  targetByName,
  TARGETS,
  testKey,
  testSet,
} from "../lib/data/mod.ts";
import { key } from "../lib/random/prng.ts";

/** Per-coordinate means and covariance of rows [n, d]. */
function moments(x: Float64Array, d: number): { mean: number[]; cov: number[][] } {
  const n = x.length / d;
  const mean = Array.from({ length: d }, (_, j) => {
    let s = 0;
    for (let r = 0; r < n; r++) s += x[r * d + j];
    return s / n;
  });
  const cov = Array.from({ length: d }, () => new Array(d).fill(0));
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) cov[a][b] += (x[r * d + a] - mean[a]) * (x[r * d + b] - mean[b]);
    }
  }
  for (const row of cov) for (let b = 0; b < d; b++) row[b] /= n;
  return { mean, cov };
}

function norms(x: Float64Array | Float32Array, d: number): Float64Array {
  const n = x.length / d, out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[r * d + j] ** 2;
    out[r] = Math.sqrt(s);
  }
  return out;
}

/** Asserts mean ~ 0 (|m| < tolMean), Var ~ v (relative tolVar) and |Cov| < tolCov off-diagonal. */
function assertIsotropic(x: Float64Array, d: number, v: number, tolMean: number, tolCov: number) {
  const { mean, cov } = moments(x, d);
  for (let a = 0; a < d; a++) {
    assert.ok(Math.abs(mean[a]) < tolMean, `mean[${a}] = ${mean[a]}`);
    assert.ok(Math.abs(cov[a][a] / v - 1) < 0.05, `var[${a}] = ${cov[a][a]}, expected ${v}`);
    for (let b = 0; b < a; b++) assert.ok(Math.abs(cov[a][b]) < tolCov, `cov[${a}][${b}]`);
  }
}

// 20,000 rows: a coordinate's sample variance has relative sd ~1 % (Gaussian) or less, so the
// 5 % tolerance is > 5 sd, while the wrong scalings (1 vs 1/d, ball vs sphere) are off by >= 2x.
const N = 20000;

Deno.test("gaussian: N(0, I_d); gaussian-scaled: N(0, I_d / d)", () => {
  const d = 8;
  const g = sampleInputs("gaussian", key(11), N, d, new Float64Array(N * d));
  assertIsotropic(g, d, 1, 0.03, 0.04);
  const s = sampleInputs("gaussian-scaled", key(11), N, d, new Float64Array(N * d));
  assertIsotropic(s, d, 1 / d, 0.03 / Math.sqrt(d), 0.04 / d);
  // E||x||^2 = d and 1 respectively.
  const msq = (v: Float64Array) => norms(v, d).reduce((a, r) => a + r * r, 0) / N;
  assert.ok(Math.abs(msq(g) / d - 1) < 0.02, `E|x|^2 = ${msq(g)}`);
  assert.ok(Math.abs(msq(s) - 1) < 0.02, `E|x|^2 = ${msq(s)}`);
});

Deno.test("ball: inside the unit ball, P(r < t) = t^d, isotropic with Var = 1/(d+2)", () => {
  const d = 5;
  const x = sampleInputs("ball", key(12), N, d, new Float64Array(N * d));
  const r = norms(x, d);
  assert.ok(r.every((v) => v <= 1 + 1e-12), "a point lies outside the ball");
  for (const t of [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99]) {
    const frac = r.filter((v) => v < t).length / N; // sd <= 0.0036
    assert.ok(Math.abs(frac - t ** d) < 0.015, `P(r < ${t}) = ${frac}, expected ${t ** d}`);
  }
  assertIsotropic(x, d, 1 / (d + 2), 0.01, 0.01);
  const f = sampleInputs("ball", key(12), N, d);
  assert.ok(norms(f, d).every((v) => v <= 1 + 1e-6));
});

Deno.test("circle: unit norm in the (x1, x2) plane, zeros beyond, uniform angle", () => {
  const d = 6;
  const x = new Float32Array(N * d).fill(NaN); // coordinates beyond 2 must be written as 0
  sampleInputs("circle", key(13), N, d, x);
  const bins = new Array(8).fill(0);
  for (let r = 0; r < N; r++) {
    const [a, b] = [x[r * d], x[r * d + 1]];
    assert.ok(Math.abs(a * a + b * b - 1) < 1e-6);
    for (let j = 2; j < d; j++) assert.equal(x[r * d + j], 0);
    bins[Math.floor((Math.atan2(b, a) / (2 * Math.PI) + 0.5) * 8) % 8]++;
  }
  for (const c of bins) assert.ok(Math.abs(c / N - 1 / 8) < 0.01, `angle bins ${bins}`);
  assert.throws(
    () => sampleInputs("circle", key(1), 4, 1),
    /input: "circle" needs d >= 2, got d = 1/,
  );
});

Deno.test("square and cube: uniform on [-1, 1] coordinates (Var 1/3); square zero beyond 2", () => {
  const d = 4;
  const c = sampleInputs("cube", key(14), N, d, new Float64Array(N * d));
  assertIsotropic(c, d, 1 / 3, 0.02, 0.02);
  assert.ok(c.every((v) => v >= -1 && v < 1));
  const s = sampleInputs("square", key(14), N, d, new Float64Array(N * d).fill(7));
  const s2 = new Float64Array(N * 2);
  for (let r = 0; r < N; r++) {
    s2[2 * r] = s[r * d];
    s2[2 * r + 1] = s[r * d + 1];
    assert.equal(s[r * d + 2], 0);
    assert.equal(s[r * d + 3], 0);
  }
  assertIsotropic(s2, 2, 1 / 3, 0.02, 0.02);
});

Deno.test("inputs are deterministic, key-dependent, offset-independent; f32 rounds f64", () => {
  const n = 37, d = 5;
  for (const dist of INPUT_DISTS) {
    const a = sampleInputs(dist, key(21), n, d);
    assert.deepEqual(sampleInputs(dist, key(21), n, d), a, dist);
    assert.notDeepEqual(sampleInputs(dist, key(22), n, d), a, dist);
    const a64 = sampleInputs(dist, key(21), n, d, new Float64Array(n * d));
    assert.deepEqual(a, Float32Array.from(a64), dist);
    const buf = new Float32Array(n * d + 10).fill(3);
    fillInputs(dist, key(21), n, d, buf, 6);
    assert.deepEqual(buf.subarray(6, 6 + n * d), a, dist);
    assert.deepEqual([...buf.subarray(0, 6), ...buf.subarray(6 + n * d)], new Array(10).fill(3));
  }
});

Deno.test("input errors name the field and the allowed values", () => {
  assert.throws(
    () => sampleInputs("uniform" as InputDist, key(1), 2, 2),
    {
      message:
        'input: unknown distribution "uniform"; allowed: gaussian, gaussian-scaled, ball, circle, square, cube',
    },
  );
  assert.throws(() => sampleInputs("square", key(1), 2, 1), /input: "square" needs d >= 2/);
  assert.throws(() => sampleInputs("gaussian", key(1), 2, 0), /d: must be a positive integer/);
  assert.throws(() => sampleInputs("gaussian", key(1), -1, 2), /n: must be a non-negative/);
  assert.throws(
    () => sampleInputs("gaussian", key(1), 2, 3, new Float32Array(5)),
    /out: length 5 is not n \* d = 2 \* 3 = 6/,
  );
  assert.throws(
    () => fillInputs("gaussian", key(1), 2, 3, new Float32Array(8), 3),
    /offset: 3 \+ n \* d \(6\) must fit/,
  );
});

Deno.test("sincos: sin(5 x1) + cos(3 x2) at hand-picked points", () => {
  // Rows in R^3 (the third coordinate is ignored).
  const x = new Float64Array([
    0,
    0,
    9,
    Math.PI / 10,
    Math.PI / 6,
    0, // sin(pi/2) + cos(pi/2) = 1
    1,
    0,
    0, // sin 5 + 1
    0.6,
    -0.8,
    0, // a point of the circle: sin 3 + cos(-2.4)
    -Math.PI / 10,
    Math.PI / 3,
    5, // -1 + cos(pi) = -2
  ]);
  const y = SINCOS.evaluate(x, 3);
  const want = [1, 1, 1 - 0.9589242746631385, 0.1411200080598672 - 0.7373937155412454, -2];
  assert.equal(y.length, 5);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(y[i] - want[i]) < 1e-14, `row ${i}: ${y[i]}`);
  const y32 = SINCOS.evaluate(Float32Array.from(x), 3);
  assert.ok(y32 instanceof Float32Array);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(y32[i] - want[i]) < 1e-5);
  assert.throws(() => SINCOS.evaluate(new Float32Array(3), 1), /d: target "sincos" needs/);
  assert.throws(() => SINCOS.evaluate(new Float32Array(5), 2), /x: length 5 is not a multiple/);
});

Deno.test("piecewise9: hand-computed values of the default (sine, sum) target", () => {
  const t = piecewise9();
  // (a, b) -> g_i(a) + h_j(b); levels [-1, 1, 0] / [0.5, -0.5, 1], rates [3, 6, 9] / [5, 2, 7].
  const pts: [number, number, number][] = [
    [-0.5, -0.5, -1 + Math.sin(-1.5) + 0.5 + Math.sin(-2.5)], // piece (0, 0)
    [0, 0, 1 + 0 - 0.5 + 0], // piece (1, 1): 0.5
    [0.5, 0.9, 0 + Math.sin(4.5) + 1 + Math.sin(6.3)], // piece (2, 2)
    [-1 / 3, 1 / 3, 1 + Math.sin(-2) + 1 + Math.sin(7 / 3)], // boundaries belong to the right
    [0.2, -0.9, 1 + Math.sin(1.2) + 0.5 + Math.sin(-4.5)], // piece (1, 0)
  ];
  const x = new Float64Array(pts.flatMap(([a, b]) => [a, b, 0.123]));
  const y = t.evaluate(x, 3);
  pts.forEach(([, , want], i) => assert.ok(Math.abs(y[i] - want) < 1e-14, `row ${i}`));
  assert.ok(Math.abs(y[1] - 0.5) < 1e-15);
  assert.deepEqual([...t.cells(x, 3)], [0, 4, 8, 5, 3]);
  // Literal values for two points, computed by hand: (0.5, 0.9) and (-0.5, -0.5).
  assert.ok(Math.abs(y[2] - (-0.977530117665097 + 1 + 0.0168139004843497)) < 1e-12);
  assert.ok(Math.abs(y[0] - (-1 - 0.997494986604054 + 0.5 - 0.598472144103957)) < 1e-12);
});

Deno.test("piecewise9: 9 distinct pieces on a grid, jumps at every boundary, order-1 values", () => {
  for (const params of [{}, { family: "affine" as const }, { combine: "product" as const }]) {
    const t = piecewise9(params);
    // A 90 x 90 grid of cell centres on [-1, 1]^2, embedded in R^4 with nonzero extra coordinates.
    const G = 90, d = 4, x = new Float64Array(G * G * d);
    for (let p = 0; p < G; p++) {
      for (let q = 0; q < G; q++) {
        x.set([-1 + (2 * p + 1) / G, -1 + (2 * q + 1) / G, 0.7, -0.3], (p * G + q) * d);
      }
    }
    const y = t.evaluate(x, d), cells = t.cells(x, d);
    // Region map: thirds of [-1, 1] in each sub-input, piece 3 i + j, 900 grid points each.
    const count = new Array(9).fill(0);
    for (let p = 0; p < G; p++) {
      for (let q = 0; q < G; q++) {
        const c = cells[p * G + q];
        assert.equal(c, 3 * Math.floor(p / 30) + Math.floor(q / 30));
        count[c]++;
        const [a, b] = [x[(p * G + q) * d], x[(p * G + q) * d + 1]];
        assert.equal(y[p * G + q], t.piece(Math.floor(c / 3), c % 3, a, b));
      }
    }
    assert.deepEqual(count, new Array(9).fill(900));
    // The 9 piece formulas differ pairwise (on a common set of points).
    const probe = [-0.9, -0.2, 0.4, 0.8];
    const sig = (c: number) =>
      probe.flatMap((a) => probe.map((b) => t.piece(c / 3 | 0, c % 3, a, b)));
    for (let c = 0; c < 9; c++) {
      for (let e = 0; e < c; e++) {
        const diff = Math.max(...sig(c).map((v, k) => Math.abs(v - sig(e)[k])));
        assert.ok(diff > 0.2, `pieces ${c} and ${e} coincide (${JSON.stringify(params)})`);
      }
    }
    // f jumps across each boundary (so the pieces cannot be merged into one smooth function);
    // with "product" a jump vanishes where the other factor does (h_2(0.7) ~ 0.02), so skip 0.7.
    const at = (a: number, b: number) => t.evaluate(new Float64Array([a, b]), 2)[0];
    const others = t.params.combine === "product" ? [-0.7, 0] : [-0.7, 0, 0.7];
    for (const bd of [-1 / 3, 1 / 3]) {
      for (const other of others) {
        const eps = 1e-9;
        assert.ok(Math.abs(at(bd + eps, other) - at(bd - eps, other)) > 0.1, `jump in a at ${bd}`);
        assert.ok(Math.abs(at(other, bd + eps) - at(other, bd - eps)) > 0.1, `jump in b at ${bd}`);
      }
    }
    // Not flat: standard deviation of order 1 on the grid (uniform on the square).
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const sd = Math.sqrt(y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length);
    assert.ok(sd > 0.7 && sd < 3, `sd ${sd} (${JSON.stringify(params)})`);
  }
});

Deno.test("piecewise9: parameters move coordinates and boundaries; describe states them", () => {
  const t = piecewise9({ coords: [2, 0], bounds: [[0, 0.5], [-0.5, 0]], combine: "product" });
  assert.equal(t.minDim, 3);
  // a = x3 = 0.25 (region 1 of [0, 0.5]), b = x1 = -0.75 (region 0 of [-0.5, 0]).
  const y = t.evaluate(new Float64Array([-0.75, 99, 0.25]), 3);
  const want = (1 + Math.sin(6 * 0.25)) * (0.5 + Math.sin(5 * -0.75));
  assert.ok(Math.abs(y[0] - want) < 1e-14);
  assert.equal(t.region(0.5, 0), 2);
  assert.equal(t.region(0.49, 0), 1);
  assert.match(t.describe(), /f\(x\) = g_i\(a\) \* h_j\(b\), a = x3, b = x1/);
  assert.match(t.describe(), /\[0, 0\.5\] for a and \[-0\.5, 0\] for b/);
  const def = piecewise9().describe();
  assert.match(
    def,
    /g0\(t\) = -1 \+ sin\(3 t\), g1\(t\) = 1 \+ sin\(6 t\), g2\(t\) = 0 \+ sin\(9 t\)/,
  );
  assert.match(def, /h0\(t\) = 0\.5 \+ sin\(5 t\)/);
  assert.match(piecewise9({ family: "affine" }).describe(), /g1\(t\) = 1 - 2 t/);
  assert.deepEqual(PIECEWISE9_DEFAULTS.bounds, [[-1 / 3, 1 / 3], [-1 / 3, 1 / 3]]);
  assert.throws(() => piecewise9({ coords: [1, 1] }), /piecewise9\.coords/);
  assert.throws(() => piecewise9({ bounds: [[0.5, 0.1], [0, 1]] }), /piecewise9\.bounds/);
  assert.throws(
    () => piecewise9({ family: "cubic" as "sine" }),
    { message: 'piecewise9.family: unknown value "cubic"; allowed: sine, affine' },
  );
  assert.throws(() => piecewise9({ combine: "max" as "sum" }), /allowed: sum, product/);
  assert.throws(() => piecewise9({ levels: [[1, 2], [1, 2, 3]] as never }), /piecewise9\.levels/);
});

Deno.test("target registry: names, outDim, one-line error listing allowed names", () => {
  assert.deepEqual(Object.keys(TARGETS), ["sincos", "piecewise9", "compose9"]);
  assert.equal(targetByName("sincos"), SINCOS);
  assert.equal(targetByName("piecewise9").outDim, 1);
  assert.match(targetByName("sincos").describe(), /sin\(5 x1\) \+ cos\(3 x2\)/);
  assert.throws(() => targetByName("toString"), {
    message: 'target: unknown "toString"; allowed: sincos, piecewise9, compose9',
  });
});

Deno.test("BatchSource: chunking does not change the data; seek resumes bit-identically", () => {
  const spec = { dist: "circle" as const, d: 16, target: "sincos", key: key(31) };
  const B = 64;
  const whole = new BatchSource(spec).next(6, B);
  assert.deepEqual(whole.xDims, [6, B, 16]);
  assert.deepEqual(whole.yDims, [6, B, 1]);
  assert.equal(whole.step, 0);
  const src = new BatchSource(spec);
  const parts = [src.next(1, B), src.next(2, B), src.next(3, B)];
  assert.equal(src.step, 6);
  assert.deepEqual([parts[0].step, parts[1].step, parts[2].step], [0, 1, 3]);
  const cat = (k: "x" | "y") => Float32Array.from(parts.flatMap((p) => [...p[k]!]));
  assert.deepEqual(cat("x"), whole.x);
  assert.deepEqual(cat("y"), whole.y);
  // Slice s is fillInputs(dist, stepKey(key, s), B, d), and y is the target of x.
  assert.deepEqual(
    whole.x.subarray(4 * B * 16, 5 * B * 16),
    sampleInputs("circle", stepKey(spec.key, 4), B, 16),
  );
  assert.deepEqual(whole.y, SINCOS.evaluate(whole.x, 16));
  // Resume from a checkpoint at step 4, and the same via the constructor.
  const resumed = new BatchSource(spec);
  resumed.seek(4);
  assert.deepEqual(resumed.next(2, B).x, whole.x.subarray(4 * B * 16));
  assert.deepEqual(new BatchSource({ ...spec, step: 4 }).next(2, B).y, whole.y!.subarray(4 * B));
  // Consecutive steps differ, other keys differ.
  assert.notDeepEqual(whole.x.subarray(0, B * 16), whole.x.subarray(B * 16, 2 * B * 16));
  assert.notDeepEqual(new BatchSource({ ...spec, key: key(32) }).next(1, B).x, parts[0].x);
});

Deno.test("BatchSource: teacher mode (no target), float64, reused buffers", () => {
  const src = new BatchSource({ dist: "gaussian", d: 8, key: key(41), dtype: "float64" });
  const c = src.next(3, 10);
  assert.ok(c.x instanceof Float64Array);
  assert.equal(c.y, undefined);
  assert.equal(c.yDims, undefined);
  const f32 = new BatchSource({ dist: "gaussian", d: 8, key: key(41) }).next(3, 10);
  assert.deepEqual(f32.x, Float32Array.from(c.x));
  const x = new Float64Array(3 * 10 * 8);
  const again = new BatchSource({ dist: "gaussian", d: 8, key: key(41), dtype: "float64" });
  assert.equal(again.next(3, 10, { x }).x, x);
  assert.deepEqual(x, c.x);
  assert.throws(() => src.next(2, 10, { x }), /out\.x: expected a float64 array of length 160/);
  assert.throws(() => src.next(0, 10), /nSteps: must be a positive integer/);
  assert.throws(
    () => new BatchSource({ dist: "gaussian", d: 8, key: key(1), dtype: "float16" as "float32" }),
    /dtype: unknown "float16"; allowed: float32, float64/,
  );
  assert.throws(() => new BatchSource({ dist: "gaussian", d: 1, target: "sincos", key: key(1) }), {
    message: 'd: target "sincos" needs d >= 2, got d = 1',
  });
  assert.throws(
    () => new BatchSource({ dist: "gaussian", d: 4, target: "nope", key: key(1) }),
    /target: unknown "nope"; allowed: sincos, piecewise9/,
  );
  assert.throws(() => src.seek(-1), /step: must be an integer in \[0, 2\^32\)/);
});

Deno.test("test sets: fixed per (key, epoch), fresh across epochs, apart from training data", () => {
  const spec = { dist: "square" as const, d: 3, target: "piecewise9", key: key(51) };
  const src = new BatchSource(spec);
  const t0 = src.testSet(0, 500);
  assert.deepEqual(t0.xDims, [500, 3]);
  assert.deepEqual(t0.yDims, [500, 1]);
  assert.deepEqual(src.testSet(0, 500), t0);
  assert.deepEqual(testSet(spec, spec.key, 0, 500), t0);
  assert.deepEqual(t0.x, sampleInputs("square", testKey(spec.key, 0), 500, 3));
  assert.deepEqual(t0.y, targetByName("piecewise9").evaluate(t0.x, 3));
  assert.notDeepEqual(src.testSet(1, 500).x, t0.x);
  assert.notDeepEqual(src.next(1, 500).x, t0.x);
  const t64 = testSet(spec, spec.key, 0, 500, "float64");
  assert.deepEqual(Float32Array.from(t64.x), t0.x);
  assert.equal(testSet({ dist: "ball", d: 4 }, key(1), 2, 8).y, undefined);
});

Deno.test("compose9 (Exp. II): plain-TS reference, continuous, every piece curved", () => {
  const t = targetByName("compose9");
  assert.equal(t.outDim, 1);
  // The reference, written out: g, h continuous piecewise sines with rates [2, -3, 4] and
  // [-2, 3, 1.5] on the thirds of [-1, 1], g(-1/3-) = g(-1/3+) etc., g0 and h0 without level.
  const c = 1 / 3;
  const g = (a: number) =>
    a < -c
      ? Math.sin(2 * a)
      : a < c
      ? Math.sin(-2 * c) - Math.sin(1) + Math.sin(-3 * a)
      : Math.sin(-2 * c) - Math.sin(1) + Math.sin(-1) - Math.sin(4 * c) + Math.sin(4 * a);
  const h = (b: number) =>
    b < -c
      ? Math.sin(-2 * b)
      : b < c
      ? Math.sin(2 * c) - Math.sin(-1) + Math.sin(3 * b)
      : Math.sin(2 * c) - Math.sin(-1) + Math.sin(1) - Math.sin(0.5) + Math.sin(1.5 * b);
  const n = 500;
  const x = new Float64Array(n * 3);
  for (let r = 0; r < n; r++) {
    x[3 * r] = -1 + (2 * r) / (n - 1);
    x[3 * r + 1] = 1 - ((7 * r) % n) * (2 / n);
    x[3 * r + 2] = 0.3;
  }
  const y = t.evaluate(x, 3);
  for (let r = 0; r < n; r++) {
    const want = g(x[3 * r]) + h(x[3 * r + 1]);
    assert.ok(Math.abs(y[r] - want) < 1e-12, `row ${r}: ${y[r]} vs ${want}`);
  }
  // Continuous at the boundaries (no jumps), and curved within every piece: the second
  // difference of a piece at its centre is far from 0, so no piece is affine.
  const at = (a: number, b: number) => t.evaluate(Float64Array.from([a, b]), 2)[0];
  for (const s of [-c, c]) {
    assert.ok(Math.abs(at(s - 1e-9, 0.5) - at(s + 1e-9, 0.5)) < 1e-7, `a = ${s}`);
    assert.ok(Math.abs(at(-0.5, s - 1e-9) - at(-0.5, s + 1e-9)) < 1e-7, `b = ${s}`);
  }
  const centres = [-2 / 3 + 0.05, 0.05, 2 / 3 + 0.05];
  for (const a of centres) {
    for (const b of centres) {
      const e = 0.05;
      const daa = at(a + e, b) - 2 * at(a, b) + at(a - e, b);
      const dbb = at(a, b + e) - 2 * at(a, b) + at(a, b - e);
      assert.ok(Math.abs(daa) + Math.abs(dbb) > 1e-3, `piece at (${a}, ${b}) is curved`);
    }
  }
  assert.match(t.describe(), /^compose9: f\(x\) = g_i\(a\) \+ h_j\(b\).*continuous with kinks/);
  // The earlier target keeps its name and jumps.
  assert.ok(
    Math.abs(
      targetByName("piecewise9").evaluate(Float64Array.from([-c - 1e-9, 0]), 2)[0] -
        targetByName("piecewise9").evaluate(Float64Array.from([-c + 1e-9, 0]), 2)[0],
    ) > 0.1,
  );
});
