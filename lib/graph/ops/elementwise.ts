/**
 * Elementwise ops: arithmetic (numpy broadcasting; the autodiff sums the gradients back to each
 * input's shape), unary math, comparisons and logic.
 */
import type { Operand, Value } from "../builder.ts";
import {
  binaryW,
  def,
  fail,
  type GradOut,
  type OpDef,
  sameShape,
  single,
  unaryW,
  variadicW,
} from "./def.ts";
import { broadcastRule } from "../shapes.ts";

type G = GradOut[];

const binary = { inputs: ["T", "T"], outputs: ["T"], wrap: binaryW, shape: broadcastRule };
const unary = { inputs: ["T"], outputs: ["T"], wrap: unaryW, shape: sameShape };
const compare = { inputs: ["T", "T"], outputs: ["bool"], wrap: binaryW, shape: broadcastRule };
const variadic = { inputs: ["T..."], outputs: ["T"], wrap: variadicW, shape: broadcastRule };
const ALL = "all" as const;

export const ELEMENTWISE = {
  Add: def({ ...binary, unbroadcast: ALL, grad: single((_c, _x, gy): G => [() => gy, () => gy]) }),
  Sub: def({
    ...binary,
    unbroadcast: ALL,
    grad: single((c, _x, gy): G => [() => gy, () => c.op.Neg(gy)]),
  }),
  Mul: def({
    ...binary,
    unbroadcast: ALL,
    grad: single((c, [a, b], gy): G => [() => c.op.Mul(gy, b), () => c.op.Mul(gy, a)]),
  }),
  Div: def({
    ...binary,
    unbroadcast: ALL,
    // d(a/b)/db = -y/b
    grad: single((c, [_a, b], gy, y): G => [
      () => c.op.Div(gy, b),
      () => c.op.Neg(c.op.Div(c.op.Mul(gy, y), b)),
    ]),
  }),
  Pow: def({
    ...binary,
    inputs: ["T", "U"],
    unbroadcast: ALL,
    grad: single((c, [x, e], gy, _y, n): G => {
      if (c.needs(e)) fail(n, "the gradient with respect to the exponent is not supported");
      const ev = c.constInts(e);
      if (ev && ev.length === 1 && ev[0] === 2) return [c.op.Mul(gy, c.op.Mul(x, 2))];
      const em1 = c.op.Sub(e, c.g.literal(1, e.dtype));
      const d = c.op.Mul(c.op.Pow(x, em1), e.dtype === x.dtype ? e : c.op.Cast(e, x.dtype));
      return [c.op.Mul(gy, d)];
    }),
  }),
  Mod: def({
    ...binary,
    attrs: { fmod: "int" },
    wrap: (e) => (a: Operand, b: Operand, { fmod = 0 }: { fmod?: 0 | 1 } = {}): Value =>
      e([a, b], { fmod })[0],
    noGrad: "piecewise; no rule yet",
  }),
  Max: def({ ...variadic, noGrad: "no rule yet (a subgradient at ties)" }),
  Min: def({ ...variadic, noGrad: "no rule yet (a subgradient at ties)" }),
  Sum: def({
    ...variadic,
    unbroadcast: ALL,
    grad: (_c, n, [gy]): G => (gy ? n.inputs.map(() => () => gy) : []),
  }),
  Neg: def({ ...unary, grad: single((c, _x, gy): G => [c.op.Neg(gy)]) }),
  Abs: def({ ...unary, grad: single((c, [x], gy): G => [c.op.Mul(gy, c.op.Sign(x))]) }),
  Sign: def({ ...unary, noGrad: "zero almost everywhere; no rule" }),
  Relu: def({
    ...unary,
    // gy * (y > 0): on onnxruntime CPU, Mul + Cast beat Where with a broadcast scalar.
    grad: single((c, _x, gy, y): G => [c.op.Mul(gy, c.op.Cast(c.op.Greater(y, 0), gy.dtype))]),
  }),
  Exp: def({ ...unary, grad: single((c, _x, gy, y): G => [c.op.Mul(gy, y)]) }),
  Log: def({ ...unary, grad: single((c, [x], gy): G => [c.op.Div(gy, x)]) }),
  Sqrt: def({ ...unary, grad: single((c, _x, gy, y): G => [c.op.Mul(c.op.Div(gy, y), 0.5)]) }),
  Reciprocal: def({
    ...unary,
    grad: single((c, _x, gy, y): G => [c.op.Neg(c.op.Mul(gy, c.op.Mul(y, y)))]),
  }),
  Tanh: def({
    ...unary,
    grad: single((c, _x, gy, y): G => [c.op.Mul(gy, c.op.Sub(1, c.op.Mul(y, y)))]),
  }),
  Sigmoid: def({
    ...unary,
    grad: single((c, _x, gy, y): G => [c.op.Mul(gy, c.op.Mul(y, c.op.Sub(1, y)))]),
  }),
  Erf: def({
    ...unary,
    grad: single((c, [x], gy): G => [
      c.op.Mul(gy, c.op.Mul(c.op.Exp(c.op.Neg(c.op.Mul(x, x))), 2 / Math.sqrt(Math.PI))),
    ]),
  }),
  Sin: def({ ...unary, grad: single((c, [x], gy): G => [c.op.Mul(gy, c.op.Cos(x))]) }),
  Cos: def({ ...unary, grad: single((c, [x], gy): G => [c.op.Neg(c.op.Mul(gy, c.op.Sin(x)))]) }),
  Floor: def({ ...unary, noGrad: "zero almost everywhere; no rule" }),
  Ceil: def({ ...unary, noGrad: "zero almost everywhere; no rule" }),
  Identity: def({ ...unary, grad: single((_c, _x, gy): G => [gy]) }),
  Clip: def({
    inputs: ["T", "T?", "T?"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, min?: Operand, max?: Operand): Value => e([x, min, max])[0],
    shape: sameShape,
    noGrad: "no rule yet",
  }),
  IsNaN: def({ ...unary, outputs: ["bool"] }),
  Not: def({ ...unary, inputs: ["bool"], outputs: ["bool"] }),
  And: def({ ...compare, inputs: ["bool", "bool"] }),
  Or: def({ ...compare, inputs: ["bool", "bool"] }),
  Greater: def(compare),
  Less: def(compare),
  GreaterOrEqual: def(compare),
  LessOrEqual: def(compare),
  Equal: def(compare),
  Where: def({
    inputs: ["bool", "T", "T"],
    outputs: ["T"],
    wrap: (e) => (cond: Operand, a: Operand, b: Operand): Value => e([cond, a, b])[0],
    shape: broadcastRule,
    unbroadcast: ALL,
    grad: single((c, [cond], gy): G => [
      undefined,
      () => c.op.Where(cond, gy, 0),
      () => c.op.Where(cond, 0, gy),
    ]),
  }),
} satisfies Record<string, OpDef>;
