/** Element types the toolkit builds graphs with, and their ONNX / typed-array twins. */
export type FloatDType = "float32" | "float64";
/** Every element type of HostTensor and graph values. */
export type DType = FloatDType | "int64" | "int32" | "bool" | "uint64";

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
  uint64: 13,
};

const FROM_ONNX = new Map<number, DType>(
  Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DType]),
);

export function dtypeFromOnnx(code: number): DType {
  const d = FROM_ONNX.get(code);
  if (!d) throw new Error(`unsupported ONNX element type ${code}`);
  return d;
}

/** The typed array holding elements of `D`. */
export type TypedArrayOf<D extends DType> = D extends "float32" ? Float32Array
  : D extends "float64" ? Float64Array
  : D extends "int64" ? BigInt64Array
  : D extends "int32" ? Int32Array
  : D extends "uint64" ? BigUint64Array
  : Uint8Array;

/** The typed arrays that hold HostTensor data. */
export type AnyTypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint8Array;

export function isFloat(d: DType): d is FloatDType {
  return d === "float32" || d === "float64";
}

const ARRAY_OF = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  int32: Int32Array,
  bool: Uint8Array,
} as const;

export function allocate(dtype: DType, n: number): AnyTypedArray {
  return new ARRAY_OF[dtype](n);
}

/** A typed-array view of `dtype` over a whole (aligned) buffer. */
export function viewOf(dtype: DType, buffer: ArrayBuffer): AnyTypedArray {
  return new ARRAY_OF[dtype](buffer);
}

/** Copies numbers into a fresh typed array of `dtype`. */
export function fromNumbers(dtype: DType, xs: ArrayLike<number | bigint>): AnyTypedArray {
  const out = allocate(dtype, xs.length);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < xs.length; i++) out[i] = BigInt(xs[i]);
  } else {
    for (let i = 0; i < xs.length; i++) (out as Float64Array)[i] = Number(xs[i]);
  }
  return out;
}
