/**
 * The `op` namespace: one typed function per ONNX op, in the style of onnxscript's
 * `op.MatMul(a, b)`. Literal operands become named constants of the matching dtype.
 */
import type { Graph, Operand, Value } from "./builder.ts";
import { type DType, ONNX_DTYPE } from "./dtype.ts";
import type { HostTensor } from "./tensor.ts";

type V = Value;
type O = Operand;
type Axis = { axis?: number };
type KeepDims = { keepdims?: 0 | 1 };
type Reduce = { axes?: readonly number[] } & KeepDims;
type Reduction = { reduction?: "none" | "add" | "mul" };

// deno-lint-ignore explicit-function-return-type
export function makeOps(g: Graph) {
  const one = (op: string, ins: (O | undefined)[], attrs: Record<string, unknown> = {}) =>
    g.node(op, ins, attrs as never)[0];
  const un = (op: string) => (x: O): V => one(op, [x]);
  const bin = (op: string) => (a: O, b: O): V => one(op, [a, b]);
  return {
    Add: bin("Add"),
    Sub: bin("Sub"),
    Mul: bin("Mul"),
    Div: bin("Div"),
    Pow: bin("Pow"),
    Mod: (a: O, b: O, { fmod = 0 }: { fmod?: 0 | 1 } = {}): V => one("Mod", [a, b], { fmod }),
    Max: (...xs: O[]): V => one("Max", xs),
    Min: (...xs: O[]): V => one("Min", xs),
    Sum: (...xs: O[]): V => one("Sum", xs),
    Neg: un("Neg"),
    Abs: un("Abs"),
    Sign: un("Sign"),
    Relu: un("Relu"),
    Exp: un("Exp"),
    Log: un("Log"),
    Sqrt: un("Sqrt"),
    Reciprocal: un("Reciprocal"),
    Tanh: un("Tanh"),
    Sigmoid: un("Sigmoid"),
    Erf: un("Erf"),
    Sin: un("Sin"),
    Cos: un("Cos"),
    Floor: un("Floor"),
    Ceil: un("Ceil"),
    Identity: un("Identity"),
    IsNaN: un("IsNaN"),
    Not: un("Not"),
    And: bin("And"),
    Or: bin("Or"),
    Greater: bin("Greater"),
    Less: bin("Less"),
    GreaterOrEqual: bin("GreaterOrEqual"),
    LessOrEqual: bin("LessOrEqual"),
    Equal: bin("Equal"),
    Clip: (x: O, min?: O, max?: O): V => one("Clip", [x, min, max]),
    MatMul: bin("MatMul"),
    Gemm: (
      a: O,
      b: O,
      c?: O,
      at: { alpha?: number; beta?: number; transA?: 0 | 1; transB?: 0 | 1 } = {},
    ): V => one("Gemm", [a, b, c], at),
    Einsum: (equation: string, ...xs: O[]): V => one("Einsum", xs, { equation }),
    Softmax: (x: O, { axis = -1 }: Axis = {}): V => one("Softmax", [x], { axis }),
    LogSoftmax: (x: O, { axis = -1 }: Axis = {}): V => one("LogSoftmax", [x], { axis }),
    /** ReduceSum with axes as an input (opset 13+); no axes = all. */
    ReduceSum: (x: O, axes?: readonly number[] | V, { keepdims = 1 }: KeepDims = {}): V =>
      one("ReduceSum", axes === undefined ? [x] : [x, axes as O], { keepdims }),
    ReduceMean: (x: O, { axes, keepdims = 1 }: Reduce = {}): V =>
      one("ReduceMean", [x], { axes, keepdims }),
    ReduceMax: (x: O, { axes, keepdims = 1 }: Reduce = {}): V =>
      one("ReduceMax", [x], { axes, keepdims }),
    ReduceMin: (x: O, { axes, keepdims = 1 }: Reduce = {}): V =>
      one("ReduceMin", [x], { axes, keepdims }),
    ReduceSumSquare: (x: O, { axes, keepdims = 1 }: Reduce = {}): V =>
      one("ReduceSumSquare", [x], { axes, keepdims }),
    ArgMax: (x: O, { axis = 0, keepdims = 1 }: Axis & KeepDims = {}): V =>
      one("ArgMax", [x], { axis, keepdims }),
    CumSum: (x: O, axis: O, at: { exclusive?: 0 | 1; reverse?: 0 | 1 } = {}): V =>
      one("CumSum", [x, axis], at),
    Reshape: (x: O, shape: O): V => one("Reshape", [x, shape]),
    Transpose: (x: O, { perm }: { perm?: readonly number[] } = {}): V =>
      one("Transpose", [x], { perm: perm && [...perm] }),
    Unsqueeze: (x: O, axes: O): V => one("Unsqueeze", [x, axes]),
    Squeeze: (x: O, axes?: O): V => one("Squeeze", axes === undefined ? [x] : [x, axes]),
    Flatten: (x: O, { axis = 1 }: Axis = {}): V => one("Flatten", [x], { axis }),
    Concat: (xs: O[], { axis }: { axis: number }): V => one("Concat", xs, { axis }),
    /** Splits into `outputs` parts along `axis`, of the sizes in `split` (equal when omitted). */
    Split: (x: O, split: O | undefined, { outputs, axis = 0 }: { outputs: number } & Axis): V[] =>
      g.node("Split", split === undefined ? [x] : [x, split], { axis }, { outputs }),
    Slice: (x: O, starts: O, ends: O, axes?: O, steps?: O): V =>
      one(
        "Slice",
        steps !== undefined
          ? [x, starts, ends, axes, steps]
          : axes !== undefined
          ? [x, starts, ends, axes]
          : [x, starts, ends],
      ),
    Gather: (x: O, idx: O, { axis = 0 }: Axis = {}): V => one("Gather", [x, idx], { axis }),
    GatherElements: (x: O, idx: O, { axis = 0 }: Axis = {}): V =>
      one("GatherElements", [x, idx], { axis }),
    GatherND: (x: O, idx: O, { batch_dims = 0 }: { batch_dims?: number } = {}): V =>
      one("GatherND", [x, idx], { batch_dims }),
    ScatterElements: (x: O, idx: O, upd: O, { axis = 0, reduction }: Axis & Reduction = {}): V =>
      one("ScatterElements", [x, idx, upd], { axis, reduction }),
    ScatterND: (x: O, idx: O, upd: O, { reduction }: Reduction = {}): V =>
      one("ScatterND", [x, idx, upd], { reduction }),
    Expand: (x: O, shape: O): V => one("Expand", [x, shape]),
    Tile: (x: O, repeats: O): V => one("Tile", [x, repeats]),
    Where: (c: O, a: O, b: O): V => one("Where", [c, a, b]),
    /** Returns [values, indices]; ties keep the lower index first. */
    TopK: (
      x: O,
      k: O,
      { axis = -1, largest = 1, sorted = 1 }: Axis & { largest?: 0 | 1; sorted?: 0 | 1 } = {},
    ): [V, V] =>
      g.node("TopK", [x, typeof k === "number" ? [k] : k], { axis, largest, sorted }) as [V, V],
    Cast: (x: O, to: DType): V => one("Cast", [x], { to: ONNX_DTYPE[to] }),
    CastLike: bin("CastLike"),
    Shape: (x: O, { start, end }: { start?: number; end?: number } = {}): V =>
      one("Shape", [x], { start, end }),
    Size: un("Size"),
    NonZero: un("NonZero"),
    Range: (start: O, limit: O, delta: O): V => one("Range", [start, limit, delta]),
    OneHot: (idx: O, depth: O, values: O, { axis = -1 }: Axis = {}): V =>
      one("OneHot", [idx, depth, values], { axis }),
    Constant: (t: HostTensor): V => one("Constant", [], { value: t }),
    ConstantOfShape: (shape: O, value?: HostTensor): V =>
      one("ConstantOfShape", [shape], { value }),
    RandomNormal: (
      shape: number[],
      at: { dtype?: DType; mean?: number; scale?: number; seed?: number } = {},
    ): V =>
      one("RandomNormal", [], {
        shape,
        dtype: ONNX_DTYPE[at.dtype ?? "float32"],
        mean: at.mean,
        scale: at.scale,
        seed: at.seed,
      }),
    RandomUniform: (
      shape: number[],
      at: { dtype?: DType; low?: number; high?: number; seed?: number } = {},
    ): V =>
      one("RandomUniform", [], {
        shape,
        dtype: ONNX_DTYPE[at.dtype ?? "float32"],
        low: at.low,
        high: at.high,
        seed: at.seed,
      }),
  };
}

export type Ops = ReturnType<typeof makeOps>;
