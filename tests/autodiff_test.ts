import assert from "node:assert/strict";
import { Graph } from "../lib/graph/builder.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { OPS } from "../lib/graph/ops.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { Session } from "../lib/runtime/session.ts";
import { type Build, gradCheck, rand } from "./support/gradcheck.ts";

const TOL = 1e-6;

interface Case {
  name: string;
  inputs: Record<string, ReturnType<typeof rand> | ReturnType<typeof tensor>>;
  build: Build;
  symbolic?: Record<string, (string | number)[]>;
  wrt?: string[];
  /** Finite-difference step and tolerance, for ops checked in float32. */
  h?: number;
  tol?: number;
}

const pos = (dims: number[], seed: number) => rand(dims, seed, [0.5, 2]);
const i64 = (dims: number[], xs: number[]) => tensor("int64", dims, xs);

/** `op(a, b)` with a = rand(aDims, 1), b = rand(bDims, 2). */
const binary = (
  name: string,
  op: "Add" | "Sub" | "Mul" | "Div" | "MatMul",
  aDims: number[],
  bDims: number[],
): Case => ({
  name,
  inputs: { a: rand(aDims, 1), b: rand(bDims, 2) },
  build: (g, v) => g.op[op](v.a, v.b),
});

const CASES: Case[] = [
  // Elementwise, with broadcasting in both directions.
  binary("Add [3,4]+[4]", "Add", [3, 4], [4]),
  binary("Add [3,1]+[1,4]", "Add", [3, 1], [1, 4]),
  binary("Sub [2,3,4]-[3,1]", "Sub", [2, 3, 4], [3, 1]),
  binary("Mul [2,3]*[2,3]", "Mul", [2, 3], [2, 3]),
  binary("Mul scalar*[2,3]", "Mul", [], [2, 3]),
  {
    name: "Div [3,4]/[4]",
    inputs: { a: rand([3, 4], 1), b: pos([4], 2) },
    build: (g, v) => g.op.Div(v.a, v.b),
  },
  {
    name: "Mul broadcast with symbolic dims (in-graph unbroadcast)",
    inputs: { a: rand([3, 4], 1), b: rand([3, 1], 2) },
    symbolic: { a: ["batch", 4], b: ["batch", 1] },
    build: (g, v) => g.op.Mul(v.a, v.b),
  },
  {
    name: "Add broadcast with unknown ranks",
    inputs: { a: rand([2, 3, 4], 1), b: rand([4], 2) },
    symbolic: { a: ["n", "m", 4], b: ["k"] },
    build: (g, v) => g.op.Add(v.a, v.b),
  },
  { name: "Neg", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Neg(v.x) },
  { name: "Relu", inputs: { x: rand([6, 3], 3) }, build: (g, v) => g.op.Relu(v.x) },
  { name: "Exp", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Exp(v.x) },
  { name: "Log", inputs: { x: pos([5], 1) }, build: (g, v) => g.op.Log(v.x) },
  { name: "Sqrt", inputs: { x: pos([5], 1) }, build: (g, v) => g.op.Sqrt(v.x) },
  { name: "Pow x^2", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Pow(v.x, 2) },
  { name: "Pow x^3", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Pow(v.x, 3) },
  { name: "Pow x^-1.5", inputs: { x: pos([5], 1) }, build: (g, v) => g.op.Pow(v.x, -1.5) },
  { name: "Tanh", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Tanh(v.x) },
  { name: "Sigmoid", inputs: { x: rand([5], 1) }, build: (g, v) => g.op.Sigmoid(v.x) },
  {
    name: "Sin/Cos",
    inputs: { x: rand([5], 1) },
    build: (g, v) => g.op.Mul(g.op.Sin(v.x), g.op.Cos(v.x)),
  },
  { name: "Abs", inputs: { x: rand([5], 4) }, build: (g, v) => g.op.Abs(v.x) },
  { name: "Reciprocal", inputs: { x: pos([5], 1) }, build: (g, v) => g.op.Reciprocal(v.x) },
  {
    name: "Sum (variadic)",
    inputs: { a: rand([2, 3], 1), b: rand([3], 2) },
    build: (g, v) => g.op.Sum(v.a, v.b, v.a),
  },
  { name: "Identity", inputs: { x: rand([4], 1) }, build: (g, v) => g.op.Identity(v.x) },
  {
    name: "Cast f64->f64",
    inputs: { x: rand([4], 1) },
    build: (g, v) => g.op.Cast(v.x, "float64"),
  },
  // Linear algebra.
  binary("MatMul 2D", "MatMul", [3, 4], [4, 5]),
  binary("MatMul [2,3,4]x[4,5]", "MatMul", [2, 3, 4], [4, 5]),
  binary("MatMul batched [2,3,4]x[2,4,5]", "MatMul", [2, 3, 4], [2, 4, 5]),
  binary("MatMul batch broadcast [2,1,3,4]x[3,4,2]", "MatMul", [2, 1, 3, 4], [3, 4, 2]),
  ...[0, 1].flatMap((tA) =>
    [0, 1].map((tB): Case => ({
      name: `Gemm transA=${tA} transB=${tB} alpha/beta, bias [5]`,
      inputs: {
        a: rand(tA ? [4, 3] : [3, 4], 1),
        b: rand(tB ? [5, 4] : [4, 5], 2),
        c: rand([5], 3),
      },
      build: (g, v) =>
        g.op.Gemm(v.a, v.b, v.c, {
          transA: tA as 0 | 1,
          transB: tB as 0 | 1,
          alpha: 0.7,
          beta: 1.3,
        }),
    }))
  ),
  {
    name: "Gemm bias [3,1]",
    inputs: { a: rand([3, 4], 1), b: rand([4, 5], 2), c: rand([3, 1], 3) },
    build: (g, v) => g.op.Gemm(v.a, v.b, v.c),
  },
  // Reductions and normalizations.
  {
    name: "Softmax axis -1",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.Softmax(v.x, { axis: -1 }),
  },
  {
    name: "Softmax axis 0",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.Softmax(v.x, { axis: 0 }),
  },
  {
    name: "LogSoftmax",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.LogSoftmax(v.x, { axis: 1 }),
  },
  {
    name: "ReduceSum all",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.ReduceSum(v.x, undefined, { keepdims: 0 }),
  },
  {
    name: "ReduceSum axes [1] keepdims 0",
    inputs: { x: rand([3, 4, 2], 1) },
    build: (g, v) => g.op.ReduceSum(v.x, [1], { keepdims: 0 }),
  },
  {
    name: "ReduceSum axes [0,2] keepdims 1",
    inputs: { x: rand([3, 4, 2], 1) },
    build: (g, v) => g.op.ReduceSum(v.x, [0, 2], { keepdims: 1 }),
  },
  {
    name: "ReduceMean axes [1]",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.ReduceMean(v.x, { axes: [1], keepdims: 0 }),
  },
  {
    name: "ReduceMean with symbolic dims",
    inputs: { x: rand([3, 4], 1) },
    symbolic: { x: ["batch", 4] },
    build: (g, v) => g.op.ReduceMean(v.x, { axes: [0], keepdims: 1 }),
  },
  // Shape ops.
  { name: "Reshape", inputs: { x: rand([3, 4], 1) }, build: (g, v) => g.op.Reshape(v.x, [2, 6]) },
  {
    name: "Transpose",
    inputs: { x: rand([2, 3, 4], 1) },
    build: (g, v) => g.op.Transpose(v.x, { perm: [2, 0, 1] }),
  },
  { name: "Unsqueeze", inputs: { x: rand([3, 4], 1) }, build: (g, v) => g.op.Unsqueeze(v.x, [1]) },
  { name: "Squeeze", inputs: { x: rand([3, 1, 4], 1) }, build: (g, v) => g.op.Squeeze(v.x, [1]) },
  {
    name: "Concat axis 1",
    inputs: { a: rand([2, 3], 1), b: rand([2, 1], 2), c: rand([2, 2], 3) },
    build: (g, v) => g.op.Concat([v.a, v.b, v.c], { axis: 1 }),
  },
  {
    name: "Concat with symbolic sizes",
    inputs: { a: rand([2, 3], 1), b: rand([2, 1], 2) },
    symbolic: { a: [2, "n"], b: [2, "m"] },
    build: (g, v) => g.op.Concat([v.a, v.b], { axis: 1 }),
  },
  {
    name: "Slice",
    inputs: { x: rand([4, 5], 1) },
    build: (g, v) => g.op.Slice(v.x, [1, 0], [3, 5]),
  },
  {
    name: "Slice negative bounds, step 2",
    inputs: { x: rand([4, 7], 1) },
    build: (g, v) => g.op.Slice(v.x, [-6], [100], [1], [2]),
  },
  { name: "Expand", inputs: { x: rand([3, 1], 1) }, build: (g, v) => g.op.Expand(v.x, [2, 3, 4]) },
  // Indexing.
  {
    name: "Gather axis 0 with repeats",
    inputs: { x: rand([4, 3], 1), i: i64([5], [0, 2, 2, 3, 0]) },
    build: (g, v) => g.op.Gather(v.x, v.i, { axis: 0 }),
  },
  {
    name: "Gather axis 1, 2-D indices",
    inputs: { x: rand([2, 4, 3], 1), i: i64([2, 2], [3, 1, 1, 0]) },
    build: (g, v) => g.op.Gather(v.x, v.i, { axis: 1 }),
  },
  {
    name: "GatherElements axis 1",
    inputs: { x: rand([3, 4], 1), i: i64([3, 2], [0, 3, 1, 1, 2, 0]) },
    build: (g, v) => g.op.GatherElements(v.x, v.i, { axis: 1 }),
  },
  {
    name: "ScatterElements (data and updates)",
    inputs: { x: rand([3, 4], 1), i: i64([3, 2], [0, 3, 1, 2, 2, 0]), u: rand([3, 2], 2) },
    build: (g, v) => g.op.ScatterElements(v.x, v.i, v.u, { axis: 1 }),
  },
  {
    name: "ScatterElements add",
    inputs: { x: rand([3, 4], 1), i: i64([3, 2], [0, 0, 1, 2, 2, 2]), u: rand([3, 2], 2) },
    build: (g, v) => g.op.ScatterElements(v.x, v.i, v.u, { axis: 1, reduction: "add" }),
  },
  {
    name: "Where with broadcasting",
    inputs: { a: rand([3, 4], 1), b: rand([4], 2) },
    build: (g, v) => g.op.Where(g.op.Greater(v.a, 0), v.a, v.b),
  },
  {
    name: "TopK values",
    inputs: { x: rand([3, 6], 5) },
    build: (g, v) => g.op.TopK(v.x, 3, { axis: -1 })[0],
  },
  {
    name: "Split into 3 (one part unused)",
    inputs: { x: rand([2, 7], 1) },
    build: (g, v) => {
      const [a, b] = g.op.Split(v.x, [2, 4, 1], { outputs: 3, axis: 1 });
      return g.op.Mul(a, g.op.Slice(b, [0], [2], [1]));
    },
  },
  {
    name: "Split equal parts, axis 0",
    inputs: { x: rand([4, 3], 1) },
    build: (g, v) => g.op.Sum(...g.op.Split(v.x, undefined, { outputs: 2, axis: 0 })),
  },
  {
    name: "Flatten axis 2",
    inputs: { x: rand([2, 3, 4], 1) },
    build: (g, v) => g.op.Flatten(v.x, { axis: 2 }),
  },
  {
    // onnxruntime's CPU Erf is float32 only: checked in float32, with a coarser step.
    name: "Erf (float32)",
    inputs: { x: rand([5], 1) },
    build: (g, v) => g.op.Cast(g.op.Erf(g.op.Cast(v.x, "float32")), "float64"),
    h: 1e-2,
    tol: 1e-3,
  },
  {
    name: "ReduceSumSquare axes [1] keepdims 0",
    inputs: { x: rand([3, 4], 1) },
    build: (g, v) => g.op.ReduceSumSquare(v.x, { axes: [1], keepdims: 0 }),
  },
  // Composite: 2-layer MLP with softmax output.
  {
    name: "2-layer MLP with softmax",
    inputs: {
      x: rand([5, 4], 1),
      w1: rand([4, 6], 2),
      b1: rand([6], 3),
      w2: rand([6, 3], 4),
      b2: rand([3], 5),
    },
    wrt: ["w1", "b1", "w2", "b2"],
    build: (g, v) => {
      const { op } = g;
      const h = op.Tanh(op.Add(op.MatMul(v.x, v.w1), v.b1));
      const z = op.Gemm(h, v.w2, v.b2);
      return op.Softmax(op.Mul(op.Relu(z), z), { axis: -1 });
    },
  },
];

for (const c of CASES) {
  Deno.test(`grad ${c.name}`, async () => {
    const err = await gradCheck(c.inputs, c.build, { symbolic: c.symbolic, wrt: c.wrt, h: c.h });
    const tol = c.tol ?? TOL;
    assert.ok(err < tol, `${c.name}: normalized error ${err.toExponential(2)} >= ${tol}`);
  });
}

Deno.test("every op with a backward rule has a finite-difference case above", () => {
  const covered = new Set<string>();
  for (const c of CASES) {
    const g = new Graph("probe");
    const v = Object.fromEntries(
      Object.entries(c.inputs).map(([k, t]) => [k, g.input(k, t.dtype, c.symbolic?.[k] ?? t.dims)]),
    );
    c.build(g, v);
    for (const n of g.nodes) covered.add(n.opType);
  }
  const missing = Object.keys(OPS).filter((op) => OPS[op].grad && !covered.has(op));
  assert.deepEqual(missing, [], `ops with a rule but no gradient check: ${missing.join(", ")}`);
});

Deno.test("the gradient check detects a wrong rule", async () => {
  const right = OPS.Exp.grad;
  OPS.Exp.grad = (c, n, [gy]) => [c.op.Mul(c.op.Mul(gy!, n.outputs[0]), 1.001)];
  try {
    const err = await gradCheck({ x: rand([4], 1) }, (g, v) => g.op.Exp(v.x));
    assert.ok(err > 5e-4, `a 0.1% wrong rule went unnoticed (error ${err})`);
  } finally {
    OPS.Exp.grad = right;
  }
});

Deno.test("missing rule: a clear error naming the op and the path", () => {
  const g = new Graph("t");
  const w = g.input("w", "float64", [3]);
  const h = g.op.Exp(w);
  const m = g.op.ReduceMax(h, { axes: [0], keepdims: 0 });
  const loss = g.op.Mul(m, 2);
  assert.throws(
    () => grad(g, loss, [w]),
    (e: Error) =>
      /no gradient rule for op 'ReduceMax'/.test(e.message) &&
      /w -> Exp -> ReduceMax/.test(e.message),
  );
});

Deno.test("unreachable parameter gets explicit zeros; non-scalar loss is rejected", () => {
  const g = new Graph("t");
  const a = g.input("a", "float64", [3]);
  const b = g.input("b", "float64", [2, 2]);
  const loss = g.op.ReduceSum(g.op.Exp(a), undefined, { keepdims: 0 });
  const [ga, gb] = grad(g, loss, [a, b]);
  assert.equal(ga.dtype, "float64");
  assert.equal(gb.producer?.opType, "ConstantOfShape");
  assert.throws(() => grad(g, g.op.Exp(a), [a]), /must be a scalar/);
});

Deno.test("gradient nodes reuse forward values (no recomputation)", () => {
  const g = new Graph("t");
  const x = g.input("x", "float64", [3]);
  const y = g.op.Exp(g.op.Tanh(x));
  const loss = g.op.ReduceSum(y, undefined, { keepdims: 0 });
  const before = g.nodes.length;
  grad(g, loss, [x]);
  const added = g.nodes.slice(before).map((n) => n.opType);
  assert.ok(!added.includes("Exp") && !added.includes("Tanh"), `recomputed: ${added.join(",")}`);
});

Deno.test("shape clash and dtype clash are reported when building, naming the node", () => {
  const g = new Graph("t");
  const a = g.input("a", "float32", [3, 4]);
  const b = g.input("b", "float32", [5]);
  const c = g.input("c", "float64", [3, 4]);
  assert.throws(() => g.op.Add(a, b), /node Add.*shape clash/);
  assert.throws(() => g.op.MatMul(a, a), /node MatMul.*shape clash: MatMul inner dims/);
  assert.throws(() => g.op.Mul(a, c), /node Mul.*dtype clash/);
  assert.throws(() => g.node("Gemm", [a, a], { alpha: [1] }), /attribute 'alpha' must be float/);
  assert.throws(() => g.node("Softmax", [a], { axes: 1 }), /unknown attribute 'axes'/);
  assert.throws(() => new Graph("o").op.Neg(a), /dangling value/);
});

Deno.test("If and Loop subgraphs read outer values and run on onnxruntime", async () => {
  const g = new Graph("t");
  const x = g.input("x", "float64", [3]);
  const flag = g.input("flag", "bool", []);
  const [y] = g.ifElse(flag, (b) => [b.op.Mul(x, 2)], (b) => [b.op.Neg(x)]);
  g.output(y, "y");
  const [acc, its] = g.loop(4, [x], (b, i, [c]) => ({
    carried: [b.op.Add(c, x)],
    scans: [b.op.Cast(i, "float64")],
  }));
  g.output(acc, "acc");
  g.output(its, "its");
  assert.throws(
    () => g.ifElse(flag, (b) => [b.op.Mul(x, 2)], () => [flag]),
    /branches return different outputs/,
  );
  const s = await Session.create(encodeModel(g));
  const xs = tensor("float64", [3], [1, -2, 3]);
  const on = await s.run({ x: xs, flag: tensor("bool", [], [1]) });
  const off = await s.run({ x: xs, flag: tensor("bool", [], [0]) });
  assert.deepEqual(Array.from(on.y.data as Float64Array), [2, -4, 6]);
  assert.deepEqual(Array.from(off.y.data as Float64Array), [-1, 2, -3]);
  assert.deepEqual(Array.from(on.acc.data as Float64Array), [5, -10, 15]);
  assert.deepEqual(Array.from(on.its.data as Float64Array), [0, 1, 2, 3]);
  await s.release();
});
