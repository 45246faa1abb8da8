/** Op groups the CUDA audit (lib/cuda/audit.ts) treats alike. */

/** Ops that only move or reshape data (float64 there costs bandwidth, not FP64 arithmetic). */
// deno-fmt-ignore
export const MOVEMENT: ReadonlySet<string> = new Set([
  "Identity", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Flatten", "Concat", "Split",
  "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Shape", "Size", "Cast",
  "Loop", "If", "ConstantOfShape", "Where", "ScatterElements", "ScatterND",
]);

/**
 * Ops whose output has at most the product of its inputs' element counts (elementwise with
 * broadcasting, reshapes, gathers, slices): bounds the size of per-step scalar arithmetic.
 */
// deno-fmt-ignore
export const SIZE_BOUNDED: ReadonlySet<string> = new Set([
  "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Neg", "Abs", "Sign", "Relu",
  "Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Sigmoid", "Erf", "Sin", "Cos", "Floor", "Ceil",
  "Identity", "Clip", "Cast", "CastLike", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Where",
  "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal", "Not", "And", "Or", "IsNaN",
  "Gather", "GatherElements", "Slice",
]);
