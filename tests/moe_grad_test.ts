/**
 * Gradients through the MoE layer and the deep model, against central finite differences in
 * float64 on onnxruntime, for every gate x strategy x activation. Besides the normalized error,
 * each probe is checked not to straddle a kink: the router's TopK indices and the sign pattern
 * of every Relu input must be the same at x - h, x and x + h (otherwise the finite difference
 * would measure a different linear piece and the test would be meaningless, or flaky).
 */
import assert from "node:assert/strict";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { Session } from "../lib/runtime/session.ts";
import { key, normal } from "../lib/random/prng.ts";
import {
  type Activation,
  ACTIVATIONS,
  deepMoeConfig,
  deepMoeForward,
  type Gate,
  GATES,
  initDeepMoe,
  initMoe,
  moeConfig,
  moeForward,
  type MoeLayerConfig,
  type ParamSet,
} from "../lib/nn/mod.ts";
import { DEEP_2_3 } from "./support/fixtures.ts";

/** Normalized error bound for the piecewise-smooth activations (relu, linear, constant). */
const TOL = 1e-6;
/**
 * gelu: onnxruntime's CPU Erf is float32-only, so a float64 graph evaluates erf in float32 and
 * the loss is a staircase with steps of ~1e-7 relative. The finite difference then needs a
 * large step (h = 1e-3); measured errors are ~4e-5, so 2e-4 (a wrong rule gives O(1)).
 */
const GELU_TOL = 2e-4;
const GELU_H = 1e-3;
/** Small step for the piecewise-linear cases: the probe interval [-h, h] avoids every kink. */
const H = 1e-6;
/** Dense and sparse must compute the same gradient up to float64 summation order. */
const AGREE = 1e-12;

const B = 12;
const D_IN = 5;
const D_OUT = 3;

function normals(seed: number, n: number): Float64Array {
  return normal(key(seed), new Float64Array(n));
}

interface CheckResult {
  /** Normalized error max|analytic - numeric| / max|numeric| per checked input. */
  errors: Record<string, number>;
  /** Analytic gradient of every input in `wrt`. */
  grads: Record<string, Float64Array>;
  /** Probes taken (for the sanity check that the check ran at all). */
  probes: number;
}

interface CheckOptions {
  /** Inputs to differentiate. */
  wrt: string[];
  /** Inputs whose gradient is only computed, not probed (e.g. known zeros). */
  noProbe?: string[];
  h?: number;
  maxProbes?: number;
}

/**
 * Builds loss = sum(y * W) (W fixed random, so a transposed gradient cannot pass by symmetry),
 * appends its gradients, and compares them with central differences at up to `maxProbes`
 * evenly spaced elements of each input. Throws when a probe changes the routing or a Relu's
 * active set (the probe straddles a kink).
 */
async function checkGrads(
  inputs: Record<string, HostTensor>,
  yDims: number[],
  build: (g: Graph, v: Record<string, Value>) => Value,
  opts: CheckOptions,
): Promise<CheckResult> {
  const g = new Graph("moe_grad");
  const vals: Record<string, Value> = {};
  for (const [k, t] of Object.entries(inputs)) vals[k] = g.input(k, t.dtype, t.dims);
  const y = build(g, vals);
  // Witnesses of the piece we are on: router TopK indices and every Relu pre-activation.
  const witnesses: string[] = [];
  for (const n of [...g.nodes]) {
    if (n.opType === "TopK" && n.inputs[0]!.dtype === "float64") {
      witnesses.push(g.output(n.outputs[1], `route_${witnesses.length}`).name);
    } else if (n.opType === "Relu") {
      witnesses.push(g.output(n.inputs[0]!, `relu_in_${witnesses.length}`).name);
    }
  }
  const weights = g.constant(tensor("float64", yDims, normals(99, yDims.reduce((a, b) => a * b))));
  const loss = g.op.ReduceSum(g.op.Mul(y, weights), undefined, { keepdims: 0 });
  g.output(loss, "loss");
  grad(g, loss, opts.wrt.map((k) => vals[k])).forEach((gv, i) =>
    g.output(gv, `grad_${opts.wrt[i]}`)
  );
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const fetch = ["loss", ...witnesses];
  const pattern = (res: Record<string, HostTensor>) =>
    witnesses.map((w) =>
      w.startsWith("route_")
        ? Array.from(res[w].data as BigInt64Array, Number).join(",")
        : Array.from(res[w].data as Float64Array, (v) => (v > 0 ? 1 : 0)).join("")
    );
  try {
    const base = await s.run(inputs);
    const basePattern = pattern(base);
    const h = opts.h ?? H;
    const out: CheckResult = { errors: {}, grads: {}, probes: 0 };
    for (const k of opts.wrt) {
      const analytic = base[`grad_${k}`].data as Float64Array;
      const t = inputs[k];
      assert.equal(analytic.length, t.data.length, `grad_${k} size`);
      out.grads[k] = analytic;
      if (opts.noProbe?.includes(k)) continue;
      const n = t.data.length;
      const probes = Math.min(n, opts.maxProbes ?? 16);
      let errMax = 0;
      let scale = 0;
      for (let p = 0; p < probes; p++) {
        const i = Math.floor((p * n) / probes);
        const at = async (delta: number) => {
          const d = Float64Array.from(t.data as Float64Array);
          d[i] += delta;
          const res = await s.run({ ...inputs, [k]: tensor("float64", t.dims, d) }, fetch);
          assert.deepEqual(
            pattern(res),
            basePattern,
            `probe ${k}[${i}] +- ${h} crosses a routing tie or a Relu kink: pick another seed`,
          );
          return res.loss.data[0] as number;
        };
        const numeric = (await at(h) - await at(-h)) / (2 * h);
        errMax = Math.max(errMax, Math.abs(numeric - analytic[i]));
        scale = Math.max(scale, Math.abs(numeric));
        out.probes++;
      }
      out.errors[k] = errMax / Math.max(scale, 1e-8);
    }
    return out;
  } finally {
    await s.release();
  }
}

/** All parameters of `ps` plus x as float64 feeds. */
function feeds(ps: ParamSet, xs: Float64Array, dIn: number): Record<string, HostTensor> {
  return { x: tensor("float64", [xs.length / dIn, dIn], xs), ...Object.fromEntries(ps) };
}

function layerBuild(cfg: MoeLayerConfig, names: string[]) {
  return (g: Graph, v: Record<string, Value>) =>
    moeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).y;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

const allZero = (a: Float64Array) => a.every((v) => v === 0);

/** Which parameters the gate and activation give a gradient (the others must be exactly 0). */
function zeroGradParams(cfg: MoeLayerConfig): string[] {
  const zero: string[] = [];
  const routerDead = cfg.gate === "equal" || (cfg.gate === "softmax-topk" && cfg.k === 1);
  if (routerDead) zero.push("moe0.router.weight", "moe0.router.bias");
  if (cfg.activation === "constant") zero.push("moe0.experts.w1", "moe0.experts.b1");
  return zero;
}

async function checkLayer(gate: Gate, activation: Activation): Promise<void> {
  // Fixed per case (not per run order), so a filtered run probes the same points.
  const seed = 1 + GATES.indexOf(gate) * ACTIVATIONS.length + ACTIVATIONS.indexOf(activation);
  const cfg = moeConfig({
    m: 6,
    k: 3,
    w: 4,
    dIn: D_IN,
    dOut: D_OUT,
    gate,
    activation,
    routerBias: seed % 2 === 1,
  });
  const ps = initMoe(cfg, key(100 + seed), { dtype: "float64" });
  const xs = normals(200 + seed, B * D_IN);
  const names = [...ps.keys()];
  const wrt = ["x", ...names];
  // With `equal` the loss is piecewise linear in x, but x's gradient is still nonzero through
  // the experts; for constant experts x only reaches the router.
  const zero = zeroGradParams(cfg).filter((n) => names.includes(n));
  if (gate === "equal" && activation === "constant") zero.push("x");
  const grads: Record<string, Float64Array>[] = [];
  for (const strategy of ["dense", "sparse"] as const) {
    const where = `${gate}/${activation}/${strategy}`;
    const c = { ...cfg, strategy };
    const res = await checkGrads(feeds(ps, xs, D_IN), [B, D_OUT], layerBuild(c, names), {
      wrt,
      noProbe: zero,
      h: activation === "gelu" ? GELU_H : H,
    });
    const tol = activation === "gelu" ? GELU_TOL : TOL;
    for (const [name, err] of Object.entries(res.errors)) {
      assert.ok(
        err < tol,
        `${where}: d loss / d ${name}: normalized error ${err.toExponential(2)}`,
      );
      assert.ok(!allZero(res.grads[name]), `${where}: d loss / d ${name} is identically 0`);
    }
    for (const name of zero) {
      assert.ok(allZero(res.grads[name]), `${where}: d loss / d ${name} must be exactly 0`);
    }
    assert.deepEqual(
      Object.keys(res.errors).sort(),
      wrt.filter((n) => !zero.includes(n)).sort(),
      `${where}: probed inputs`,
    );
    if (Deno.env.get("DEBUG_GRAD")) console.log(where, res.probes, res.errors);
    grads.push(res.grads);
  }
  for (const name of wrt) {
    const e = maxAbsDiff(grads[0][name], grads[1][name]);
    assert.ok(e < AGREE, `${gate}/${activation}: dense and sparse d/d${name} differ by ${e}`);
  }
}

for (const gate of GATES) {
  for (const activation of ACTIVATIONS) {
    Deno.test(`grad MoE layer ${gate} / ${activation} (dense and sparse agree)`, async () => {
      await checkLayer(gate, activation);
    });
  }
}

Deno.test("router gradient: exactly 0 for equal and top-1 softmax-topk, not for softmax-all top-1", async () => {
  const cases: [Gate, number, boolean][] = [
    ["equal", 2, true],
    ["softmax-topk", 1, true],
    ["softmax-all", 1, false],
    ["softmax-topk", 2, false],
  ];
  for (const [gate, k, dead] of cases) {
    const cfg = moeConfig({ m: 4, k, w: 3, dIn: 4, dOut: 2, gate, routerBias: true });
    const ps = initMoe(cfg, key(7), { dtype: "float64" });
    const xs = normals(8, 8 * 4);
    const names = [...ps.keys()];
    for (const strategy of ["dense", "sparse"] as const) {
      const res = await checkGrads(
        feeds(ps, xs, 4),
        [8, 2],
        layerBuild({ ...cfg, strategy }, names),
        { wrt: names, noProbe: dead ? ["moe0.router.weight", "moe0.router.bias"] : [] },
      );
      const where = `${gate} k=${k} ${strategy}`;
      for (const r of ["moe0.router.weight", "moe0.router.bias"]) {
        // Top-1 softmax over one score is the constant 1: its backward y (gy - sum(gy y))
        // is exactly gy - gy = 0.
        assert.equal(allZero(res.grads[r]), dead, `${where}: ${r} zero=${!dead}`);
      }
      for (const err of Object.values(res.errors)) assert.ok(err < TOL, `${where}: ${err}`);
    }
  }
});

Deno.test("grad deep MoE (2 layers, residual, dense layer between, 2-layer experts)", async () => {
  const grads: Record<string, Float64Array>[] = [];
  for (const strategy of ["dense", "sparse"] as const) {
    const cfg = deepMoeConfig({ ...DEEP_2_3, strategy });
    const ps = initDeepMoe(cfg, key(31), { dtype: "float64" });
    const xs = normals(32, B * 4);
    const names = [...ps.keys()];
    assert.ok(names.includes("dense0.weight") && names.includes("moe1.experts.wh1"));
    const res = await checkGrads(
      feeds(ps, xs, 4),
      [B, 2],
      (g, v) => deepMoeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).y,
      { wrt: ["x", ...names], maxProbes: 8 },
    );
    assert.equal(Object.keys(res.errors).length, names.length + 1);
    for (const [name, err] of Object.entries(res.errors)) {
      assert.ok(err < TOL, `deep ${strategy}: d loss / d ${name}: ${err.toExponential(2)}`);
      assert.ok(!allZero(res.grads[name]), `deep ${strategy}: d loss / d ${name} is 0`);
    }
    grads.push(res.grads);
  }
  for (const name of Object.keys(grads[0])) {
    const e = maxAbsDiff(grads[0][name], grads[1][name]);
    assert.ok(e < AGREE, `deep: dense and sparse d/d${name} differ by ${e}`);
  }
});

Deno.test("grad paper B Exp. II models: top-1 softmax-all, 3-layer experts, scalar output", async () => {
  // arXiv 2505.24205: 2-3-MoE and 1-6-MoE on 2-D inputs, experts with two hidden layers.
  for (const [layers, experts] of [[2, 3], [1, 6]]) {
    for (const strategy of ["dense", "sparse"] as const) {
      const cfg = deepMoeConfig({
        dIn: 2,
        dOut: 1,
        layers,
        experts,
        k: 1,
        expertWidth: 5,
        expertDepth: 2,
        gate: "softmax-all",
        strategy,
      });
      const ps = initDeepMoe(cfg, key(40 + layers), { dtype: "float64" });
      const xs = normals(50 + layers, B * 2);
      const names = [...ps.keys()];
      assert.ok(names.includes(`moe${layers - 1}.experts.wh1`));
      const res = await checkGrads(
        feeds(ps, xs, 2),
        [B, 1],
        (g, v) => deepMoeForward(g, cfg, Object.fromEntries(names.map((n) => [n, v[n]])), v.x).y,
        { wrt: ["x", ...names], maxProbes: 8 },
      );
      const where = `${layers}-${experts}-MoE ${strategy}`;
      assert.equal(Object.keys(res.errors).length, names.length + 1, where);
      for (const [name, err] of Object.entries(res.errors)) {
        assert.ok(err < TOL, `${where}: d loss / d ${name}: ${err.toExponential(2)}`);
      }
      assert.ok(!allZero(res.grads["moe0.router.weight"]), `${where}: router gets a gradient`);
    }
  }
});

Deno.test("the kink guard rejects a probe that crosses a routing tie", async () => {
  // Two router columns 1e-7 apart: a probe of size 1e-6 on the router swaps the top-1 expert.
  const cfg = moeConfig({ m: 3, k: 1, w: 2, dIn: 2, dOut: 1, gate: "softmax-all" });
  const ps = initMoe(cfg, key(1), { dtype: "float64" });
  const R = ps.get("moe0.router.weight")!.data as Float64Array;
  R.set([5, 5 + 1e-7, -5, 0, 0, 0]); // x = (1, 0): scores 5, 5 + 1e-7, -5
  const names = [...ps.keys()];
  await assert.rejects(
    checkGrads(
      feeds(ps, Float64Array.from([1, 0]), 2),
      [1, 1],
      layerBuild({ ...cfg, strategy: "dense" }, names),
      { wrt: ["moe0.router.weight"], maxProbes: 6 },
    ),
    /crosses a routing tie or a Relu kink/,
  );
});
