/**
 * Backward rules, one per op (micrograd-style): given the node and the gradients of its
 * outputs, return the gradients of its inputs (undefined where none flows). Rules reuse the
 * forward outputs (e.g. Exp, Tanh, Softmax) instead of recomputing them, and only build the
 * gradients of inputs that need one.
 */
import type { Node, Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import { tensor } from "../graph/tensor.ts";
import type { RuleContext } from "./context.ts";
import { GraphError } from "../graph/builder.ts";

export type Rule = (
  ctx: RuleContext,
  node: Node,
  gys: (Value | undefined)[],
) => (Value | undefined)[];

const intAttr = (n: Node, name: string, dflt: number): number =>
  (n.attrs.get(name)?.value as number | undefined) ?? dflt;
const intsAttr = (n: Node, name: string): number[] | undefined =>
  n.attrs.get(name)?.value as number[] | undefined;

function fail(n: Node, why: string): never {
  throw new GraphError(`grad: node ${n.name} (${n.opType}): ${why}`);
}

/** Wraps a rule for single-output ops: `f(ctx, inputs, gy, output, node)`. */
function single(
  f: (
    c: RuleContext,
    x: Value[],
    gy: Value,
    y: Value,
    n: Node,
  ) => (Value | undefined)[],
): Rule {
  return (c, n, gys) => (gys[0] ? f(c, n.inputs as Value[], gys[0], n.outputs[0], n) : []);
}

/** Only computes gradients for inputs that need one. */
const want = (c: RuleContext, x: Value | undefined, f: () => Value): Value | undefined =>
  x && c.needs(x) ? f() : undefined;

function normAxis(axis: number, rank: number | undefined, n: Node): number {
  if (axis >= 0) return axis;
  if (rank === undefined) fail(n, "negative axis needs a known rank");
  return axis + rank;
}

function matmulGrads(
  c: RuleContext,
  a: Value,
  b: Value,
  gy: Value,
  n: Node,
): (Value | undefined)[] {
  const { op } = c;
  const [ra, rb] = [a.rank, b.rank];
  if (ra === undefined || rb === undefined || ra < 2 || rb < 2) {
    fail(n, "MatMul gradient needs inputs of known rank >= 2");
  }
  if (ra === 2 && rb === 2) {
    return [
      want(c, a, () => op.Gemm(gy, b, undefined, { transB: 1 })),
      want(c, b, () => op.Gemm(a, gy, undefined, { transA: 1 })),
    ];
  }
  const swap = (r: number) => [...Array(r - 2).keys(), r - 1, r - 2];
  const [K, N] = b.shape!;
  if (rb === 2 && typeof K === "number" && typeof N === "number") {
    // A batched left operand times a shared matrix: fold the batch into rows (one Gemm).
    return [
      want(c, a, () => op.MatMul(gy, op.Transpose(b))),
      want(
        c,
        b,
        () => op.Gemm(op.Reshape(a, [-1, K]), op.Reshape(gy, [-1, N]), undefined, { transA: 1 }),
      ),
    ];
  }
  return [
    want(c, a, () => c.unbroadcast(op.MatMul(gy, op.Transpose(b, { perm: swap(rb) })), a)),
    want(c, b, () => c.unbroadcast(op.MatMul(op.Transpose(a, { perm: swap(ra) }), gy), b)),
  ];
}

/**
 * zeros_like(x) with row idx[i] += gy's i-th block, for Gather's gradient (rows may repeat).
 * Uses ScatterElements with reduction "add" over a [rows, width] view: onnxruntime applies it
 * in index order for each column, so repeated rows sum exactly and reproducibly (ScatterND's
 * "add" updates rows from several threads at once and races on repeated rows).
 */
function scatterAddRows(c: RuleContext, x: Value, idx: Value, gy: Value): Value {
  const { op, g } = c;
  const xs = x.shape;
  if (!xs) return op.ScatterND(c.zerosLike(x), op.Unsqueeze(idx, [-1]), gy, { reduction: "add" });
  const rest = xs.slice(1);
  const dims = xs.every((d) => typeof d === "number")
    ? g.constant(
      tensor("int64", [2], [xs[0] as number, (rest as number[]).reduce((a, b) => a * b, 1)]),
    )
    : op.Concat([
      op.Shape(x, { start: 0, end: 1 }),
      rest.length
        ? g.node("ReduceProd", [op.Shape(x, { start: 1 })], { keepdims: 1 })[0]
        : g.constant(tensor("int64", [1], [1])),
    ], { axis: 0 });
  const width = op.Slice(dims, [1], [2]);
  const upd = op.Reshape(
    gy,
    op.Concat([g.constant(tensor("int64", [1], [-1])), width], { axis: 0 }),
  );
  const ind = op.Expand(op.Reshape(idx, [-1, 1]), op.Shape(upd));
  const zeros = op.ConstantOfShape(dims, tensor(x.dtype, [1], [0]));
  return op.Reshape(
    op.ScatterElements(zeros, ind, upd, { axis: 0, reduction: "add" }),
    c.shapeOf(x),
  );
}

export const RULES: Record<string, Rule> = {
  Identity: single((_c, _x, gy) => [gy]),
  Add: single((c, [a, b], gy) => [
    want(c, a, () => c.unbroadcast(gy, a)),
    want(c, b, () => c.unbroadcast(gy, b)),
  ]),
  Sum: (c, n, [gy]) => (gy ? n.inputs.map((x) => want(c, x, () => c.unbroadcast(gy, x!))) : []),
  Sub: single((c, [a, b], gy) => [
    want(c, a, () => c.unbroadcast(gy, a)),
    want(c, b, () => c.unbroadcast(c.op.Neg(gy), b)),
  ]),
  Mul: single((c, [a, b], gy) => [
    want(c, a, () => c.unbroadcast(c.op.Mul(gy, b), a)),
    want(c, b, () => c.unbroadcast(c.op.Mul(gy, a), b)),
  ]),
  Div: single((c, [a, b], gy, y) => [
    want(c, a, () => c.unbroadcast(c.op.Div(gy, b), a)),
    // d(a/b)/db = -y/b
    want(c, b, () => c.unbroadcast(c.op.Neg(c.op.Div(c.op.Mul(gy, y), b)), b)),
  ]),
  Neg: single((c, _x, gy) => [c.op.Neg(gy)]),
  // gy * (y > 0): on onnxruntime CPU, Mul + Cast beat Where with a broadcast scalar.
  Relu: single((c, _x, gy, y) => [c.op.Mul(gy, c.op.Cast(c.op.Greater(y, 0), gy.dtype))]),
  Exp: single((c, _x, gy, y) => [c.op.Mul(gy, y)]),
  Log: single((c, [x], gy) => [c.op.Div(gy, x)]),
  Sqrt: single((c, _x, gy, y) => [c.op.Mul(c.op.Div(gy, y), 0.5)]),
  Reciprocal: single((c, _x, gy, y) => [c.op.Neg(c.op.Mul(gy, c.op.Mul(y, y)))]),
  Abs: single((c, [x], gy) => [c.op.Mul(gy, c.op.Sign(x))]),
  Sin: single((c, [x], gy) => [c.op.Mul(gy, c.op.Cos(x))]),
  Cos: single((c, [x], gy) => [c.op.Neg(c.op.Mul(gy, c.op.Sin(x)))]),
  Tanh: single((c, _x, gy, y) => [c.op.Mul(gy, c.op.Sub(1, c.op.Mul(y, y)))]),
  Sigmoid: single((c, _x, gy, y) => [c.op.Mul(gy, c.op.Mul(y, c.op.Sub(1, y)))]),
  Erf: single((c, [x], gy) => [
    c.op.Mul(gy, c.op.Mul(c.op.Exp(c.op.Neg(c.op.Mul(x, x))), 2 / Math.sqrt(Math.PI))),
  ]),
  Pow: single((c, [x, e], gy, _y, n) => {
    if (c.needs(e)) fail(n, "the gradient with respect to the exponent is not supported");
    const ev = c.constInts(e);
    if (ev && ev.length === 1 && ev[0] === 2) return [c.op.Mul(gy, c.op.Mul(x, 2))];
    const em1 = c.op.Sub(e, c.g.literal(1, e.dtype));
    const d = c.op.Mul(c.op.Pow(x, em1), e.dtype === x.dtype ? e : c.op.Cast(e, x.dtype));
    return [c.unbroadcast(c.op.Mul(gy, d), x)];
  }),
  Softmax: single((c, _x, gy, y, n) => {
    const axis = intAttr(n, "axis", -1);
    const s = c.op.ReduceSum(c.op.Mul(gy, y), [axis], { keepdims: 1 });
    return [c.op.Mul(y, c.op.Sub(gy, s))];
  }),
  LogSoftmax: single((c, _x, gy, y, n) => {
    const axis = intAttr(n, "axis", -1);
    const s = c.op.ReduceSum(gy, [axis], { keepdims: 1 });
    return [c.op.Sub(gy, c.op.Mul(c.op.Exp(y), s))];
  }),
  ReduceSum: single((c, [x, axesV], gy, _y, n) => {
    if (intAttr(n, "keepdims", 1) === 1 || !axesV) return [c.op.Expand(gy, c.shapeOf(x))];
    const axes = c.constInts(axesV);
    if (!axes) fail(n, "keepdims=0 with axes computed in the graph is not differentiable here");
    return [c.op.Expand(c.op.Unsqueeze(gy, axes), c.shapeOf(x))];
  }),
  // d/dx sum(x^2) = 2 x: one broadcast Mul by the (unsqueezed) output gradient.
  ReduceSumSquare: single((c, [x], gy, _y, n) => {
    const axes = intsAttr(n, "axes");
    const g2 = intAttr(n, "keepdims", 1) === 1 || !axes ? gy : c.op.Unsqueeze(gy, axes);
    return [c.op.Mul(x, c.op.Mul(g2, 2))];
  }),
  ReduceMean: single((c, [x], gy, y, n) => {
    const axes = intsAttr(n, "axes");
    const g2 = intAttr(n, "keepdims", 1) === 1 || !axes ? gy : c.op.Unsqueeze(gy, axes);
    const xs = x.shape;
    const ys = y.shape;
    let scale: Value;
    if (xs && ys && [...xs, ...ys].every((d) => typeof d === "number")) {
      const count = (xs as number[]).reduce((p, d) => p * d, 1) /
        (ys as number[]).reduce((p, d) => p * d, 1);
      scale = c.g.literal(1 / count, x.dtype);
    } else {
      scale = c.op.Div(c.op.Cast(c.op.Size(y), x.dtype), c.op.Cast(c.op.Size(x), x.dtype));
    }
    return [c.op.Mul(c.op.Expand(g2, c.shapeOf(x)), scale)];
  }),
  Reshape: single((c, [x], gy) => [c.op.Reshape(gy, c.shapeOf(x))]),
  Flatten: single((c, [x], gy) => [c.op.Reshape(gy, c.shapeOf(x))]),
  Unsqueeze: single((c, [x], gy) => [c.op.Reshape(gy, c.shapeOf(x))]),
  Squeeze: single((c, [x], gy) => [c.op.Reshape(gy, c.shapeOf(x))]),
  Expand: single((c, [x], gy) => [c.unbroadcast(gy, x)]),
  Transpose: single((c, [x], gy, _y, n) => {
    const r = x.rank;
    const perm = intsAttr(n, "perm") ??
      (r === undefined ? fail(n, "unknown rank") : [...Array(r).keys()].reverse());
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [c.op.Transpose(gy, { perm: inv })];
  }),
  Cast: single((c, [x], gy) => [isFloat(x.dtype) ? c.op.Cast(gy, x.dtype) : undefined]),
  MatMul: single((c, [a, b], gy, _y, n) => matmulGrads(c, a, b, gy, n)),
  Gemm: single((c, [a, b, cc], gy, _y, n) => {
    const { op } = c;
    const alpha = n.attrs.get("alpha")?.value as number | undefined ?? 1;
    const beta = n.attrs.get("beta")?.value as number | undefined ?? 1;
    const tA = intAttr(n, "transA", 0);
    const tB = intAttr(n, "transB", 0);
    const at = (transA: number, transB: number) => ({
      transA: transA as 0 | 1,
      transB: transB as 0 | 1,
      ...(alpha !== 1 ? { alpha } : {}),
    });
    // y = alpha op(a) op(b) + beta c
    const ga = want(
      c,
      a,
      () => (tA === 0
        ? op.Gemm(gy, b, undefined, at(0, tB ? 0 : 1))
        : op.Gemm(b, gy, undefined, at(tB, 1))),
    );
    const gb = want(
      c,
      b,
      () => (tB === 0
        ? op.Gemm(a, gy, undefined, at(tA ? 0 : 1, 0))
        : op.Gemm(gy, a, undefined, at(1, tA))),
    );
    const gc = want(c, cc, () => c.unbroadcast(beta === 1 ? gy : op.Mul(gy, beta), cc!));
    return [ga, gb, gc];
  }),
  Concat: (c, n, [gy]) => {
    if (!gy) return [];
    const xs = n.inputs as Value[];
    const axis = normAxis(intAttr(n, "axis", 0), xs[0].rank, n);
    const sizes = xs.map((x) => x.shape?.[axis]);
    const splitV = sizes.every((s) => typeof s === "number")
      ? c.g.literal(sizes as number[], "int64")
      : c.op.Concat(xs.map((x) => c.op.Slice(c.op.Shape(x), [axis], [axis + 1])), { axis: 0 });
    return c.op.Split(gy, splitV, { outputs: xs.length, axis });
  },
  Split: (c, n, gys) => {
    const axis = intAttr(n, "axis", 0);
    const parts = gys.map((gy, i) => gy ?? c.zerosLike(n.outputs[i]));
    return [c.op.Concat(parts, { axis })];
  },
  Slice: single((c, [x, starts, ends, axes, steps], gy) => {
    // Scatter gy into zeros through the same slice of an index map: handles any steps,
    // negative bounds and clamping exactly as the forward did.
    const { op } = c;
    const size = op.Size(x);
    const ids = op.Reshape(
      op.Range(c.g.literal(0, "int64"), op.Reshape(size, []), c.g.literal(1, "int64")),
      c.shapeOf(x),
    );
    const picked = op.Slice(ids, starts, ends, axes, steps);
    const flat = op.ScatterElements(
      op.ConstantOfShape(op.Reshape(size, [1]), tensor(x.dtype, [1], [0])),
      op.Reshape(picked, [-1]),
      op.Reshape(gy, [-1]),
      { axis: 0 },
    );
    return [op.Reshape(flat, c.shapeOf(x))];
  }),
  Gather: single((c, [x, idx], gy, _y, n) => {
    const { op } = c;
    const axis = normAxis(intAttr(n, "axis", 0), x.rank, n);
    const idx64 = idx.dtype === "int64" ? idx : op.Cast(idx, "int64");
    if (axis === 0) return [scatterAddRows(c, x, idx64, gy), undefined];
    const rx = x.rank;
    const ri = idx.rank;
    if (rx === undefined || ri === undefined) fail(n, "Gather on axis > 0 needs known ranks");
    // Move the gathered axis to the front, scatter-add, move it back.
    const xPerm = [axis, ...[...Array(rx).keys()].filter((i) => i !== axis)];
    const gyPerm = [
      ...[...Array(ri).keys()].map((i) => axis + i),
      ...[...Array(axis).keys()],
      ...[...Array(rx - axis - 1).keys()].map((i) => axis + ri + i),
    ];
    const xt = op.Transpose(x, { perm: xPerm });
    const scattered = scatterAddRows(c, xt, idx64, op.Transpose(gy, { perm: gyPerm }));
    const inv = new Array<number>(rx);
    xPerm.forEach((p, i) => (inv[p] = i));
    return [op.Transpose(scattered, { perm: inv }), undefined];
  }),
  GatherElements: single((c, [x, idx], gy, _y, n) => [
    c.op.ScatterElements(c.zerosLike(x), idx, gy, {
      axis: intAttr(n, "axis", 0),
      reduction: "add",
    }),
    undefined,
  ]),
  ScatterElements: single((c, [data, idx, upd], gy, _y, n) => {
    const axis = intAttr(n, "axis", 0);
    const red = (n.attrs.get("reduction")?.value as string | undefined) ?? "none";
    if (red !== "none" && red !== "add") fail(n, `reduction '${red}' is not differentiable here`);
    return [
      want(
        c,
        data,
        () => (red === "add" ? gy : c.op.ScatterElements(gy, idx, c.zerosLike(upd), { axis })),
      ),
      undefined,
      want(c, upd, () => c.op.GatherElements(gy, idx, { axis })),
    ];
  }),
  Where: single((c, [cond, a, b], gy) => [
    undefined,
    want(c, a, () => c.unbroadcast(c.op.Where(cond, gy, 0), a)),
    want(c, b, () => c.unbroadcast(c.op.Where(cond, 0, gy), b)),
  ]),
  TopK: (c, n, [gv]) => {
    if (!gv) return [];
    const x = n.inputs[0]!;
    const axis = intAttr(n, "axis", -1);
    return [c.op.ScatterElements(c.zerosLike(x), n.outputs[1], gv, { axis }), undefined];
  },
};
