import assert from "node:assert/strict";
import onnx from "onnx-proto";
import denoJson from "../deno.json" with { type: "json" };
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { key, normal } from "../lib/random/prng.ts";
import {
  deepMoeConfig,
  deepMoeReference,
  initDeepMoe,
  initMoe,
  moeConfig,
  moeReference,
  type ParamSet,
  teacherConfig,
} from "../lib/nn/mod.ts";
import {
  decodeModel,
  exportModel,
  type ExportStrategy,
  importModel,
  METADATA_KEY,
  type ModelMetadata,
  type ModelSpec,
  TOOLKIT_VERSION,
  writeModel,
} from "../lib/export/onnx_export.ts";
import { exportPreset, findPreset, presetFileName, PRESETS } from "../lib/export/presets.ts";
import {
  checkShipped,
  type Manifest,
  MANIFEST_FILE,
  sha256Hex,
  SHIPPED,
} from "../lib/export/manifest.ts";
import { DEEP_2_3, MOE_PARAM_NAMES } from "./support/fixtures.ts";
import { runPythonCheck } from "./support/python.ts";
import { bytesOf, inputs, runOrt } from "./support/ort.ts";

const P = onnx.onnx;
const graphOf = (m: onnx.onnx.ModelProto) => m.graph as onnx.onnx.GraphProto;
const REPO = new URL("..", import.meta.url).pathname;
const MODELS = `${REPO}models`;

interface Case {
  name: string;
  model: ModelSpec;
  dtype: "float32" | "float64";
  strategy?: ExportStrategy;
}

/** A single-layer case: its config (through moeConfig), dtype and export strategy. */
const moeCase = (
  name: string,
  config: Parameters<typeof moeConfig>[0],
  dtype: Case["dtype"],
  strategy?: ExportStrategy,
): Case => ({ name, model: { kind: "moe", config: moeConfig(config) }, dtype, strategy });

/** The Python check covers every gate and activation, both strategies, both dtypes, deep. */
const CASES: Case[] = [
  moeCase("moe-topk-relu", { m: 6, k: 3, w: 4, dIn: 5, dOut: 3, routerBias: true }, "float32"),
  moeCase(
    "moe-equal-linear-sparse",
    { m: 5, k: 2, w: 3, dIn: 4, gate: "equal", activation: "linear" },
    "float32",
    "sparse",
  ),
  moeCase("moe-all-constant", {
    m: 6,
    k: 2,
    w: 3,
    dIn: 4,
    dOut: 5,
    gate: "softmax-all",
    activation: "constant",
  }, "float64"),
  moeCase(
    "moe-topk-gelu-nobias-sparse",
    { m: 4, k: 2, w: 5, dIn: 6, dOut: 2, activation: "gelu", expertBias: false },
    "float64",
    "sparse",
  ),
  moeCase("moe-sigmoid-selectbias-scale", {
    m: 6,
    k: 2,
    w: 3,
    dIn: 5,
    dOut: 4,
    gate: "sigmoid-topk",
    selectBias: true,
    routedScale: 2.5,
  }, "float64"),
  moeCase(
    "moe-sigmoid-sparse",
    { m: 5, k: 3, w: 4, dIn: 4, dOut: 3, gate: "sigmoid-topk" },
    "float32",
    "sparse",
  ),
  moeCase(
    "moe-topk-selectbias-sparse",
    { m: 6, k: 2, w: 3, dIn: 4, dOut: 3, selectBias: true },
    "float64",
    "sparse",
  ),
  moeCase(
    "moe-expert-choice-scale-sparse",
    { m: 6, k: 2, w: 3, dIn: 5, dOut: 4, gate: "expert-choice", routedScale: 1.5 },
    "float64",
    "sparse",
  ),
  moeCase(
    "moe-shared-gelu-sparse",
    { m: 5, k: 2, w: 3, dIn: 4, dOut: 3, activation: "gelu", sharedExperts: 2, sharedWidth: 4 },
    "float64",
    "sparse",
  ),
  {
    name: "deep-2-3",
    model: {
      kind: "deep",
      config: deepMoeConfig(DEEP_2_3),
    },
    dtype: "float32",
  },
  {
    // Paper B's Exp. II deep model (arXiv 2505.24205): top-1, experts with two hidden layers.
    name: "paperB-2-3-top1-depth2",
    model: {
      kind: "deep",
      config: deepMoeConfig({
        dIn: 2,
        dOut: 1,
        layers: 2,
        experts: 3,
        expertWidth: 5,
        expertDepth: 2,
        gate: "softmax-all",
      }),
    },
    dtype: "float64",
  },
  {
    name: "deep-1-4-top1-sparse",
    model: {
      kind: "deep",
      config: deepMoeConfig({ dIn: 6, dOut: 1, layers: 1, experts: 4, expertWidth: 5 }),
    },
    dtype: "float64",
    strategy: "sparse",
  },
];

function paramsOf(c: Case, seed: number): ParamSet {
  const ps = c.model.kind === "moe"
    ? initMoe(c.model.config, key(seed), { dtype: c.dtype })
    : initDeepMoe(c.model.config, key(seed), { dtype: c.dtype });
  // A selection bias starts at 0; give it values large enough to change the selection.
  for (const [name, t] of ps) {
    if (name.endsWith("router.select_bias")) {
      ps.set(name, tensor(c.dtype, t.dims, normal(key(seed + 50), new Float64Array(t.dims[0]))));
    }
  }
  return ps;
}

/** Runs an exported model, asserting its one input is x and its one output y. */
const runXY = (bytes: Uint8Array, x: HostTensor) => runOrt(bytes, x, true);

function assertSameParams(a: ParamSet, b: ParamSet, where: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${where}: names`);
  for (const [n, t] of a) {
    const u = b.get(n)!;
    assert.equal(u.dtype, t.dtype, `${where}: ${n} dtype`);
    assert.deepEqual(u.dims, t.dims, `${where}: ${n} dims`);
    assert.deepEqual(bytesOf(u), bytesOf(t), `${where}: ${n} bytes`);
  }
}

function reference(c: Case, ps: ParamSet, x: HostTensor): Float64Array {
  const xs = x.data as ArrayLike<number>;
  return c.model.kind === "moe"
    ? moeReference(c.model.config, ps, xs).y
    : deepMoeReference(c.model.config, ps, xs).y;
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let e = 0;
  for (let i = 0; i < got.length; i++) {
    e = Math.max(e, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  }
  return e;
}

const oneLine = (re: RegExp) => (e: Error) => re.test(e.message) && !e.message.includes("\n");

Deno.test("export -> import: same params, config, metadata; same onnxruntime outputs", async () => {
  let seed = 0;
  for (const c of CASES) {
    seed++;
    const ps = paramsOf(c, seed);
    const opts = { strategy: c.strategy, seed, init: "torch" as const };
    const bytes = exportModel(c.model, ps, opts);
    const imp = importModel(bytes);
    assert.equal(imp.kind, c.model.kind, c.name);
    assert.deepEqual(imp.config, c.model.config, c.name);
    assertSameParams(imp.params, ps, c.name);
    assert.equal(imp.seed, seed);
    assert.equal(imp.init, "torch");
    assert.equal(imp.dtype, c.dtype);
    const meta = imp.metadata;
    assert.equal(meta.strategy, c.strategy ?? "dense", `${c.name}: dense by default`);
    assert.equal(meta.toolkitVersion, denoJson.version);
    assert.equal(meta.params, [...ps.values()].reduce((n, t) => n + t.data.length, 0));
    assert.deepEqual(meta.x, ["batch", c.model.config.dIn]);
    assert.deepEqual(meta.y, ["batch", c.model.config.dOut]);
    assert.match(meta.description, c.model.kind === "moe" ? /MoE layer/ : /deep model/);
    // Export is deterministic: the imported model exports to the same bytes.
    assert.deepEqual(exportModel(imp, imp.params, opts), bytes, `${c.name}: re-export`);

    const x = inputs(100 + seed, 16, c.model.config.dIn, c.dtype);
    const y = await runXY(bytes, x);
    assert.deepEqual(y.dims, [16, c.model.config.dOut]);
    const yBack = await runXY(exportModel(imp, imp.params, opts), x);
    assert.deepEqual(bytesOf(yBack), bytesOf(y), `${c.name}: outputs after import`);
    const ref = reference(c, ps, x);
    const tol = c.dtype === "float32" ? 1e-5 : (c.name.includes("gelu") ? 1e-6 : 1e-10);
    const err = maxRelErr(y.data as ArrayLike<number>, ref);
    assert.ok(err < tol, `${c.name}: onnxruntime vs reference ${err}`);
    assert.ok(ref.some((v) => Math.abs(v) > 1e-3), `${c.name}: trivial output`);
  }
});

Deno.test("the file: IR 8, opset 17, x [batch, dIn], y [batch, dOut], named weights, metadata", async () => {
  const c = CASES[0];
  const cfg = c.model.config;
  const path = `${await Deno.makeTempDir()}/sub/m.onnx`;
  const bytes = await writeModel(path, c.model, paramsOf(c, 1), {
    seed: 1,
    init: "torch",
    description: "a test model",
  });
  assert.deepEqual(await Deno.readFile(path), bytes);
  const m = P.ModelProto.decode(bytes);
  assert.equal(Number(m.irVersion), 8);
  assert.deepEqual(m.opsetImport.map((o) => [o.domain, Number(o.version)]), [["", 17]]);
  assert.equal(m.producerName, "moe-onnx");
  assert.equal(m.producerVersion, TOOLKIT_VERSION);
  assert.equal(m.docString, "a test model");
  const dimsOf = (v: onnx.onnx.IValueInfoProto) =>
    v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
  assert.deepEqual(graphOf(m).input.map((v) => v.name), ["x"]);
  assert.deepEqual(dimsOf(graphOf(m).input[0]), ["batch", cfg.dIn]);
  assert.equal(graphOf(m).input[0].type!.tensorType!.elemType, 1);
  assert.deepEqual(graphOf(m).output.map((v) => v.name), ["y"]);
  assert.deepEqual(dimsOf(graphOf(m).output[0]), ["batch", cfg.dOut]);
  const names = graphOf(m).initializer.map((t) => t.name);
  for (const n of MOE_PARAM_NAMES) assert.ok(names.includes(n), `initializer ${n}`);
  assert.deepEqual(m.metadataProps.map((p) => p.key), [METADATA_KEY]);
  const meta: ModelMetadata = JSON.parse(m.metadataProps[0].value!);
  assert.equal(meta.kind, "moe");
  assert.deepEqual(meta.config, cfg);
  assert.equal(meta.seed, 1);
  assert.equal(meta.init, "torch");
  assert.equal(meta.dtype, "float32");
  assert.equal(meta.description, "a test model");
  // The dense graph is the small one; sparse is an option.
  const sparse = P.ModelProto.decode(exportModel(c.model, paramsOf(c, 1), { strategy: "sparse" }));
  assert.ok(graphOf(m).node.length < graphOf(sparse).node.length);
});

Deno.test("bad configs and params: one-line errors naming the field", () => {
  const ok = moeConfig({ m: 4, k: 2, w: 3, dIn: 5 });
  const ps = initMoe(ok, key(1));
  const bad = (config: Record<string, unknown>, re: RegExp) =>
    assert.throws(
      () => exportModel({ kind: "moe", config: { ...ok, ...config } as never }, ps),
      oneLine(re),
    );
  bad({ k: 5 }, /^k: must be an integer between 1 and m \(=4\), got 5$/);
  bad({ w: 0 }, /^w: must be an integer >= 1, got 0$/);
  bad(
    { gate: "top" },
    /^gate: unknown value "top" \(allowed: softmax-topk, equal, softmax-all, sigmoid-topk, expert-choice\)$/,
  );
  bad({ activation: "tanh" }, /^activation: unknown value "tanh" \(allowed: relu, linear/);
  bad({ experts: 3 }, /^config: unknown field 'experts' \(allowed: m, k, w, dIn/);
  assert.throws(
    () => exportModel({ kind: "mlp" } as never, ps),
    oneLine(/^kind: unknown value "mlp"/),
  );
  assert.throws(
    () => exportModel({ kind: "moe", config: ok }, ps, { strategy: "auto" as never }),
    oneLine(/^strategy: unknown value "auto" \(allowed: dense, sparse\)$/),
  );
  const wrongDims = initMoe({ ...ok, w: 2 }, key(1));
  assert.throws(
    () => exportModel({ kind: "moe", config: ok }, wrongDims),
    oneLine(/^params: 'moe0.experts.w1' has dims \[5, 8\], expected \[5, 12\]$/),
  );
  const missing = new Map(ps);
  missing.delete("moe0.experts.b2");
  assert.throws(
    () => exportModel({ kind: "moe", config: ok }, missing),
    oneLine(/^params: missing 'moe0.experts.b2'/),
  );
  assert.throws(
    () => exportModel({ kind: "moe", config: ok }, initMoe({ ...ok, routerBias: true }, key(1))),
    oneLine(/^params: unexpected 'moe0.router.bias'/),
  );
  const mixed = new Map(ps);
  mixed.set("moe0.experts.b2", tensor("float64", [4, 5]));
  assert.throws(
    () => exportModel({ kind: "moe", config: ok }, mixed),
    oneLine(/^params: 'moe0.experts.b2' is float64 but the others are float32$/),
  );
});

/** Re-encodes an exported model after `edit` (to forge broken files). */
function forge(bytes: Uint8Array, edit: (m: onnx.onnx.ModelProto) => void): Uint8Array {
  const m = P.ModelProto.decode(bytes);
  edit(m);
  return P.ModelProto.encode(m).finish();
}

function editMeta(bytes: Uint8Array, edit: (meta: Record<string, unknown>) => void): Uint8Array {
  return forge(bytes, (m) => {
    const meta = JSON.parse(m.metadataProps[0].value!);
    edit(meta);
    m.metadataProps[0].value = JSON.stringify(meta);
  });
}

Deno.test("import validates: one-line errors naming the file and the field", async () => {
  const c = CASES[0];
  const good = exportModel(c.model, paramsOf(c, 1));
  const dir = await Deno.makeTempDir();
  const check = async (name: string, bytes: Uint8Array, re: RegExp) => {
    const path = `${dir}/${name}.onnx`;
    await Deno.writeFile(path, bytes);
    assert.throws(() => importModel(path), (e: Error) => {
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.ok(!e.message.includes("\n"), e.message);
      assert.match(e.message.slice(path.length + 2), re);
      return true;
    });
  };
  await check(
    "nometa",
    forge(good, (m) => (m.metadataProps = [])),
    /^metadata_props: missing 'moe_onnx'/,
  );
  await check(
    "badjson",
    forge(good, (m) => (m.metadataProps[0].value = "{")),
    /^metadata_props.moe_onnx: invalid JSON/,
  );
  await check(
    "kind",
    editMeta(good, (meta) => (meta.kind = "mlp")),
    /^metadata.kind: unknown value "mlp" \(allowed: moe, deep\)$/,
  );
  await check(
    "k",
    editMeta(good, (meta) => ((meta.config as { k: number }).k = 9)),
    /^metadata.config.k: must be an integer between 1 and m \(=6\), got 9$/,
  );
  await check(
    "field",
    editMeta(good, (meta) => ((meta.config as { depth?: number }).depth = 2)),
    /^metadata.config: unknown field 'depth'/,
  );
  await check(
    "dtype",
    editMeta(good, (meta) => (meta.dtype = "int8")),
    /^metadata.dtype: unknown value "int8"/,
  );
  // The config says w = 5 but the initializers hold w = 4.
  await check(
    "layout",
    editMeta(good, (meta) => ((meta.config as { w: number }).w = 5)),
    /^params: 'moe0.experts.w1' has dims \[5, 24\], expected \[5, 30\]$/,
  );
  await check(
    "renamed",
    forge(
      good,
      (m) => (graphOf(m).initializer.find((t) => t.name === "moe0.experts.w2")!.name = "w2"),
    ),
    /^params: missing initializer 'moe0.experts.w2' \(expected float32 \[24, 3\]\)$/,
  );
  await check(
    "truncated",
    forge(good, (m) => {
      const t = graphOf(m).initializer.find((t) => t.name === "moe0.experts.b1")!;
      t.rawData = t.rawData!.slice(0, 8);
    }),
    /^params: 'moe0.experts.b1' does not hold 24 float32 values$/,
  );
  await check("garbage", new Uint8Array([0xff, 0xff, 0xff, 0x0f, 1, 2, 3]), /^not an ONNX model/);
  assert.throws(
    () => importModel(`${dir}/absent.onnx`),
    oneLine(/absent.onnx: cannot read model file \(NotFound\)$/),
  );
  // float_data (as other exporters write it) is read as well as raw_data.
  const viaFloatData = forge(good, (m) => {
    for (const t of graphOf(m).initializer) {
      if (t.dataType !== 1) continue;
      const raw = t.rawData!;
      t.floatData = Array.from(new Float32Array(new Uint8Array(raw).buffer));
      t.rawData = new Uint8Array(0);
    }
  });
  assertSameParams(decodeModel(viaFloatData, "f").params, paramsOf(c, 1), "float_data");
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "export", ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task export: presets, configs, bad flags (one line, nothing written)", async () => {
  const dir = await Deno.makeTempDir();
  // A preset regenerates the shipped file.
  const out = `${dir}/t.onnx`;
  let r = await cli("--preset", "teacher-16e8a-d64", "--seed", "0", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    await Deno.readFile(out),
    await Deno.readFile(`${MODELS}/teacher-16e8a-d64-seed0.onnx`),
  );
  // A config: defaults filled in, params = initMoe(config, key(seed)).
  const out2 = `${dir}/c.onnx`;
  r = await cli(
    "--config",
    '{"m":4,"k":2,"w":3,"dIn":5}',
    "--seed",
    "7",
    "--out",
    out2,
    "--strategy",
    "sparse",
  );
  assert.equal(r.code, 0, r.stderr);
  const imp = importModel(out2);
  const cfg = moeConfig({ m: 4, k: 2, w: 3, dIn: 5 });
  assert.deepEqual(imp.config, cfg);
  assert.equal(imp.metadata.strategy, "sparse");
  assertSameParams(imp.params, initMoe(cfg, key(7)), "cli config");
  r = await cli("--list");
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim().split("\n").length, PRESETS.length);
  assert.match(r.stdout, /^teacher-16e8a-d256 +m=16 k=8 w=32 d=256/m);

  const bad = async (re: RegExp, ...args: string[]) => {
    const target = `${dir}/bad.onnx`;
    const res = await cli(...args, "--out", target);
    assert.notEqual(res.code, 0, args.join(" "));
    const lines = res.stderr.trim().split("\n");
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0], re);
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound);
  };
  await bad(
    /^export: --config: k: must be an integer between 1 and m \(=4\), got 5$/,
    "--config",
    '{"m":4,"k":5,"w":3,"dIn":5}',
  );
  await bad(
    /^export: --config: w: must be an integer >= 1, got 0$/,
    "--config",
    '{"m":4,"k":2,"w":0,"dIn":5}',
  );
  await bad(
    /^export: --config: gate: unknown value "x" \(allowed: /,
    "--config",
    '{"m":4,"k":2,"w":3,"dIn":5,"gate":"x"}',
  );
  await bad(
    /^export: --config: config: unknown field 'q'/,
    "--config",
    '{"m":4,"k":2,"w":3,"dIn":5,"q":1}',
  );
  await bad(/^export: --config: invalid JSON/, "--config", "{m:4}");
  await bad(
    /^export: --preset: unknown value 'teacher-3e1a-d256' \(allowed: teacher-4e2a-d256, /,
    "--preset",
    "teacher-3e1a-d256",
  );
  /** A bad value of one flag beside a valid preset. */
  const badWithPreset = (re: RegExp, ...flag: string[]) =>
    bad(re, "--preset", "teacher-4e2a-d64", ...flag);
  await badWithPreset(
    /^export: --strategy: unknown value 'auto' \(allowed: dense, sparse\)$/,
    "--strategy",
    "auto",
  );
  await badWithPreset(
    /^export: --dtype: unknown value 'float16' \(allowed: float32, float64\)$/,
    "--dtype",
    "float16",
  );
  await badWithPreset(/^export: --seed: must be an integer >= 0, got '-1'$/, "--seed=-1");
  await bad(/^export: mode: give exactly one of/, "--preset", "teacher-4e2a-d64", "--list");
});

Deno.test("shipped teachers: sha256 match the manifest and regenerate bit for bit", async () => {
  const manifest: Manifest = JSON.parse(await Deno.readTextFile(`${MODELS}/${MANIFEST_FILE}`));
  assert.deepEqual(
    manifest.models.map((e) => e.file),
    SHIPPED.map((s) => presetFileName(s.preset, s.seed)),
  );
  assert.ok(manifest.models.some((e) => e.file === "teacher-16e8a-d256-seed0.onnx"));
  for (const e of manifest.models) {
    const bytes = await Deno.readFile(`${MODELS}/${e.file}`);
    assert.equal(bytes.length, e.bytes, e.file);
    assert.equal(await sha256Hex(bytes), e.sha256, e.file);
    const imp = importModel(`${MODELS}/${e.file}`);
    assert.deepEqual(imp.config, e.config);
    assert.equal(imp.metadata.preset, e.preset);
    assert.equal(imp.dtype, "float32");
    assert.equal(imp.metadata.strategy, "dense");
    // The file is exactly the paper-A teacher drawn from its seed.
    const d = e.config.dIn;
    const cfg = teacherConfig(e.config.m, e.config.k, d, { activeNeurons: d });
    assertSameParams(imp.params, initMoe(cfg, key(e.seed), "torch"), e.file);
  }
  assert.equal(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.deepEqual(await checkShipped(MODELS), []);
  const r = await cli("--manifest", "--check");
  assert.equal(r.code, 0, r.stderr);
  // A tampered copy is caught, naming the file.
  const dir = await Deno.makeTempDir();
  for await (const f of Deno.readDir(MODELS)) {
    await Deno.copyFile(`${MODELS}/${f.name}`, `${dir}/${f.name}`);
  }
  const victim = `${dir}/teacher-16e8a-d64-seed0.onnx`;
  const b = await Deno.readFile(victim);
  b[b.length - 1] ^= 1;
  await Deno.writeFile(victim, b);
  const problems = await checkShipped(dir);
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(
    problems[0],
    /teacher-16e8a-d64-seed0.onnx: sha256 [0-9a-f]{64} .* differs from the regenerated/,
  );
});

const PY_HINT = "apt-get install python3-onnx python3-numpy";

Deno.test("Python: onnx checker, shape inference and a numpy forward agree with onnxruntime-node", async () => {
  const dir = await Deno.makeTempDir({ prefix: "moe-onnx-py-" });
  const cases: Record<string, unknown>[] = [];
  const save = async (name: string, t: HostTensor) => {
    await Deno.writeFile(`${dir}/${name}`, bytesOf(t));
    return { file: name, dtype: t.dtype, dims: t.dims };
  };
  let seed = 0;
  for (const c of CASES) {
    seed++;
    const bytes = exportModel(c.model, paramsOf(c, seed), { strategy: c.strategy, seed });
    await Deno.writeFile(`${dir}/${c.name}.onnx`, bytes);
    const x = inputs(200 + seed, 24, c.model.config.dIn, c.dtype);
    const y = await runXY(bytes, x);
    cases.push({
      name: c.name,
      model: `${c.name}.onnx`,
      x: await save(`${c.name}.x.bin`, x),
      y: await save(`${c.name}.y.bin`, y),
    });
  }
  // The shipped teacher, read in place.
  const teacher = `${MODELS}/teacher-16e8a-d256-seed0.onnx`;
  const x = inputs(300, 64, 256, "float32");
  const y = await runXY(await Deno.readFile(teacher), x);
  cases.push({
    name: "shipped-teacher-16e8a-d256",
    model: teacher,
    x: await save("teacher.x.bin", x),
    y: await save("teacher.y.bin", y),
  });
  await Deno.writeTextFile(`${dir}/cases.json`, JSON.stringify({ cases }, null, 1));

  const text = await runPythonCheck("check_export.py", dir, "onnx or numpy", PY_HINT);
  assert.match(text, new RegExp(`all ${cases.length} cases passed`), text);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("presets: every Fig. 2 architecture at d = 256 and d = 64, w = kw // k", () => {
  assert.equal(PRESETS.length, 16);
  const p = findPreset("teacher-12e6a-d256").model.config;
  assert.deepEqual([p.m, p.k, p.w, p.dIn, p.dOut], [12, 6, 42, 256, 256]);
  assert.equal(p.gate, "softmax-topk");
  assert.equal(p.routerBias, false);
  const q = findPreset("teacher-32e16a-d64").model.config;
  assert.deepEqual([q.m, q.k, q.w, q.dIn], [32, 16, 4, 64]);
  assert.throws(
    () => findPreset("nope"),
    oneLine(/^preset: unknown preset "nope" \(allowed: teacher-4e2a-d256/),
  );
  for (const p of PRESETS) {
    const { m, w, dIn: d } = p.model.config;
    const imp = importModel(exportPreset(p.name, 3), p.name);
    assert.deepEqual(imp.config, p.model.config, p.name);
    assert.equal(imp.seed, 3);
    // router d m + B d (m w) + c (m w) + A (m w) d + e m d
    assert.equal(imp.metadata.params, d * m + 2 * d * m * w + m * w + m * d, p.name);
  }
  assert.throws(
    () => exportPreset("teacher-4e2a-d64", -1),
    oneLine(/^seed: must be an integer >= 0/),
  );
});
