/** Reductions and normalizations: Reduce*, ArgMax/ArgMin, Softmax, LogSoftmax, CumSum. */
import type { Operand, Value } from "../builder.ts";
import {
  def,
  type Emit,
  fail,
  type GradOut,
  intAttr,
  intsAttr,
  type OpDef,
  sameShape,
  type ShapeRule,
  single,
} from "./def.ts";
import { constInts, int, ints, norm } from "../shapes.ts";

type G = GradOut[];

type Axis = { axis?: number };
type KeepDims = { keepdims?: 0 | 1 };
type Reduce = { axes?: readonly number[] } & KeepDims;

const reduceShape: ShapeRule = ({ g, s0, ins, attrs }) => {
  if (!s0) return [undefined];
  // ReduceSum takes its axes as an input, the others as an attribute (opset 17).
  const axes = ins[1] ? constInts(g, ins[1]) : ints(attrs.get("axes"));
  if (ins[1] && !axes) return [undefined];
  const keep = int(attrs.get("keepdims"), 1);
  const all = axes === undefined || axes.length === 0;
  if (all && int(attrs.get("noop_with_empty_axes"), 0)) return [s0];
  const set = new Set(all ? s0.map((_, i) => i) : axes!.map((a) => norm(a, s0.length)));
  return [keep ? s0.map((d, i) => (set.has(i) ? 1 : d)) : s0.filter((_, i) => !set.has(i))];
};

const argShape: ShapeRule = ({ s0, attrs }) => {
  if (!s0) return [undefined];
  const ax = norm(int(attrs.get("axis"), 0), s0.length);
  return [
    int(attrs.get("keepdims"), 1)
      ? s0.map((d, i) => (i === ax ? 1 : d))
      : s0.filter((_, i) => i !== ax),
  ];
};

/** A Reduce* op with axes as an attribute (opset 17). */
const reduceAttr = (noGrad?: string) =>
  def({
    inputs: ["T"],
    outputs: ["T"],
    attrs: { axes: "ints", keepdims: "int" },
    wrap: (e) => (x: Operand, { axes, keepdims = 1 }: Reduce = {}): Value =>
      e([x], { axes, keepdims })[0],
    shape: reduceShape,
    noGrad,
  });

const arg = () =>
  def({
    inputs: ["T"],
    outputs: ["int64"],
    attrs: { axis: "int", keepdims: "int", select_last_index: "int" },
    wrap: (e) => (x: Operand, { axis = 0, keepdims = 1 }: Axis & KeepDims = {}): Value =>
      e([x], { axis, keepdims })[0],
    shape: argShape,
  });

const softmaxLike = {
  inputs: ["T"],
  outputs: ["T"],
  attrs: { axis: "int" as const },
  wrap: (e: Emit) => (x: Operand, { axis = -1 }: Axis = {}): Value => e([x], { axis })[0],
  shape: sameShape,
};

export const REDUCE = {
  Softmax: def({
    ...softmaxLike,
    grad: single((c, _x, gy, y, n): G => {
      const axis = intAttr(n, "axis", -1);
      const s = c.op.ReduceSum(c.op.Mul(gy, y), [axis], { keepdims: 1 });
      return [c.op.Mul(y, c.op.Sub(gy, s))];
    }),
  }),
  LogSoftmax: def({
    ...softmaxLike,
    grad: single((c, _x, gy, y, n): G => {
      const axis = intAttr(n, "axis", -1);
      const s = c.op.ReduceSum(gy, [axis], { keepdims: 1 });
      return [c.op.Sub(gy, c.op.Mul(c.op.Exp(y), s))];
    }),
  }),
  ReduceSum: def({
    inputs: ["T", "int64?"],
    outputs: ["T"],
    attrs: { keepdims: "int", noop_with_empty_axes: "int" },
    /** ReduceSum with axes as an input (opset 13+); no axes = all. */
    wrap: (e) =>
    (
      x: Operand,
      axes?: readonly number[] | Value,
      { keepdims = 1, noop_with_empty_axes }: KeepDims & { noop_with_empty_axes?: 0 | 1 } = {},
    ): Value =>
      e(axes === undefined ? [x] : [x, axes as Operand], { keepdims, noop_with_empty_axes })[0],
    shape: reduceShape,
    grad: single((c, [x, axesV], gy, _y, n): G => {
      if (intAttr(n, "keepdims", 1) === 1 || !axesV) return [c.op.Expand(gy, c.shapeOf(x))];
      const axes = c.constInts(axesV);
      if (!axes) fail(n, "keepdims=0 with axes computed in the graph is not differentiable here");
      return [c.op.Expand(c.op.Unsqueeze(gy, axes), c.shapeOf(x))];
    }),
  }),
  ReduceMean: def({
    ...reduceAttr(),
    grad: single((c, [x], gy, y, n): G => {
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
  }),
  // d/dx sum(x^2) = 2 x: one broadcast Mul by the (unsqueezed) output gradient.
  ReduceSumSquare: def({
    ...reduceAttr(),
    grad: single((c, [x], gy, _y, n): G => {
      const axes = intsAttr(n, "axes");
      const g2 = intAttr(n, "keepdims", 1) === 1 || !axes ? gy : c.op.Unsqueeze(gy, axes);
      return [c.op.Mul(x, c.op.Mul(g2, 2))];
    }),
  }),
  ReduceMax: reduceAttr("no rule yet (a subgradient at ties)"),
  ReduceMin: reduceAttr("no rule yet (a subgradient at ties)"),
  ReduceProd: reduceAttr("no rule yet"),
  ArgMax: arg(),
  ArgMin: arg(),
  CumSum: def({
    inputs: ["T", "I"],
    outputs: ["T"],
    attrs: { exclusive: "int", reverse: "int" },
    wrap:
      (e) => (x: Operand, axis: Operand, at: { exclusive?: 0 | 1; reverse?: 0 | 1 } = {}): Value =>
        e([x, axis], at)[0],
    shape: sameShape,
    noGrad: "no rule yet",
  }),
} satisfies Record<string, OpDef>;
