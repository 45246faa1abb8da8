/**
 * The ops the builder knows: their inputs' type variables, their outputs' types and their
 * attributes' types. This is what lets the builder infer output dtypes, report dtype clashes
 * and wrong attribute types at build time (naming the node), and tag float attributes
 * correctly (JS cannot tell 1.0 from 1).
 */

export type AttrType = "float" | "int" | "string" | "floats" | "ints" | "tensor" | "graph";

/**
 * An input slot: a type variable ("T", "U", "I") that must agree across slots, a fixed
 * dtype, or "*" (any dtype, unconstrained). Suffix "?" = optional, "..." = variadic (one or more).
 */
export type InSlot = string;
/** An output slot: a type variable, a fixed dtype, or "attr:NAME" (dtype from an attribute). */
export type OutSlot = string;

export interface OpSchema {
  inputs: InSlot[];
  outputs: OutSlot[];
  attrs: Record<string, AttrType>;
  /** Type variables restricted to floats. */
  floatOnly?: string[];
}

const unary = (extra: Record<string, AttrType> = {}): OpSchema => ({
  inputs: ["T"],
  outputs: ["T"],
  attrs: extra,
});
const binary: OpSchema = { inputs: ["T", "T"], outputs: ["T"], attrs: {} };
const compare: OpSchema = { inputs: ["T", "T"], outputs: ["bool"], attrs: {} };
const reduceAttrAxes: OpSchema = {
  inputs: ["T"],
  outputs: ["T"],
  attrs: { axes: "ints", keepdims: "int" },
};
const random = (ps: string[]): OpSchema => ({
  inputs: [],
  outputs: ["attr:dtype"],
  attrs: Object.fromEntries([
    ["dtype", "int"],
    ["seed", "float"],
    ["shape", "ints"],
    ...ps.map((p) => [p, "float"]),
  ]),
});

export const SCHEMAS: Record<string, OpSchema> = {
  Add: binary,
  Sub: binary,
  Mul: binary,
  Div: binary,
  Mod: { inputs: ["T", "T"], outputs: ["T"], attrs: { fmod: "int" } },
  Pow: { inputs: ["T", "U"], outputs: ["T"], attrs: {} },
  Max: { inputs: ["T..."], outputs: ["T"], attrs: {} },
  Min: { inputs: ["T..."], outputs: ["T"], attrs: {} },
  Sum: { inputs: ["T..."], outputs: ["T"], attrs: {} },
  Neg: unary(),
  Abs: unary(),
  Sign: unary(),
  Relu: unary(),
  Exp: unary(),
  Log: unary(),
  Sqrt: unary(),
  Reciprocal: unary(),
  Tanh: unary(),
  Sigmoid: unary(),
  Erf: unary(),
  Sin: unary(),
  Cos: unary(),
  Floor: unary(),
  Ceil: unary(),
  Identity: unary(),
  IsNaN: { inputs: ["T"], outputs: ["bool"], attrs: {} },
  Not: { inputs: ["bool"], outputs: ["bool"], attrs: {} },
  And: { inputs: ["bool", "bool"], outputs: ["bool"], attrs: {} },
  Or: { inputs: ["bool", "bool"], outputs: ["bool"], attrs: {} },
  Greater: compare,
  Less: compare,
  GreaterOrEqual: compare,
  LessOrEqual: compare,
  Equal: compare,
  Clip: { inputs: ["T", "T?", "T?"], outputs: ["T"], attrs: {} },
  MatMul: binary,
  Gemm: {
    inputs: ["T", "T", "T?"],
    outputs: ["T"],
    attrs: { alpha: "float", beta: "float", transA: "int", transB: "int" },
  },
  Einsum: { inputs: ["T..."], outputs: ["T"], attrs: { equation: "string" } },
  Softmax: unary({ axis: "int" }),
  LogSoftmax: unary({ axis: "int" }),
  ReduceSum: {
    inputs: ["T", "int64?"],
    outputs: ["T"],
    attrs: { keepdims: "int", noop_with_empty_axes: "int" },
  },
  ReduceMean: reduceAttrAxes,
  ReduceMax: reduceAttrAxes,
  ReduceMin: reduceAttrAxes,
  ReduceProd: reduceAttrAxes,
  ReduceSumSquare: reduceAttrAxes,
  ArgMax: {
    inputs: ["T"],
    outputs: ["int64"],
    attrs: { axis: "int", keepdims: "int", select_last_index: "int" },
  },
  ArgMin: {
    inputs: ["T"],
    outputs: ["int64"],
    attrs: { axis: "int", keepdims: "int", select_last_index: "int" },
  },
  CumSum: { inputs: ["T", "I"], outputs: ["T"], attrs: { exclusive: "int", reverse: "int" } },
  Reshape: { inputs: ["T", "int64"], outputs: ["T"], attrs: { allowzero: "int" } },
  Transpose: unary({ perm: "ints" }),
  Unsqueeze: { inputs: ["T", "int64"], outputs: ["T"], attrs: {} },
  Squeeze: { inputs: ["T", "int64?"], outputs: ["T"], attrs: {} },
  Flatten: unary({ axis: "int" }),
  Concat: { inputs: ["T..."], outputs: ["T"], attrs: { axis: "int" } },
  Split: { inputs: ["T", "int64?"], outputs: ["T..."], attrs: { axis: "int" } },
  Slice: { inputs: ["T", "I", "I", "I?", "I?"], outputs: ["T"], attrs: {} },
  Gather: { inputs: ["T", "I"], outputs: ["T"], attrs: { axis: "int" } },
  GatherElements: { inputs: ["T", "I"], outputs: ["T"], attrs: { axis: "int" } },
  GatherND: { inputs: ["T", "int64"], outputs: ["T"], attrs: { batch_dims: "int" } },
  ScatterElements: {
    inputs: ["T", "I", "T"],
    outputs: ["T"],
    attrs: { axis: "int", reduction: "string" },
  },
  ScatterND: { inputs: ["T", "int64", "T"], outputs: ["T"], attrs: { reduction: "string" } },
  Expand: { inputs: ["T", "int64"], outputs: ["T"], attrs: {} },
  Tile: { inputs: ["T", "int64"], outputs: ["T"], attrs: {} },
  Where: { inputs: ["bool", "T", "T"], outputs: ["T"], attrs: {} },
  TopK: {
    inputs: ["T", "int64"],
    outputs: ["T", "int64"],
    attrs: { axis: "int", largest: "int", sorted: "int" },
  },
  Cast: { inputs: ["T"], outputs: ["attr:to"], attrs: { to: "int" } },
  CastLike: { inputs: ["T", "U"], outputs: ["U"], attrs: {} },
  Shape: { inputs: ["T"], outputs: ["int64"], attrs: { start: "int", end: "int" } },
  Size: { inputs: ["T"], outputs: ["int64"], attrs: {} },
  NonZero: { inputs: ["T"], outputs: ["int64"], attrs: {} },
  Range: { inputs: ["T", "T", "T"], outputs: ["T"], attrs: {} },
  OneHot: { inputs: ["I", "J", "T"], outputs: ["T"], attrs: { axis: "int" } },
  Constant: { inputs: [], outputs: ["attr:value"], attrs: { value: "tensor" } },
  ConstantOfShape: { inputs: ["int64"], outputs: ["attr:value"], attrs: { value: "tensor" } },
  RandomNormal: random(["mean", "scale"]),
  RandomUniform: random(["low", "high"]),
  Loop: { inputs: ["int64?", "bool?", "*..."], outputs: ["graph"], attrs: { body: "graph" } },
  If: {
    inputs: ["bool"],
    outputs: ["graph"],
    attrs: { then_branch: "graph", else_branch: "graph" },
  },
};
