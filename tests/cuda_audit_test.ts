/**
 * The static CUDA-EP audit (lib/cuda): exact findings on hand-built graphs, the kernel table's
 * coverage of every op the graph builder can emit, and its dtype inference against the builder's.
 */
import assert from "node:assert/strict";
import onnx from "onnx-proto";
import { Graph, type Value } from "../lib/graph/builder.ts";
import type { DType } from "../lib/graph/dtype.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { OPS } from "../lib/graph/ops.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { GATES, initMoe, moeConfig, moeForward } from "../lib/nn/mod.ts";
import { paramInputs } from "../lib/nn/params.ts";
import { key } from "../lib/random/prng.ts";
import { auditModel, type Finding, isError } from "../lib/cuda/audit.ts";
import { CUDA_OPS, NOT_ON_CUDA, schemaVersion } from "../lib/cuda/kernels.ts";

const P = onnx.onnx;
const T = P.TensorProto.DataType;

const info = (name: string, elemType: number, dims: number[]): onnx.onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});
const node = (
  name: string,
  opType: string,
  input: string[],
  output: string[],
  attribute: onnx.onnx.IAttributeProto[] = [],
): onnx.onnx.INodeProto => ({ name, opType, input, output, attribute });
const str = (name: string, v: string): onnx.onnx.IAttributeProto => ({
  name,
  type: P.AttributeProto.AttributeType.STRING,
  s: new TextEncoder().encode(v),
});

const byKind = (fs: Finding[], kind: Finding["kind"]) =>
  fs.filter((f) => f.kind === kind).map((f) => f.path).sort();

Deno.test("audit: a hand-built model reports exactly its CPU-only nodes, subgraphs included", () => {
  const body: onnx.onnx.IGraphProto = {
    name: "body",
    input: [info("it", T.INT64, []), info("c", T.BOOL, []), info("v", T.INT64, [4])],
    output: [info("c_out", T.BOOL, []), info("v_out", T.INT64, [4])],
    node: [
      node("keep", "Identity", ["c"], ["c_out"]),
      // ArgMax's CUDA kernel takes floats only: an int64 input runs on the CPU.
      node("argmax", "ArgMax", ["v"], ["am"]),
      node("step", "Add", ["v", "am"], ["v_out"]),
    ],
  };
  const model: onnx.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "g",
      input: [info("a", T.FLOAT, [4, 3]), info("i", T.INT64, [4])],
      output: [info("y", T.FLOAT, [4, 3])],
      initializer: [
        { name: "w", dataType: T.FLOAT, dims: [3, 3], floatData: new Array(9).fill(0) },
        { name: "M", dataType: T.INT64, dims: [], int64Data: [3] },
        { name: "idx", dataType: T.INT64, dims: [2, 1], int64Data: [0, 0] },
      ],
      node: [
        node("mm", "MatMul", ["a", "w"], ["h"]),
        // No CUDA kernel at all for this op.
        node("det", "Det", ["w"], ["dw"]),
        // Sum's CUDA kernel takes floats only.
        node("isum", "Sum", ["i", "i"], ["i2"]),
        node("loop", "Loop", ["M", "", "i2"], ["i_final"], [{
          name: "body",
          type: P.AttributeProto.AttributeType.GRAPH,
          g: body,
        }]),
        node("rows", "Slice", ["h", "M", "M"], ["upd"]),
        node("sc", "ScatterND", ["h", "idx", "upd"], ["y"], [str("reduction", "add")]),
        // The same on int64 is exact in any order.
        node("isc", "ScatterND", ["i", "idx", "i"], ["j"], [str("reduction", "add")]),
      ],
    },
  };
  const dtypes = new Map<string, DType | undefined>();
  const fs = auditModel(model, { dtypes });
  assert.deepEqual(byKind(fs, "fallback"), ["det", "isum", "loop/body/argmax"]);
  assert.deepEqual(byKind(fs, "nondeterministic"), ["sc"]);
  assert.equal(dtypes.get("i_final"), "int64");
  assert.equal(dtypes.get("am"), "int64");
  assert.equal(dtypes.get("h"), "float32");
  assert.match(fs.find((f) => f.path === "isum")!.message, /Sum with T=int64/);
});

Deno.test("audit: builder graphs with unsupported dtypes report exactly those nodes", () => {
  const g = new Graph("main");
  const a = g.input("a", "bool", [4]);
  const x = g.input("x", "float32", [4]);
  const cond = g.op.Greater(x, 0);
  // Where's and Tile's CUDA kernels take no bool data; Not and Where on floats are fine.
  const w = g.op.Where(cond, a, g.op.Not(a));
  const t = g.op.Tile(w, [2]);
  g.output(g.op.Where(cond, x, g.op.Neg(x)), "y");
  g.output(t, "t");
  const fs = auditModel(encodeModel(g));
  const wName = g.nodes.find((n) => n.opType === "Where")!.name;
  const tName = g.nodes.find((n) => n.opType === "Tile")!.name;
  assert.deepEqual(byKind(fs, "fallback"), [wName, tName].sort());
  assert.ok(fs.every((f) => f.kind !== "nondeterministic"));
});

Deno.test("audit: a model newer than the kernel table is refused, not guessed", () => {
  const g = new Graph("main");
  g.output(g.op.Relu(g.input("x", "float32", [2])), "y");
  const fs = auditModel(encodeModel(g, { opset: 18 }));
  assert.equal(fs.length, 1);
  assert.ok(isError(fs[0]));
  assert.match(fs[0].message, /opset 18/);
});

Deno.test("kernel table: every op the graph builder can emit is covered, with its signature", () => {
  for (const [op, schema] of Object.entries(OPS)) {
    const e = CUDA_OPS[op];
    assert.ok(e || NOT_ON_CUDA.includes(op), `${op}: neither in CUDA_OPS nor in NOT_ON_CUDA`);
    if (!e) continue;
    assert.equal(e.inputs.length, schema.inputs.length, `${op}: input arity`);
    // A slot the builder fixes to int64 or bool takes only that dtype on CUDA too.
    schema.inputs.forEach((s, i) => {
      const fixed = s.replace(/\?$|\.\.\.$/, "");
      if (fixed !== "int64" && fixed !== "bool") return;
      const slot = e.inputs[i].replace(/\?$|\.\.\.$/, "");
      const types = e.placement.kind === "kernel" ? e.placement.cuda.types[slot] : undefined;
      assert.ok(slot === fixed || types?.join() === fixed, `${op}: input ${i} (${slot})`);
    });
    const v = schemaVersion(e, 17);
    assert.ok(v !== undefined, `${op}: no schema version at opset 17`);
    if (e.placement.kind === "kernel") {
      const r = e.placement.cuda;
      assert.ok(v >= r.since && (r.until === undefined || v <= r.until), `${op}: range`);
    }
  }
  for (const op of Object.keys(CUDA_OPS)) assert.ok(op in OPS, `${op}: not a builder op`);
});

/** Every node output's dtype as the builder typed it, subgraphs included. */
function builderDtypes(g: Graph, out = new Map<string, DType>()): Map<string, DType> {
  for (const n of g.nodes) {
    for (const o of n.outputs) out.set(o.name, o.dtype);
    for (const a of n.attrs.values()) if (a.type === "graph") builderDtypes(a.value as Graph, out);
  }
  return out;
}

Deno.test("audit: its dtype inference agrees with the builder on MoE forward and backward", () => {
  for (const gate of GATES) {
    for (const strategy of ["dense", "sparse"] as const) {
      const c = moeConfig({ m: 4, k: 2, w: 3, dIn: 5, dOut: 2, gate, strategy });
      const g = new Graph("main");
      const p = paramInputs(g, initMoe(c, key(0), { dtype: "float32" }));
      const x = g.input("x", "float32", [6, 5]);
      const y = moeForward(g, c, p, x).y;
      const loss = g.op.ReduceSum(g.op.Mul(y, y), undefined, { keepdims: 0 });
      const wrt: Value[] = Object.values(p);
      grad(g, loss, wrt).forEach((d, i) => g.output(d, `d${i}`));
      g.output(loss, "loss");
      const dtypes = new Map<string, DType | undefined>();
      auditModel(encodeModel(g), { dtypes });
      const want = builderDtypes(g);
      assert.ok(want.size > 20);
      for (const [name, dt] of want) {
        assert.equal(dtypes.get(name), dt, `${gate}/${strategy}: ${name}`);
      }
    }
  }
});

Deno.test("audit: a Constant folds to an initializer and CastLike checks as Cast", () => {
  const g = new Graph("main");
  const x = g.input("x", "float32", [3]);
  const c = g.op.Constant(tensor("int64", [1], [2]));
  g.output(g.op.CastLike(c, x), "y");
  const dtypes = new Map<string, DType | undefined>();
  assert.deepEqual(auditModel(encodeModel(g), { dtypes }), []);
  assert.equal(dtypes.get(c.name), "int64");
});
