/**
 * The vocabulary of the CUDA kernel table (lib/cuda/kernels.ts): an op's ONNX signature and CUDA
 * placement, the toolkit's dtype sets, and builders for the entry shapes many ops share.
 */
import type { DType } from "../graph/dtype.ts";

/** A CUDA kernel registration: opset range and, per type variable, the element types it takes. */
export interface Registration {
  since: number;
  /** Last opset covered; undefined = open ("13+"). */
  until?: number;
  types: Readonly<Record<string, readonly DType[]>>;
}

/** How onnxruntime runs a node of this op under the CUDA EP. */
export type Placement =
  | { kind: "kernel"; cuda: Registration }
  /** Not a kernel: the node is folded into an initializer when the model loads. */
  | { kind: "initializer" }
  /** A function op without its own kernel: expanded into its body (here one op). */
  | { kind: "function"; body: string };

/** One op as the CUDA EP sees it: ONNX signature, placement and host-memory arguments. */
export interface OpEntry {
  /** ONNX schema since-versions (ai.onnx) up to opset 17. */
  versions: readonly number[];
  /** Formal inputs: a type variable or a fixed dtype; suffix "?" optional, "..." variadic. */
  inputs: readonly string[];
  outputs: readonly string[];
  /**
   * Where an output's dtype comes from when no input binds its type variable:
   * an attribute holding an ONNX type code or a tensor, or the subgraph's outputs.
   */
  outputFrom?: "attr:to" | "attr:dtype" | "attr:value" | "subgraph";
  placement: Placement;
  /** Inputs the CUDA kernel reads from host memory (shape-like arguments). */
  hostInputs?: readonly number[];
  /** Outputs the CUDA kernel writes to host memory. */
  hostOutputs?: readonly number[];
}

export const B: DType = "bool";
export const F: DType = "float32";
export const D: DType = "float64";
export const I32: DType = "int32";
export const I64: DType = "int64";
export const U64: DType = "uint64";
/** All toolkit dtypes (the registration takes every fixed-size tensor type). */
export const ALL: readonly DType[] = [B, D, F, I32, I64, U64];
export const FLOAT: readonly DType[] = [D, F];
/** double, float, int32, int64, uint64 (elementwise arithmetic, comparisons). */
export const NUM: readonly DType[] = [D, F, I32, I64, U64];
export const IND: readonly DType[] = [I32, I64];

export const k = (
  since: number,
  until: number | undefined,
  types: Registration["types"],
): Placement => ({
  kind: "kernel",
  cuda: { since, until, types },
});
export const unaryFloat = (versions: number[], since: number): OpEntry => ({
  versions,
  inputs: ["T"],
  outputs: ["T"],
  placement: k(since, undefined, { T: FLOAT }),
});
export const arith = (versions: number[], since: number, types = NUM): OpEntry => ({
  versions,
  inputs: ["T", "T"],
  outputs: ["T"],
  placement: k(since, undefined, { T: types }),
});
export const compare = (versions: number[], since: number): OpEntry => ({
  versions,
  inputs: ["T", "T"],
  outputs: ["T1"],
  placement: k(since, undefined, { T: NUM, T1: [B] }),
});
export const logical = (versions: number[]): OpEntry => ({
  versions,
  inputs: ["T", "T"],
  outputs: ["T1"],
  placement: k(7, undefined, { T: [B], T1: [B] }),
});
/** Reductions with axes as an attribute at opset 17 (registrations [1, 17]). */
export const reduce17 = (versions: number[], types: readonly DType[]): OpEntry => ({
  versions,
  inputs: ["T"],
  outputs: ["T"],
  placement: k(1, 17, { T: types }),
});
export const argReduce: OpEntry = {
  versions: [1, 11, 12, 13],
  inputs: ["T"],
  outputs: ["int64"],
  placement: k(13, undefined, { T: FLOAT }),
};
export const movement = (
  versions: number[],
  since: number,
  until: number | undefined,
  inputs: string[],
  hostInputs?: number[],
): OpEntry => ({
  versions,
  inputs,
  outputs: ["T"],
  placement: k(since, until, { T: ALL }),
  hostInputs,
});

/** The schema version an op resolves to at `opset` (undefined: the op does not exist yet). */
export function schemaVersion(e: OpEntry, opset: number): number | undefined {
  let v: number | undefined;
  for (const s of e.versions) if (s <= opset) v = s;
  return v;
}
