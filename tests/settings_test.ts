/**
 * Preset settings: each preset's declared settings change its runs, every other setting is refused
 * by name before anything runs (no flag is silently ignored), and paper B's router settings
 * (balancing of every MoE layer, between-layer width, residual) reach the model it trains.
 */
import assert from "node:assert/strict";
import { EXPERIMENTS, resolvePreset } from "../lib/experiments/registry.ts";
import { OVERRIDES, type Overrides, SELECTION_KEYS } from "../lib/experiments/overrides.ts";
import { knobFromFlag } from "../lib/cli/knobs.ts";
import { experimentList } from "../lib/cli/sweep_args.ts";
import { deepConfigOf, studentModel } from "../lib/experiments/models.ts";
import { deepMoeReference } from "../lib/nn/reference.ts";
import { Graph } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { key, normal } from "../lib/random/prng.ts";
import { Session } from "../lib/runtime/session.ts";
import { makeExecutor } from "../lib/experiments/executor.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

/** The runs of a preset with the scale left out (any given setting makes it "custom"). */
const shape = (name: string, o: Overrides) =>
  JSON.stringify(resolvePreset(name, "quick", o).runs.map((r) => ({ ...r, scale: "" })));

/** Values to try for a knob: its --help example, every choice, and a few small numbers. */
function candidates(name: string): Overrides[] {
  const k = OVERRIDES[name as keyof typeof OVERRIDES];
  const raw = k.arg.includes("|") ? k.arg.split("|") : [k.arg];
  if (k.kind === "int") raw.push("1", "3");
  if (k.kind === "num") raw.push("0.5");
  // Momentum is an SGD setting (AdamW runs refuse it at the run-shape check).
  const extra: Overrides = name === "momentum" ? { optimizer: "sgd" } : {};
  return raw.map((v) => ({ ...extra, [name]: knobFromFlag(name, k as never, v) }));
}

Deno.test("settings: each preset's settings change its runs; every other one is refused by name", () => {
  const settings = Object.keys(OVERRIDES).filter((k) => !(SELECTION_KEYS as string[]).includes(k));
  for (const [name, e] of Object.entries(EXPERIMENTS)) {
    const base = shape(name, {});
    for (const s of settings) {
      if ((e.settings as readonly string[]).includes(s)) {
        const changes = candidates(s).some((o) => shape(name, o) !== base);
        assert.ok(changes, `${name}: setting ${s} changes no run (a dead setting)`);
      } else {
        for (const o of candidates(s).slice(0, 1)) {
          assert.throws(
            () => resolvePreset(name, "quick", o),
            new RegExp(`^Error: ${s}: not a setting of ${name} \\(its settings: `),
            `${name} takes ${s}`,
          );
        }
      }
    }
  }
  // The same check guards grid files, which go through resolvePreset.
  assert.throws(
    () => resolvePreset("fig2", "quick", { widths: [16] }),
    /^Error: widths: not a setting of fig2 \(its settings: epochs, .*archs\)$/,
  );
});

const TINY = { epochs: 2, samplesPerEpoch: 512, batch: 128, testSamples: 128, widths: [8] };
const deepRun = (o: Overrides): RunConfig =>
  resolvePreset("paperB-exp2", "quick", { ...TINY, ...o }).runs.find((r) =>
    r.labels.arch === "2-3-MoE"
  )!;

Deno.test("paper B: aux loss and z-loss of a deep model sum every layer's terms (float64 reference)", async () => {
  const alpha = 0.3, beta = 0.02;
  const cfg = deepRun({ auxLoss: alpha, zLoss: beta, dtype: "float64" });
  assert.deepEqual(cfg.model.kind === "deep" && cfg.model.balance, { auxLoss: alpha, zLoss: beta });
  const c = deepConfigOf(cfg);
  const model = studentModel(cfg);
  const B = 64;
  const x = normal(key(7), new Float64Array(B * c.dIn));
  const g = new Graph("deep-balance");
  const xv = g.input("x", "float64", [B, c.dIn]);
  const p = Object.fromEntries([...model.params].map(([n, t]) => [n, g.initializer(n, t)]));
  const out = model.forward(g, p, xv);
  assert.ok(out.loss, "the balancing loss is built");
  g.output(out.loss!, "loss");
  const s = await Session.create(encodeModel(g), { threads: 1 });
  const got = Number((await s.run({ x: tensor("float64", [B, c.dIn], x) })).loss.data[0]);
  await s.release();

  // Per layer: alpha m sum_i f_i P_i + beta mean_t logsumexp(s_t)^2, f from the top-1 choices.
  let want = 0;
  for (const r of deepMoeReference(c, model.params, x).layers) {
    const m = c.experts;
    const f = new Float64Array(m), P = new Float64Array(m);
    let z = 0;
    for (let t = 0; t < B; t++) {
      const row = r.scores.subarray(t * m, (t + 1) * m);
      const mx = Math.max(...row);
      const sum = row.reduce((a, v) => a + Math.exp(v - mx), 0);
      row.forEach((v, i) => (P[i] += Math.exp(v - mx) / sum / B));
      f[r.indices[t]] += 1 / B;
      z += (mx + Math.log(sum)) ** 2 / B;
    }
    want += alpha * m * f.reduce((a, v, i) => a + v * P[i], 0) + beta * z;
  }
  assert.ok(Math.abs(got - want) < 1e-12 * Math.max(1, want), `loss ${got} vs reference ${want}`);
});

Deno.test("paper B: --hidden-dim and --residual reach the deep model; balancing adds to its training loss", async () => {
  const plain = deepRun({});
  const res = deepRun({ hiddenDim: 2, residual: "on" });
  const c = deepConfigOf(res);
  assert.equal(c.hiddenDim, 2);
  assert.equal(c.residual, true);
  assert.equal(deepConfigOf(plain).hiddenDim, 8, "default: the expert width");
  assert.ok(!("balance" in plain.model), "no balance field by default (run ids unchanged)");
  const hooks = { onProgress() {}, signal: new AbortController().signal };
  const exec = makeExecutor({ threads: 1 });
  const a = await exec(plain, hooks);
  const b = await exec(deepRun({ auxLoss: 0.5 }), hooks);
  assert.ok(b.curves[0].train_loss > a.curves[0].train_loss, "the aux loss adds to the loss");
});

Deno.test("--list gives each experiment's setting flags", () => {
  const lines = experimentList().split("\n");
  const of = (name: string) => lines[lines.findIndex((l) => l.startsWith(`${name} `)) + 1];
  assert.match(of("fig2"), /^ +settings: --epochs .*--archs$/);
  assert.doesNotMatch(of("fig2"), /--widths/);
  assert.match(of("paperB-exp2"), /--aux-loss .*--hidden-dim --residual$/);
  assert.doesNotMatch(of("routers"), /--gate|--aux-loss/);
});
