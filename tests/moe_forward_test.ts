import assert from "node:assert/strict";
import { Graph } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { key, normal } from "../lib/random/prng.ts";
import { Session } from "../lib/runtime/session.ts";
import {
  ACTIVATIONS,
  castParams,
  type DeepMoeConfig,
  deepMoeConfig,
  deepMoeForward,
  deepMoeReference,
  deepParamShapes,
  erf,
  GATES,
  initDeepMoe,
  initMoe,
  moeConfig,
  moeForward,
  moeParamShapes,
  moeReference,
  paramFeeds,
  paramInitializers,
  paramInputs,
  type ParamSet,
  parseShorthand,
  shorthand,
  strategyCost,
  studentConfig,
  teacherConfig,
  validateMoeConfig,
} from "../lib/nn/mod.ts";
import { gateCase, MOE_PARAM_NAMES } from "./support/fixtures.ts";
import { runLayer } from "./support/layer.ts";

const nums = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

function inputs(seed: number, B: number, d: number): Float64Array {
  return normal(key(seed), new Float64Array(B * d));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

Deno.test("reference erf matches known values", () => {
  assert.ok(Math.abs(erf(0.5) - 0.5204998778130465) < 1e-15);
  assert.ok(Math.abs(erf(-1.5) + 0.9661051464753108) < 1e-15);
  assert.ok(Math.abs(erf(3) - 0.9999779095030014) < 1e-15);
  assert.equal(erf(0), 0);
});

Deno.test("every gate x activation x strategy matches the float64 reference", async () => {
  const B = 17;
  const xs = inputs(11, B, 5);
  let i = 0;
  for (const gate of GATES) {
    for (const activation of ACTIVATIONS) {
      for (const strategy of ["dense", "sparse"] as const) {
        const cfg = moeConfig({ ...gateCase(gate, activation, 3, i), strategy });
        i++;
        const ps = initMoe(cfg, key(i), { dtype: "float64" });
        const ref = moeReference(cfg, ps, xs);
        const got = await runLayer(cfg, ps, xs, { dtype: "float64" });
        const where = `${gate}/${activation}/${strategy}`;
        assert.equal(got.strategy, strategy, where);
        assert.deepEqual(got.idx, Array.from(ref.indices), where);
        assert.ok(maxAbsDiff(got.gates, ref.gates) < 1e-12, where);
        // ORT's Erf is float32-only, so float64 gelu carries float32 erf error.
        const tol = activation === "gelu" ? 1e-6 : 1e-10;
        const err = maxAbsDiff(got.y, ref.y);
        assert.ok(err < tol, `${where}: max |y - ref| = ${err}`);
        assert.ok(ref.y.some((v) => Math.abs(v) > 1e-3), `${where}: reference is trivially 0`);
      }
    }
  }
});

Deno.test("float32 graphs match the reference where routing is not a near-tie", async () => {
  const B = 64;
  const xs = inputs(21, B, 8);
  for (const strategy of ["dense", "sparse"] as const) {
    for (const gate of GATES) {
      const cfg = moeConfig({
        m: 8,
        k: 3,
        w: 6,
        dIn: 8,
        dOut: 4,
        gate,
        routerBias: true,
        strategy,
      });
      const ps = initMoe(cfg, key(5), { dtype: "float32" });
      const ref = moeReference(cfg, ps, xs);
      const got = await runLayer(cfg, ps, xs, { dtype: "float32" });
      let compared = 0;
      for (let t = 0; t < B; t++) {
        const sc = Array.from(ref.scores.subarray(t * 8, t * 8 + 8)).sort((a, b) => b - a);
        if (sc[2] - sc[3] < 1e-4) continue; // the float32 graph may pick either expert
        compared++;
        assert.deepEqual(
          got.idx.slice(t * 3, t * 3 + 3),
          Array.from(ref.indices.subarray(t * 3, t * 3 + 3)),
        );
        for (let o = 0; o < 4; o++) {
          const d = Math.abs(got.y[t * 4 + o] - ref.y[t * 4 + o]);
          assert.ok(d < 1e-5 * (1 + Math.abs(ref.y[t * 4 + o])), `${strategy}/${gate} t=${t}`);
        }
      }
      assert.ok(compared > B * 0.9, `only ${compared} tokens without near-ties`);
    }
  }
});

Deno.test("router ties go to the lower expert index in both strategies", async () => {
  const cfg = moeConfig({ m: 6, k: 2, w: 3, dIn: 4, dOut: 2, routerBias: true });
  const ps = initMoe(cfg, key(3), { dtype: "float64" });
  // Columns 3 and 5 duplicate column 1 (bias too): experts 1, 3, 5 always tie.
  const R = ps.get("moe0.router.weight")!.data as Float64Array;
  const b = ps.get("moe0.router.bias")!.data as Float64Array;
  for (let i = 0; i < 4; i++) R[i * 6 + 3] = R[i * 6 + 5] = R[i * 6 + 1];
  b[3] = b[5] = b[1];
  const xs = inputs(4, 32, 4);
  const ref = moeReference(cfg, ps, xs);
  let tiedPicks = 0;
  for (let t = 0; t < 32; t++) {
    const sel = Array.from(ref.indices.subarray(t * 2, t * 2 + 2));
    if (sel.includes(1)) {
      tiedPicks++;
      assert.ok(!sel.includes(5), "expert 5 ties with 1 and must lose");
    }
  }
  assert.ok(tiedPicks > 0, "the tie never mattered");
  for (const strategy of ["dense", "sparse"] as const) {
    const got = await runLayer(cfg, ps, xs, { dtype: "float64", strategy });
    assert.deepEqual(got.idx, Array.from(ref.indices), strategy);
    assert.ok(maxAbsDiff(got.y, ref.y) < 1e-10, strategy);
  }
  // A zero router ties everything: experts 0..k-1 with equal softmax weights.
  (ps.get("moe0.router.weight")!.data as Float64Array).fill(0);
  (ps.get("moe0.router.bias")!.data as Float64Array).fill(0);
  for (const strategy of ["dense", "sparse"] as const) {
    const got = await runLayer(cfg, ps, xs, { dtype: "float64", strategy });
    for (let t = 0; t < 32; t++) assert.deepEqual(got.idx.slice(2 * t, 2 * t + 2), [0, 1]);
    assert.ok(got.gates.every((v) => v === 0.5));
    assert.ok(maxAbsDiff(got.y, moeReference(cfg, ps, xs).y) < 1e-10);
  }
});

Deno.test("edge shapes: k = m, k = 1, m = 1, loads not divisible by m", async () => {
  const cases = [
    { m: 5, k: 5, w: 3 },
    { m: 5, k: 1, w: 3 },
    { m: 1, k: 1, w: 2 },
    { m: 7, k: 3, w: 5 },
    { m: 9, k: 2, w: 1 },
  ];
  for (const c of cases) {
    for (const B of [1, 13]) {
      const cfg = moeConfig({ ...c, dIn: 4, dOut: 3, routerBias: true, gate: "softmax-all" });
      const ps = initMoe(cfg, key(c.m * 10 + c.k), { dtype: "float64" });
      const xs = inputs(B + c.m, B, 4);
      const ref = moeReference(cfg, ps, xs);
      for (const strategy of ["dense", "sparse"] as const) {
        const got = await runLayer(cfg, ps, xs, { dtype: "float64", strategy });
        const where = `${shorthand(c.m, c.k)} B=${B} ${strategy}`;
        assert.deepEqual(got.idx, Array.from(ref.indices), where);
        assert.ok(maxAbsDiff(got.y, ref.y) < 1e-10, where);
      }
    }
  }
});

Deno.test("dense and sparse agree on a larger layer; params work as initializers", async () => {
  const cfg = moeConfig({ m: 16, k: 4, w: 8, dIn: 16, dOut: 12, routerBias: true });
  const ps = initMoe(cfg, key(9), { dtype: "float64" });
  const xs = inputs(10, 64, 16);
  const ys: number[][] = [];
  for (const strategy of ["dense", "sparse"] as const) {
    const g = new Graph("frozen");
    const x = g.input("x", "float64", ["batch", 16]);
    g.output(moeForward(g, cfg, paramInitializers(g, ps), x, { strategy }).y, "y");
    const s = await Session.create(encodeModel(g), { threads: 1 });
    ys.push(nums((await s.run({ x: tensor("float64", [64, 16], xs) })).y));
    await s.release();
  }
  assert.ok(maxAbsDiff(ys[0], ys[1]) < 1e-12);
  assert.ok(maxAbsDiff(ys[0], moeReference(cfg, ps, xs).y) < 1e-10);
});

Deno.test("auto picks by the cost model and reports it", async () => {
  const c16 = teacherConfig(16, 8, 256);
  const c256 = moeConfig({ m: 256, k: 8, w: 40, dIn: 256 });
  assert.equal(strategyCost({ ...c16, depth: 1 }).choice, "dense");
  assert.equal(strategyCost({ ...c256, depth: 1 }).choice, "sparse");
  // Small layers resolve either way; the result must be right and name what was built.
  for (
    const [c, want] of [[{ m: 64, k: 1, w: 4, dIn: 8, dOut: 2 }, "dense"], [
      { m: 64, k: 1, w: 16, dIn: 16, dOut: 16 },
      "sparse",
    ]] as const
  ) {
    const cfg = moeConfig(c);
    assert.equal(strategyCost({ ...cfg, depth: 1 }).choice, want);
    const ps = initMoe(cfg, key(1), { dtype: "float64" });
    const xs = inputs(2, 9, c.dIn);
    const got = await runLayer(cfg, ps, xs, { dtype: "float64" });
    assert.equal(got.strategy, want);
    assert.ok(maxAbsDiff(got.y, moeReference(cfg, ps, xs).y) < 1e-10);
  }
});

Deno.test("sparse dispatch is exact under a collapsed router (all tokens on few experts)", async () => {
  const cfg = moeConfig({ m: 12, k: 3, w: 4, dIn: 6, dOut: 5, routerBias: true });
  const ps = initMoe(cfg, key(8), { dtype: "float64" });
  const b = ps.get("moe0.router.bias")!.data as Float64Array;
  b.fill(0);
  b[7] = 50; // every token picks expert 7, and expert 2 or 9 next
  b[2] = b[9] = 40;
  const xs = inputs(6, 50, 6);
  const ref = moeReference(cfg, ps, xs);
  assert.ok(Array.from(ref.indices).filter((j) => j === 7).length === 50);
  for (const strategy of ["dense", "sparse"] as const) {
    const got = await runLayer(cfg, ps, xs, { dtype: "float64", strategy });
    assert.deepEqual(got.idx, Array.from(ref.indices), strategy);
    assert.ok(maxAbsDiff(got.y, ref.y) < 1e-10, strategy);
  }
});

Deno.test("the layer builds inside a Loop body (params and x loop-carried)", async () => {
  const cfg = moeConfig({ m: 5, k: 2, w: 3, dIn: 4, routerBias: true });
  const ps = initMoe(cfg, key(12), { dtype: "float64" });
  const xs = inputs(13, 6, 4);
  const once = moeReference(cfg, ps, xs).y;
  const twice = moeReference(cfg, ps, once).y;
  for (const strategy of ["dense", "sparse"] as const) {
    const g = new Graph("loop");
    const x = g.input("x", "float64", ["batch", 4]);
    const pv = paramInputs(g, ps);
    const names = [...ps.keys()];
    const [y] = g.loop(2, [x, ...names.map((n) => pv[n])], (body, _i, carried) => {
      const inner = Object.fromEntries(names.map((n, i) => [n, carried[i + 1]]));
      const r = moeForward(body, cfg, inner, carried[0], { strategy });
      return { carried: [r.y, ...carried.slice(1)] };
    });
    g.output(y, "y");
    const s = await Session.create(encodeModel(g), { threads: 1 });
    const out = await s.run({ x: tensor("float64", [6, 4], xs), ...paramFeeds(ps) });
    await s.release();
    assert.ok(maxAbsDiff(nums(out.y), twice) < 1e-10, strategy);
  }
});

async function runDeep(cfg: DeepMoeConfig, ps: ParamSet, xs: Float64Array): Promise<number[]> {
  const g = new Graph("deep");
  const x = g.input("x", "float64", ["batch", cfg.dIn]);
  const r = deepMoeForward(g, cfg, paramInputs(g, ps), x);
  assert.equal(r.routes.length, cfg.layers);
  g.output(r.y, "y");
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const out = await s.run({
    x: tensor("float64", [xs.length / cfg.dIn, cfg.dIn], xs),
    ...paramFeeds(ps),
  });
  await s.release();
  assert.deepEqual(out.y.dims, [xs.length / cfg.dIn, cfg.dOut]);
  return nums(out.y);
}

Deno.test("deep MoE matches its reference (depth, residual, dense layers, both strategies)", async () => {
  const variants: Partial<DeepMoeConfig>[] = [
    { layers: 3, expertDepth: 2, residual: true, denseBetween: true },
    { layers: 2, k: 2, expertDepth: 1, hiddenDim: 5, gate: "softmax-all" },
    { layers: 1, expertDepth: 3, dOut: 3 },
    { layers: 2, expertDepth: 2, activation: "constant", residual: true },
    // Paper B's Exp. II models (arXiv 2505.24205): top-1, 3-layer experts (two hidden layers).
    { dIn: 2, layers: 2, experts: 3, expertDepth: 2, gate: "softmax-all" },
    { dIn: 2, layers: 1, experts: 6, expertDepth: 2, gate: "softmax-all" },
    // Expert choice in every layer: each layer's experts pick their tokens of the batch.
    { layers: 3, k: 2, experts: 4, expertDepth: 2, gate: "expert-choice", residual: true },
  ];
  let seed = 0;
  for (const v of variants) {
    for (const strategy of ["dense", "sparse"] as const) {
      const cfg = deepMoeConfig({
        dIn: 4,
        dOut: 1,
        layers: 2,
        experts: 3,
        expertWidth: 6,
        ...v,
        strategy,
      });
      const ps = initDeepMoe(cfg, key(++seed), { dtype: "float64" });
      // One layout: init draws exactly the tensors deepParamShapes names, in its order.
      assert.deepEqual(
        [...ps].map(([name, t]) => [name, t.dims]),
        deepParamShapes(cfg).map((p) => [p.name, p.dims]),
      );
      const xs = inputs(seed, 24, cfg.dIn);
      const ref = deepMoeReference(cfg, ps, xs);
      const got = await runDeep(cfg, ps, xs);
      const err = maxAbsDiff(got, ref.y);
      assert.ok(err < 1e-10, `${JSON.stringify(v)} ${strategy}: ${err}`);
      assert.ok(ref.y.some((y) => Math.abs(y) > 1e-3));
    }
  }
});

Deno.test("init: torch bounds, names, determinism, independence of tensors", () => {
  const cfg = moeConfig({ m: 4, k: 2, w: 5, dIn: 6, dOut: 3, routerBias: true });
  const ps = initMoe(cfg, key(42), { dtype: "float64" });
  assert.deepEqual([...ps.keys()], MOE_PARAM_NAMES);
  for (const p of moeParamShapes({ ...cfg, depth: 1 })) {
    const t = ps.get("moe0." + p.name)!;
    assert.deepEqual(t.dims, p.dims);
    const bound = 1 / Math.sqrt(p.name.includes("2") ? 5 : 6);
    const vals = nums(t);
    assert.ok(vals.every((v) => Math.abs(v) <= bound), p.name);
    assert.ok(Math.max(...vals.map(Math.abs)) > 0.5 * bound, `${p.name} uses its range`);
  }
  // Same seed, same bytes; float32 is the float64 draw rounded; the prefix does not matter.
  const again = initMoe(cfg, key(42), { dtype: "float64", prefix: "teacher." });
  for (const [n, t] of ps) {
    assert.deepEqual(
      new Uint8Array(again.get(n.replace("moe0.", "teacher."))!.data.buffer),
      new Uint8Array(t.data.buffer),
    );
  }
  const f32 = initMoe(cfg, key(42), { dtype: "float32" });
  assert.deepEqual(f32, castParams(ps, "float32"));
  // Pinned values: catch any drift in the PRNG or the key derivation across machines.
  assert.deepEqual(
    nums(ps.get("moe0.router.weight")!).slice(0, 3).map((v) => v.toFixed(12)),
    PINNED_ROUTER,
  );
  // Different tensors and different seeds differ; adding a bias does not shift the others.
  const w1 = nums(ps.get("moe0.experts.w1")!);
  assert.notDeepEqual(w1.slice(0, 6), nums(ps.get("moe0.router.weight")!).slice(0, 6));
  assert.notDeepEqual(
    nums(initMoe(cfg, key(43), { dtype: "float64" }).get("moe0.experts.w1")!),
    w1,
  );
  const noBias = initMoe({ ...cfg, routerBias: false }, key(42), { dtype: "float64" });
  assert.deepEqual(nums(noBias.get("moe0.experts.w1")!), w1);
});

// First three router weights of initMoe(m4 k2 w5 d6, key(42), float64, torch).
const PINNED_ROUTER = ["-0.308090741810", "-0.393314433579", "0.197459942669"];

Deno.test("init: paper scheme follows the Gaussian constructions", () => {
  const d = 16;
  const cfg = moeConfig({ m: 64, k: 4, w: 8, dIn: d, activation: "constant" });
  const ps = initMoe(cfg, key(7), { scheme: "paper", dtype: "float64" });
  assert.deepEqual(castParams(ps, "float32"), initMoe(cfg, key(7), "paper"));
  assert.throws(() => initMoe(cfg, key(7), "xavier" as never), {
    message: "scheme: unknown init scheme 'xavier' (allowed: torch, paper)",
  });
  const r = nums(ps.get("moe0.router.weight")!);
  const varR = r.reduce((a, v) => a + v * v, 0) / r.length;
  assert.ok(Math.abs(varR - 1) < 0.1, `router variance ${varR}`);
  // u_j = A_j 1 ~ N(0, I / (2 d k)): pooled variance over 64 experts x 16 coordinates.
  const W2 = nums(ps.get("moe0.experts.w2")!);
  let ss = 0;
  for (let j = 0; j < 64; j++) {
    for (let o = 0; o < d; o++) {
      let u = 0;
      for (let i = 0; i < 8; i++) u += W2[(j * 8 + i) * d + o];
      ss += u * u;
    }
  }
  const target = 1 / (2 * d * 4);
  assert.ok(Math.abs(ss / (64 * d) / target - 1) < 0.15, `u variance ${ss / (64 * d)}`);
  assert.ok(nums(ps.get("moe0.experts.b2")!).every((v) => v === 0));
});

Deno.test("configs: one-line errors naming the field; shorthand; presets", () => {
  const base = { m: 4, k: 2, w: 3, dIn: 5 };
  const err = (c: object, re: RegExp) =>
    assert.throws(() => moeConfig({ ...base, ...c } as never), (e: Error) => {
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  assert.throws(
    () => moeConfig({ ...base, k: 5 }),
    { message: "k: must be an integer between 1 and m (=4), got 5" },
  );
  err({ k: 0 }, /^k: /);
  err({ k: 1.5 }, /^k: .*got 1\.5/);
  err({ w: 0 }, /^w: must be an integer >= 1, got 0/);
  err({ m: 2.5 }, /^m: /);
  err({ dOut: -1 }, /^dOut: /);
  err({ gate: "topk" }, /^gate: .*allowed: softmax-topk, equal, softmax-all/);
  err({ activation: "tanh" }, /^activation: .*allowed: relu, linear, constant, gelu/);
  err({ strategy: "fast" }, /^strategy: .*allowed: dense, sparse, auto/);
  err({ routerBias: "yes" }, /^routerBias: /);
  assert.throws(() => validateMoeConfig({ ...moeConfig(base), w: NaN }), { message: /^w: / });
  assert.throws(
    () => deepMoeConfig({ dIn: 2, dOut: 1, layers: 2, experts: 3, expertWidth: 4, k: 4 }),
    { message: /^k: must be an integer between 1 and experts \(=3\), got 4$/ },
  );
  assert.throws(
    () =>
      deepMoeConfig({
        dIn: 2,
        dOut: 1,
        layers: 2,
        experts: 3,
        expertWidth: 4,
        denseBetween: true,
        activation: "constant",
      }),
    { message: /^denseBetween: / },
  );
  assert.deepEqual(parseShorthand("16e8a"), { m: 16, k: 8 });
  assert.equal(shorthand(32, 16), "32e16a");
  assert.throws(() => parseShorthand("16x8"), { message: /^shorthand: expected/ });
  assert.throws(() => parseShorthand("4e8a"), { message: /^shorthand: need 1 <= k <= m/ });
  const t = teacherConfig(16, 8, 256);
  assert.deepEqual([t.w, t.dIn, t.dOut, t.gate, t.routerBias, t.expertBias], [
    32,
    256,
    256,
    "softmax-topk",
    false,
    true,
  ]);
  assert.equal(studentConfig(12, 6, 256).w, 53);
  assert.equal(teacherConfig(16, 8, 64, { activeNeurons: 64 }).w, 8);
  assert.equal(studentConfig(16, 8, 64, { activeNeurons: 80, routerBias: true }).routerBias, true);
});
