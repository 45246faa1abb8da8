/**
 * onnxruntime 1.30's CUDA execution provider kernels for the ops this toolkit emits: one entry per
 * op (domain ai.onnx) with its ONNX signature and the CUDA registration that serves the op's
 * schema version at opset <= 17 (the toolkit's models import opset 17).
 *
 * Sources (facts, not code):
 * - CUDA registrations: microsoft/onnxruntime docs/OperatorKernels.md, section "Operators
 *   implemented by CUDAExecutionProvider" (generated from the registered kernels by
 *   tools/python/gen_opkernel_doc.py), read at commit 001d12d2623f: the newest snapshot this
 *   project could read (its Cast registrations reach opset 25, so it is no older than the 1.2x
 *   releases that added them); not checked against the v1.30.0 tag itself. Kernel lookup and
 *   CPU placement: onnxruntime/core/providers/cuda/cuda_execution_provider.cc (GetCapability)
 *   and onnxruntime/core/framework/fallback_cpu_capability.cc (GetCpuPreferredNodes).
 * - Host-memory arguments: the kernels' InputMemoryType/OutputMemoryType declarations in
 *   onnxruntime/core/providers/cuda/** (e.g. math/clip.cc, math/cumsum.cc, tensor/onehot.cc,
 *   controlflow/loop.cc, tensor/slice.cc).
 * - Signatures and schema versions: the ONNX operator schemas (onnx.defs, opset <= 17).
 *
 * The kernels known to be nondeterministic, or wrong for some dtypes, are in lib/cuda/hazards.ts.
 *
 * Type sets are restricted to the toolkit's element types (lib/graph/dtype.ts: float32, float64,
 * int32, int64, uint64, bool); the registrations also cover float16, bfloat16 and smaller ints.
 */
import {
  ALL,
  argReduce,
  arith,
  B,
  compare,
  D,
  F,
  FLOAT,
  I32,
  I64,
  IND,
  k,
  logical,
  movement,
  NUM,
  type OpEntry,
  reduce17,
  U64,
  unaryFloat,
} from "./kernel_entry.ts";

export type { OpEntry, Placement, Registration } from "./kernel_entry.ts";
export { schemaVersion } from "./kernel_entry.ts";

/** The CUDA EP's view of every op the graph builder can emit. */
export const CUDA_OPS: Readonly<Record<string, OpEntry>> = {
  Add: arith([1, 6, 7, 13, 14], 14),
  Sub: arith([1, 6, 7, 13, 14], 14),
  Mul: arith([1, 6, 7, 13, 14], 14),
  Div: arith([1, 6, 7, 13, 14], 14),
  Mod: arith([10, 13], 13),
  Pow: {
    versions: [1, 7, 12, 13, 15],
    inputs: ["T", "T1"],
    outputs: ["T"],
    placement: k(15, undefined, { T: [D, F, I32, I64], T1: [D, F, I32, I64] }),
  },
  Max: { ...arith([1, 6, 8, 12, 13], 13), inputs: ["T..."] },
  Min: { ...arith([1, 6, 8, 12, 13], 13), inputs: ["T..."] },
  // Floats only: an integer Sum has no CUDA kernel.
  Sum: { ...arith([1, 6, 8, 13], 13, FLOAT), inputs: ["T..."] },
  Neg: {
    versions: [1, 6, 13],
    inputs: ["T"],
    outputs: ["T"],
    placement: k(13, undefined, { T: [D, F, I32, I64] }),
  },
  Abs: {
    versions: [1, 6, 13],
    inputs: ["T"],
    outputs: ["T"],
    placement: k(13, undefined, { T: NUM }),
  },
  Sign: {
    versions: [9, 13],
    inputs: ["T"],
    outputs: ["T"],
    placement: k(13, undefined, { T: NUM }),
  },
  Relu: unaryFloat([1, 6, 13, 14], 14),
  Exp: unaryFloat([1, 6, 13], 13),
  Log: unaryFloat([1, 6, 13], 13),
  Sqrt: unaryFloat([1, 6, 13], 13),
  Reciprocal: unaryFloat([1, 6, 13], 13),
  Tanh: unaryFloat([1, 6, 13], 13),
  Sigmoid: unaryFloat([1, 6, 13], 13),
  Erf: unaryFloat([9, 13], 13),
  Sin: unaryFloat([7], 7),
  Cos: unaryFloat([7], 7),
  Floor: unaryFloat([1, 6, 13], 13),
  Ceil: unaryFloat([1, 6, 13], 13),
  Identity: {
    versions: [1, 13, 14, 16],
    inputs: ["V"],
    outputs: ["V"],
    placement: k(14, 18, { V: ALL }),
  },
  IsNaN: {
    versions: [9, 13],
    inputs: ["T1"],
    outputs: ["T2"],
    placement: k(13, 19, { T1: FLOAT, T2: [B] }),
  },
  Not: { versions: [1], inputs: ["T"], outputs: ["T"], placement: k(1, undefined, { T: [B] }) },
  And: logical([1, 7]),
  Or: logical([1, 7]),
  Greater: compare([1, 7, 9, 13], 13),
  Less: compare([1, 7, 9, 13], 13),
  GreaterOrEqual: compare([12, 16], 16),
  LessOrEqual: compare([12, 16], 16),
  Equal: {
    versions: [1, 7, 11, 13],
    inputs: ["T", "T"],
    outputs: ["T1"],
    placement: k(13, undefined, { T: [B, ...NUM], T1: [B] }),
  },
  // No int32 (float, double, int8, uint8, int64, uint64, float16).
  Clip: {
    versions: [1, 6, 11, 12, 13],
    inputs: ["T", "T?", "T?"],
    outputs: ["T"],
    placement: k(13, undefined, { T: [D, F, I64, U64] }),
    hostInputs: [1, 2],
  },
  MatMul: { ...arith([1, 9, 13], 13, FLOAT) },
  Gemm: {
    versions: [1, 6, 7, 9, 11, 13],
    inputs: ["T", "T", "T?"],
    outputs: ["T"],
    placement: k(13, undefined, { T: FLOAT }),
  },
  Einsum: { ...arith([12], 12, FLOAT), inputs: ["T..."] },
  Softmax: unaryFloat([1, 11, 13], 13),
  LogSoftmax: unaryFloat([1, 11, 13], 13),
  ReduceSum: {
    versions: [1, 11, 13],
    inputs: ["T", "int64?"],
    outputs: ["T"],
    placement: k(13, undefined, { T: [D, F, I32, I64] }),
    hostInputs: [1],
  },
  ReduceMean: reduce17([1, 11, 13], [D, F, I32]),
  ReduceMax: reduce17([1, 11, 12, 13], [D, F, I32, I64]),
  ReduceMin: reduce17([1, 11, 12, 13], [D, F, I32, I64]),
  ReduceProd: reduce17([1, 11, 13], [D, F, I32]),
  ReduceSumSquare: reduce17([1, 11, 13], FLOAT),
  ArgMax: argReduce,
  ArgMin: argReduce,
  CumSum: {
    versions: [11, 14],
    inputs: ["T", "T2"],
    outputs: ["T"],
    placement: k(14, undefined, { T: NUM, T2: IND }),
    hostInputs: [1],
  },
  Reshape: movement([1, 5, 13, 14], 14, 18, ["T", "int64"], [1]),
  Transpose: movement([1, 13], 13, 20, ["T"]),
  Unsqueeze: movement([1, 11, 13], 13, 20, ["T", "int64"], [1]),
  Squeeze: movement([1, 11, 13], 13, 20, ["T", "int64?"], [1]),
  Flatten: movement([1, 9, 11, 13], 13, undefined, ["T"]),
  Concat: movement([1, 4, 11, 13], 13, undefined, ["T..."]),
  Split: { ...movement([1, 2, 11, 13], 13, 17, ["T", "int64?"], [1]), outputs: ["T..."] },
  Slice: {
    versions: [1, 10, 11, 13],
    inputs: ["T", "Tind", "Tind", "Tind?", "Tind?"],
    outputs: ["T"],
    placement: k(13, undefined, { T: ALL, Tind: IND }),
    hostInputs: [1, 2, 3, 4],
  },
  Gather: {
    versions: [1, 11, 13],
    inputs: ["T", "Tind"],
    outputs: ["T"],
    placement: k(13, undefined, { T: ALL, Tind: IND }),
  },
  GatherElements: {
    versions: [11, 13],
    inputs: ["T", "Tind"],
    outputs: ["T"],
    placement: k(13, undefined, { T: ALL, Tind: IND }),
  },
  // No int32 or uint64 data.
  GatherND: {
    versions: [11, 12, 13],
    inputs: ["T", "int64"],
    outputs: ["T"],
    placement: k(13, undefined, { T: [B, D, F, I64] }),
  },
  ScatterElements: {
    versions: [11, 13, 16],
    inputs: ["T", "Tind", "T"],
    outputs: ["T"],
    placement: k(16, 17, { T: ALL, Tind: IND }),
  },
  ScatterND: {
    versions: [11, 13, 16],
    inputs: ["T", "int64", "T"],
    outputs: ["T"],
    placement: k(16, 17, { T: ALL }),
  },
  Expand: movement([8, 13], 13, undefined, ["T", "int64"], [1]),
  // No bool or uint64.
  Tile: {
    versions: [1, 6, 13],
    inputs: ["T", "T1"],
    outputs: ["T"],
    placement: k(13, undefined, { T: [D, F, I32, I64], T1: [I64] }),
    hostInputs: [1],
  },
  // No bool or uint64 branches.
  Where: {
    versions: [9, 16],
    inputs: ["B", "T", "T"],
    outputs: ["T"],
    placement: k(16, undefined, { B: [B], T: [D, F, I32, I64] }),
  },
  TopK: {
    versions: [1, 10, 11],
    inputs: ["T", "int64"],
    outputs: ["T", "I"],
    placement: k(11, undefined, { T: [D, F, I32, I64], I: [I64] }),
    hostInputs: [1],
  },
  Cast: {
    versions: [1, 6, 9, 13],
    inputs: ["T1"],
    outputs: ["T2"],
    outputFrom: "attr:to",
    placement: k(13, 18, { T1: ALL, T2: ALL }),
  },
  CastLike: {
    versions: [15],
    inputs: ["T1", "T2"],
    outputs: ["T2"],
    placement: { kind: "function", body: "Cast" },
  },
  Shape: {
    versions: [1, 13, 15],
    inputs: ["T"],
    outputs: ["T1"],
    placement: k(15, 18, { T: ALL, T1: [I64] }),
    hostOutputs: [0],
  },
  Size: {
    versions: [1, 13],
    inputs: ["T"],
    outputs: ["T1"],
    placement: k(13, undefined, { T: ALL, T1: [I64] }),
    hostOutputs: [0],
  },
  // No float64 or uint64 input.
  NonZero: {
    versions: [9, 13],
    inputs: ["T"],
    outputs: ["int64"],
    placement: k(13, undefined, { T: [B, F, I32, I64] }),
  },
  Range: {
    versions: [11],
    inputs: ["T", "T", "T"],
    outputs: ["T"],
    placement: k(11, undefined, { T: [D, F, I32, I64] }),
  },
  // Registered combinations (T1, T2, T3): (int64, int64, int64|float), (int32, int32, float).
  OneHot: {
    versions: [9, 11],
    inputs: ["T1", "T2", "T3"],
    outputs: ["T3"],
    placement: k(11, undefined, { T1: IND, T2: IND, T3: [F, I64] }),
    hostInputs: [1, 2],
  },
  Constant: {
    versions: [1, 9, 11, 12, 13],
    inputs: [],
    outputs: ["T"],
    outputFrom: "attr:value",
    placement: { kind: "initializer" },
  },
  ConstantOfShape: {
    versions: [9],
    inputs: ["T1"],
    outputs: ["T2"],
    outputFrom: "attr:value",
    placement: k(9, undefined, { T1: [I64], T2: ALL }),
    hostInputs: [0],
  },
  RandomNormal: {
    versions: [1],
    inputs: [],
    outputs: ["T"],
    outputFrom: "attr:dtype",
    placement: k(1, undefined, { T: FLOAT }),
  },
  RandomUniform: {
    versions: [1],
    inputs: [],
    outputs: ["T"],
    outputFrom: "attr:dtype",
    placement: k(1, undefined, { T: FLOAT }),
  },
  Loop: {
    versions: [1, 11, 13, 16],
    inputs: ["I?", "B?", "V..."],
    outputs: ["V..."],
    outputFrom: "subgraph",
    placement: k(13, 18, { I: [I64], B: [B], V: ALL }),
    hostInputs: [0, 1],
  },
  If: {
    versions: [1, 11, 13, 16],
    inputs: ["B"],
    outputs: ["V..."],
    outputFrom: "subgraph",
    placement: k(13, 18, { B: [B], V: ALL }),
    hostInputs: [0],
  },
};

/**
 * Ops the graph builder can emit that have no CUDA kernel at opset 17 (each such node runs on the
 * CPU EP). Empty: every op in CUDA_OPS has one (Constant is folded at load, CastLike expands
 * into Cast).
 */
export const NOT_ON_CUDA: readonly string[] = [];
