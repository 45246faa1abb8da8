import { allocate, type AnyTypedArray, type DType, fromNumbers } from "./dtype.ts";

/** A dense host tensor: the toolkit's currency between TS, ONNX initializers and onnxruntime. */
export interface HostTensor {
  /** The element type. */
  readonly dtype: DType;
  /** The dimensions (empty for a scalar). */
  readonly dims: readonly number[];
  /** The elements, row-major, in the typed array of `dtype`. */
  readonly data: AnyTypedArray;
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Builds a tensor, checking that the data length matches the dims. */
export function tensor(
  dtype: DType,
  dims: readonly number[],
  data?: AnyTypedArray | ArrayLike<number | bigint>,
): HostTensor {
  const n = numel(dims);
  let arr: AnyTypedArray;
  if (data === undefined) arr = allocate(dtype, n);
  else if (ArrayBuffer.isView(data) && sameKind(dtype, data as AnyTypedArray)) {
    arr = data as AnyTypedArray;
  } else arr = fromNumbers(dtype, data as ArrayLike<number>);
  if (arr.length !== n) {
    throw new Error(`tensor: ${arr.length} values do not fill dims [${dims.join(", ")}] (${n})`);
  }
  return { dtype, dims: [...dims], data: arr };
}

function sameKind(dtype: DType, a: AnyTypedArray): boolean {
  return (dtype === "float32" && a instanceof Float32Array) ||
    (dtype === "float64" && a instanceof Float64Array) ||
    (dtype === "int64" && a instanceof BigInt64Array) ||
    (dtype === "uint64" && a instanceof BigUint64Array) ||
    (dtype === "int32" && a instanceof Int32Array) ||
    (dtype === "bool" && a instanceof Uint8Array);
}

/** A rank-0 tensor holding `x`. */
export function scalar(dtype: DType, x: number | bigint): HostTensor {
  return tensor(dtype, [], [x]);
}
