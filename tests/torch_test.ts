/**
 * python/moe_onnx_torch/ against onnxruntime-node, both ways, in one Python process
 * (tests/python/check_torch.py): exported models load into PyTorch with the same forward,
 * gradients and training work there, and models written from PyTorch import here and train a
 * sweep exactly like the same teacher built in process.
 */
import assert from "node:assert/strict";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { key } from "../lib/random/prng.ts";
import {
  ACTIVATIONS,
  deepMoeConfig,
  GATES,
  INIT_SCHEMES,
  initDeepMoe,
  initMoe,
  MOE_OPTIONAL_FIELDS,
  moeConfig,
  type ParamSet,
  STRATEGIES,
  teacherConfig,
} from "../lib/nn/mod.ts";
import {
  DEEP_CONFIG_FIELDS,
  exportModel,
  type ExportStrategy,
  importModel,
  type ModelSpec,
  MOE_CONFIG_FIELDS,
  TOOLKIT_VERSION,
} from "../lib/export/onnx_export.ts";
import { exportPreset } from "../lib/export/presets.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { makeExecutor } from "../lib/experiments/executor.ts";
import type { RunConfig } from "../lib/sweep/types.ts";
import { DEEP_2_3, gateCase } from "./support/fixtures.ts";
import { bytesOf, inputs, runOrt } from "./support/ort.ts";
import { runPythonCheck } from "./support/python.ts";

const REPO = new URL("..", import.meta.url).pathname;
const PY_HINT = "apt-get install python3-torch python3-onnx python3-numpy";
const TINY = { d: 64, epochs: 2, samplesPerEpoch: 1024, batch: 256, testSamples: 256 };

interface Case {
  name: string;
  model: ModelSpec;
  dtype: "float32" | "float64";
  strategy: ExportStrategy;
  /** Replaces the router's parameters (exact score ties). */
  router?: { weight: number; bias?: number[] };
  /** The selection bias b_sel (zero after init), for layers with `selectBias`. */
  selectBias?: number[];
}

const STRATS: ExportStrategy[] = ["dense", "sparse"];

/** Every gate x activation x export strategy, bias options varied across them. */
function layerCases(): Case[] {
  const out: Case[] = [];
  let i = 0;
  for (const gate of GATES) {
    for (const activation of ACTIVATIONS) {
      for (const strategy of STRATS) {
        i++;
        const config = moeConfig(gateCase(gate, activation, 1 + (i % 3), i));
        out.push({
          name: `moe-${gate}-${activation}-${strategy}`,
          model: { kind: "moe", config },
          dtype: i % 7 === 3 ? "float64" : "float32",
          strategy,
        });
      }
    }
  }
  return out;
}

const deep = (name: string, strategy: ExportStrategy, c: Parameters<typeof deepMoeConfig>[0]) => ({
  name,
  model: { kind: "deep" as const, config: deepMoeConfig(c) },
  dtype: "float32" as const,
  strategy,
});

const DEEP_CASES: Case[] = [
  deep("deep-2-3-depth2-residual-dense", "dense", DEEP_2_3),
  deep("deep-3-4-depth3-gelu-sparse", "sparse", {
    dIn: 5,
    dOut: 5,
    layers: 3,
    experts: 4,
    k: 2,
    expertWidth: 3,
    expertDepth: 3,
    hiddenDim: 5,
    residual: true,
    gate: "softmax-all",
    activation: "gelu",
  }),
  deep("deep-1-4-top1-scalar-sparse", "sparse", {
    dIn: 6,
    dOut: 1,
    layers: 1,
    experts: 4,
    expertWidth: 5,
  }),
  deep("deep-2-3-constant-equal-nobias", "dense", {
    dIn: 4,
    dOut: 3,
    layers: 2,
    experts: 3,
    k: 2,
    expertWidth: 3,
    expertDepth: 2,
    gate: "equal",
    activation: "constant",
    routerBias: false,
    expertBias: false,
  }),
  deep("deep-2-3-linear-dense-between-sparse", "sparse", {
    dIn: 3,
    dOut: 2,
    layers: 2,
    experts: 3,
    k: 1,
    expertWidth: 4,
    activation: "linear",
    gate: "softmax-all",
    denseBetween: true,
  }),
];

/**
 * The router options: a selection bias that changes the selection (expert choice has none),
 * and a routed scale.
 */
const ROUTER_CASES: Case[] = GATES.map((gate, i) => {
  const biased = gate !== "expert-choice";
  return {
    name: `moe-${gate}${biased ? "-select-bias" : ""}-scale-${STRATS[i % 2]}`,
    model: {
      kind: "moe",
      config: moeConfig({
        m: 6,
        k: 2 + (i % 2),
        w: 3,
        dIn: 5,
        dOut: 4,
        gate,
        routerBias: i % 2 === 1,
        ...(biased ? { selectBias: true } : {}),
        routedScale: 1 + 0.5 * i,
      }),
    },
    dtype: "float32",
    strategy: STRATS[i % 2],
    ...(biased ? { selectBias: [0.9, -0.6, 0.3, 0, -0.9, 0.6] } : {}),
  };
});

/** Shared experts (when the toolkit has them): every activation, with and without biases. */
/** The 5-expert top-2 layer (width 3, 4 -> 3) of the shared-expert and written-from-torch cases. */
const SMALL_5E2A = { m: 5, k: 2, w: 3, dIn: 4, dOut: 3 };

const SHARED_CASES: Case[] = (MOE_OPTIONAL_FIELDS as readonly string[]).includes("sharedExperts")
  ? ACTIVATIONS.map((activation, i) => ({
    name: `moe-shared-${activation}-${STRATS[i % 2]}`,
    model: {
      kind: "moe",
      config: moeConfig({
        ...SMALL_5E2A,
        activation,
        expertBias: i % 2 === 0,
        gate: GATES[i % GATES.length],
        ...{ sharedExperts: 1 + (i % 2), ...(i < 2 ? { sharedWidth: 6 } : {}) },
      }),
    },
    dtype: "float32",
    strategy: STRATS[i % 2],
  }))
  : [];

/** Exact score ties: the lower expert index must win on both sides. */
const TIE_CASES: Case[] = STRATS.flatMap((strategy) => [
  {
    name: `tie-bias-${strategy}`,
    model: { kind: "moe", config: moeConfig({ m: 6, k: 2, w: 3, dIn: 4, routerBias: true }) },
    dtype: "float32",
    strategy,
    router: { weight: 0, bias: [0.5, 1, 1, 0, 1, 0.5] },
  },
  {
    name: `tie-zero-${strategy}`,
    model: {
      kind: "moe",
      config: moeConfig({ m: 5, k: 3, w: 3, dIn: 4, gate: "softmax-all" }),
    },
    dtype: "float32",
    strategy,
    router: { weight: 0 },
  },
  {
    // sigma(0) + b_sel: 0.5 + [0, 1, 1, 0, 1] ties three ways at 1.5.
    name: `tie-sigmoid-select-bias-${strategy}`,
    model: {
      kind: "moe",
      config: moeConfig({ m: 5, k: 2, w: 3, dIn: 4, gate: "sigmoid-topk", selectBias: true }),
    },
    dtype: "float32",
    strategy,
    router: { weight: 0 },
    selectBias: [0, 1, 1, 0, 1],
  },
]);

/** Models built in PyTorch and written with `save`: every gate x activation, and deep ones. */
const WRITE_CONFIGS: { kind: "moe" | "deep"; config: Record<string, unknown> }[] = [
  ...GATES.flatMap((gate, g) =>
    ACTIVATIONS.map((activation, a) => ({
      kind: "moe" as const,
      config: moeConfig({
        ...SMALL_5E2A,
        gate,
        activation,
        routerBias: (g + a) % 2 === 0,
        expertBias: a !== 1,
      }) as unknown as Record<string, unknown>,
    }))
  ),
  ...GATES.map((gate, g) => ({
    kind: "moe" as const,
    config: moeConfig({
      m: 6,
      k: 2,
      w: 3,
      dIn: 4,
      gate,
      ...(gate === "expert-choice" ? {} : { selectBias: true }),
      routedScale: 2.5 - 0.5 * g,
    }) as unknown as Record<string, unknown>,
  })),
  ...SHARED_CASES.map((c) => ({
    kind: "moe" as const,
    config: c.model.config as unknown as Record<string, unknown>,
  })),
  ...DEEP_CASES.map((c) => ({
    kind: "deep" as const,
    config: c.model.config as unknown as Record<string, unknown>,
  })),
];

function paramsOf(c: Case, seed: number): ParamSet {
  const ps = c.model.kind === "moe"
    ? initMoe(c.model.config, key(seed), { dtype: c.dtype })
    : initDeepMoe(c.model.config, key(seed), { dtype: c.dtype });
  if (c.router) {
    const w = ps.get("moe0.router.weight")!;
    ps.set("moe0.router.weight", tensor(c.dtype, w.dims, new Float64Array(w.data.length)));
    if (c.router.bias) {
      ps.set("moe0.router.bias", tensor(c.dtype, [c.router.bias.length], c.router.bias));
    }
  }
  if (c.selectBias) {
    ps.set("moe0.router.select_bias", tensor(c.dtype, [c.selectBias.length], c.selectBias));
  }
  return ps;
}

interface Bin {
  file: string;
  dtype: "float32" | "float64";
  dims: readonly number[];
}

async function readBin(dir: string, b: Bin): Promise<Float64Array> {
  const raw = await Deno.readFile(`${dir}/${b.file}`);
  const src = b.dtype === "float32"
    ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
    : new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
  return Float64Array.from(src);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

async function execute(cfg: RunConfig) {
  return await makeExecutor({ threads: 1 })(cfg, {
    onProgress: () => {},
    signal: new AbortController().signal,
  });
}

Deno.test("PyTorch: loaded models match onnxruntime-node, train, and write back to the toolkit format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "moe-onnx-torch-" });
  const save = async (name: string, t: HostTensor): Promise<Bin> => {
    await Deno.writeFile(`${dir}/${name}`, bytesOf(t));
    return { file: name, dtype: t.dtype as Bin["dtype"], dims: t.dims };
  };
  const forward: Record<string, unknown>[] = [];
  let seed = 0;
  for (
    const c of [...layerCases(), ...ROUTER_CASES, ...SHARED_CASES, ...DEEP_CASES, ...TIE_CASES]
  ) {
    seed++;
    const bytes = exportModel(c.model, paramsOf(c, seed), { strategy: c.strategy, seed });
    await Deno.writeFile(`${dir}/${c.name}.onnx`, bytes);
    const x = inputs(500 + seed, 32, c.model.config.dIn, c.dtype);
    forward.push({
      name: c.name,
      model: `${c.name}.onnx`,
      x: await save(`${c.name}.x.bin`, x),
      y: await save(`${c.name}.y.bin`, await runOrt(bytes, x)),
      grad: !c.router,
    });
  }
  // The shipped teachers, read in place.
  for (const d of [64, 256]) {
    const file = `${REPO}models/teacher-16e8a-d${d}-seed0.onnx`;
    const x = inputs(900 + d, 64, d, "float32");
    forward.push({
      name: `shipped-16e8a-d${d}`,
      model: file,
      x: await save(`shipped-${d}.x.bin`, x),
      y: await save(`shipped-${d}.y.bin`, await runOrt(await Deno.readFile(file), x)),
      grad: d === 64,
    });
  }
  // An in-process teacher (seed 1, not a shipped file), exported here and written back by Python.
  const teacherSeed = 1;
  await Deno.writeFile(`${dir}/teacher-seed1.onnx`, exportPreset("teacher-16e8a-d64", teacherSeed));
  const write: Record<string, unknown>[] = [
    { name: "roundtrip-teacher", from: "teacher-seed1.onnx", out: "teacher-seed1.torch.onnx" },
  ];
  for (const [i, w] of WRITE_CONFIGS.entries()) {
    const dIn = w.config.dIn as number;
    write.push({
      name: `torch-${i}-${w.kind}-${w.config.gate}-${w.config.activation}`,
      out: `torch-${i}.onnx`,
      kind: w.kind,
      config: w.config,
      seed: i,
      dtype: i === 2 ? "float64" : "float32",
      x: await save(`torch-${i}.x.bin`, inputs(700 + i, 32, dIn, i === 2 ? "float64" : "float32")),
    });
  }
  // A PyTorch teacher of the quick scale's dimension, for a sweep.
  write.push({
    name: "torch-teacher-8e4a-d64",
    out: "torch-teacher.onnx",
    kind: "moe",
    config: moeConfig({ m: 8, k: 4, w: 16, dIn: 64 }),
    seed: 7,
    x: await save("torch-teacher.x.bin", inputs(800, 16, 64, "float32")),
  });
  const adamw = [{
    name: "student-4e2a-vs-shipped-16e8a-d64",
    teacher: `${REPO}models/teacher-16e8a-d64-seed0.onnx`,
    student: { m: 4, k: 2, w: 40 },
    steps: 30,
    lr: 0.01,
    batch: 256,
  }];
  // The module's vocabulary is the toolkit's (a new gate or field must reach Python too).
  const toolkit = {
    gates: GATES,
    activations: ACTIVATIONS,
    strategies: STRATEGIES,
    initSchemes: INIT_SCHEMES,
    moeFields: MOE_CONFIG_FIELDS,
    deepFields: DEEP_CONFIG_FIELDS,
    moeOptionalFields: MOE_OPTIONAL_FIELDS,
    version: TOOLKIT_VERSION,
  };
  const errors = [{ model: `${REPO}models/teacher-16e8a-d64-seed0.onnx` }];
  await Deno.writeTextFile(
    `${dir}/cases.json`,
    JSON.stringify({ forward, adamw, write, toolkit, errors, readme: `${REPO}README.md` }, null, 1),
  );

  const text = await runPythonCheck("check_torch.py", dir, "torch, onnx or numpy", PY_HINT);
  const nChecks = forward.length + adamw.length + write.length + errors.length + 3;
  assert.match(text, new RegExp(`all ${nChecks} checks passed`), text);
  assert.match(text, /ok {3}readme snippet: /, text);

  // Every model written from PyTorch imports here, and onnxruntime-node runs it to torch's y.
  const written = JSON.parse(await Deno.readTextFile(`${dir}/written.json`)).write as {
    name: string;
    out: string;
    kind?: string;
    config?: Record<string, unknown>;
    x?: Bin;
    y?: Bin;
  }[];
  for (const w of written) {
    const bytes = await Deno.readFile(`${dir}/${w.out}`);
    const imp = importModel(bytes, w.out);
    assert.equal(imp.metadata.strategy, "dense", w.name);
    if (!w.config) continue;
    assert.equal(imp.kind, w.kind, w.name);
    assert.deepEqual(imp.config, w.config, w.name);
    const xs = await readBin(dir, w.x!);
    const x = tensor(w.x!.dtype, w.x!.dims, xs);
    const y = await runOrt(bytes, x);
    const want = await readBin(dir, w.y!);
    assert.deepEqual(y.dims, w.y!.dims, w.name);
    const err = maxAbsDiff(y.data as ArrayLike<number>, want);
    assert.ok(err <= 1e-5, `${w.name}: max |y_onnxruntime - y_torch| = ${err}`);
    assert.ok(maxAbsDiff(want, new Float64Array(want.length)) > 1e-3, `${w.name}: y is 0`);
  }

  // The round trip keeps every parameter bit for bit ...
  const rt = `${dir}/teacher-seed1.torch.onnx`;
  const back = importModel(rt);
  const cfg = teacherConfig(16, 8, 64, { activeNeurons: 64 });
  const orig = initMoe(cfg, key(teacherSeed), "torch");
  assert.deepEqual([...back.params.keys()], [...orig.keys()]);
  for (const [n, t] of orig) assert.deepEqual(bytesOf(back.params.get(n)!), bytesOf(t), n);
  assert.equal(back.seed, teacherSeed);
  assert.notDeepEqual(
    await Deno.readFile(rt),
    await Deno.readFile(`${dir}/teacher-seed1.onnx`),
    "written by Python, not copied",
  );
  // ... and a sweep against the file trains exactly like the teacher built in process.
  const base = { ...TINY, archs: ["16e8a"] };
  const [inProcess] = resolvePreset("fig2", "quick", { ...base, teacherSeed }).runs;
  const [fromTorch] = resolvePreset("fig2", "quick", { ...base, teacherFile: rt }).runs;
  assert.equal(fromTorch.target.kind, "teacher-file");
  const a = await execute(inProcess);
  const b = await execute(fromTorch);
  assert.equal(a.status, "ok");
  assert.deepEqual(b.curves, a.curves);
  // A teacher built and trained in PyTorch is a sweep's teacher file.
  const [custom] = resolvePreset("fig2", "quick", {
    ...base,
    teacherFile: `${dir}/torch-teacher.onnx`,
  }).runs;
  assert.equal(custom.labels.teacher, "8e4a");
  const c = await execute(custom);
  assert.equal(c.status, "ok");
  assert.ok(c.curves.every((r) => Number.isFinite(r.test_loss) && r.zero_loss > 0));
  await Deno.remove(dir, { recursive: true });
});
