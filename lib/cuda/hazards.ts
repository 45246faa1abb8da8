/**
 * CUDA kernels of lib/cuda/kernels.ts that are nondeterministic, or wrong for some dtypes, and
 * when (an attribute value and the data dtype).
 */
import type { DType } from "../graph/dtype.ts";

/** A CUDA kernel known to give run-to-run different results, and when. */
export interface Nondeterminism {
  op: string;
  /** The attribute that selects the nondeterministic path and its deterministic value. */
  attr: string;
  deterministic: string;
  /** Only for these data dtypes (integer atomic adds are exact in any order). */
  dtypes: readonly DType[];
  why: string;
}

/**
 * CUDA kernels whose results depend on thread scheduling. Sources: onnxruntime/core/providers/
 * cuda/tensor/scatter_nd_impl.cu (reductions through atomic_add/atomic_mul/atomic_max/atomic_min)
 * and tensor/scatter_elements.cc + scatter_elements_impl.cu (reductions through the atomics of
 * core/providers/cuda/atomic/common.cuh). cuBLAS (MatMul, Gemm, Einsum) is bitwise reproducible
 * run to run on one GPU model and toolkit version (cuBLAS documentation, "Results
 * reproducibility"), not across them.
 */
export const NONDETERMINISTIC: readonly Nondeterminism[] = [
  {
    op: "ScatterND",
    attr: "reduction",
    deterministic: "none",
    dtypes: ["float32", "float64"],
    why: "updates to one element race through floating-point atomics (order varies per run)",
  },
  {
    op: "ScatterElements",
    attr: "reduction",
    deterministic: "none",
    dtypes: ["float32", "float64"],
    why: "updates to one element race through floating-point atomics (order varies per run)",
  },
];

/**
 * Integer uses a CUDA kernel handles poorly: ScatterElements picks its implementation by element
 * size (int8, float16, float, double: tensor/scatter_elements.cc), so a reduction over int32 or
 * int64 data does float or double arithmetic on the integers' bit patterns.
 */
export const INTEGER_HAZARDS: readonly { op: string; attr: string; none: string; why: string }[] = [
  {
    op: "ScatterElements",
    attr: "reduction",
    none: "none",
    why: "the CUDA kernel reduces integers as floats of the same size (their bit patterns)",
  },
];
