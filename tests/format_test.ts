import assert from "node:assert/strict";
import { Graph, qualifiedName } from "../lib/graph/builder.ts";
import { formatGraph, formatNode } from "../lib/graph/format.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { key } from "../lib/random/prng.ts";
import { initMoe, moeConfig, moeForward, paramInputs } from "../lib/nn/mod.ts";
import onnx from "onnx-proto";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { Session } from "../lib/runtime/session.ts";
import { scopeOf, summarizeProfile } from "../bench/profile.ts";

function sparseLayer() {
  const cfg = moeConfig({ dIn: 4, m: 4, k: 2, w: 3 });
  const g = new Graph("moe");
  const ps = initMoe(cfg, key(1));
  const params = paramInputs(g, ps);
  const x = g.input("x", "float32", [8, 4]);
  const { y } = moeForward(g, cfg, params, x, { strategy: "sparse" });
  const loss = g.op.ReduceSumSquare(y, { keepdims: 0 });
  g.output(loss);
  for (const gv of grad(g, loss, Object.values(params))) g.output(gv);
  return g;
}

Deno.test("scopes: node names read like the model, forward and backward, and stay unique", () => {
  const g = sparseLayer();
  const names = g.nodes.map(qualifiedName);
  assert.equal(new Set(names).size, names.length, "qualified node names are unique");
  for (const prefix of ["moe0/router/", "moe0/sparse/", "grad/moe0/router/", "grad/moe0/sparse/"]) {
    assert.ok(names.some((n) => n.startsWith(prefix)), `no node under ${prefix}`);
  }
  // Only node names are scoped: the values keep their flat names.
  assert.ok(g.nodes.every((n) => n.outputs.every((o) => !o.name.includes("moe0/"))));
  const proto = onnx.onnx.ModelProto.decode(encodeModel(g));
  assert.deepEqual(proto.graph!.node!.map((n) => n.name), names);
  const flat = onnx.onnx.ModelProto.decode(encodeModel(g, { scopedNames: false }));
  assert.deepEqual(flat.graph!.node!.map((n) => n.name), g.nodes.map((n) => n.name));
});

Deno.test("scope names are checked and nest", () => {
  const g = new Graph("t");
  const x = g.input("x", "float32", [2]);
  const y = g.scope("a", () => g.scope("b", () => g.op.Neg(x)));
  assert.equal(qualifiedName(y.producer!), "a/b/Neg");
  assert.equal(qualifiedName(g.op.Neg(x).producer!), "Neg_2");
  assert.throws(() => g.scope("bad name", () => 0), /scope: 'bad name' is not a valid scope name/);
});

Deno.test("formatGraph: one line per node with dtypes, shapes and attributes", () => {
  const g = new Graph("t");
  const x = g.input("x", "float32", ["B", 4]);
  const w = g.input("w", "float32", [4, 3]);
  const y = g.scope("layer", () => g.op.Softmax(g.op.MatMul(x, w), { axis: 1 }));
  g.output(y, "y");
  const lines = formatGraph(g).split("\n");
  assert.equal(lines.length, 3 + g.nodes.length);
  assert.equal(lines[0], "graph t (3 nodes, 0 initializers)");
  assert.equal(lines[1], "  inputs: x: float32[B, 4], w: float32[4, 3]");
  assert.equal(
    lines[3],
    "  layer/MatMul: MatMul(x: float32[B, 4], w: float32[4, 3]) -> MatMul_1: float32[B, 3]",
  );
  assert.equal(
    formatNode(y.producer!),
    "layer/Softmax: Softmax(MatMul_1: float32[B, 3]) -> Softmax_1: float32[B, 3] {axis=1}",
  );
});

Deno.test("a build error shows where the failing node's inputs come from", () => {
  const g = new Graph("t");
  const a = g.input("a", "float32", [3, 4]);
  const b = g.op.Exp(g.input("b", "float32", [5]));
  assert.throws(() => g.op.Add(a, b), (e: Error) => {
    const [first, ...rest] = e.message.split("\n");
    assert.match(first, /^node Add \(Add\): shape clash: cannot broadcast \[3, 4\] with \[5\]$/);
    assert.deepEqual(rest, [
      "  input 0 a: float32[3, 4] from a graph input or initializer",
      "  input 1 Exp_1: float32[5] from Exp: Exp(b: float32[5]) -> Exp_1: float32[5]",
    ]);
    return true;
  });
});

Deno.test("an onnxruntime profile of a scoped graph sums kernel time per scope", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const g = sparseLayer();
    const feeds: Record<string, HostTensor> = {};
    for (const v of g.inputs) {
      feeds[v.name] = tensor(v.dtype, v.shape as number[], new Float32Array(numel(v)).fill(0.5));
    }
    const s = await Session.create(encodeModel(g), { profilePrefix: `${dir}/p`, threads: 1 });
    await s.run(feeds);
    s.endProfiling();
    await s.release();
    const [file] = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
    const { byScope } = summarizeProfile(JSON.parse(await Deno.readTextFile(file)));
    const scopes = byScope.map(([sc]) => sc);
    for (const sc of ["moe0/router", "moe0/sparse", "grad/moe0/sparse"]) {
      assert.ok(scopes.includes(sc), `no kernel time under ${sc}: ${scopes.join(", ")}`);
    }
    assert.equal(scopeOf("grad/moe0/sparse/MatMul_3"), "grad/moe0/sparse");
    assert.equal(scopeOf("MatMul_3"), "-");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const numel = (v: { shape?: readonly unknown[] }) =>
  (v.shape as number[]).reduce((a, b) => a * b, 1);
