/** onnxruntime helpers shared by the export and torch interop tests. */
import assert from "node:assert/strict";
import { type HostTensor, tensor } from "../../lib/graph/tensor.ts";
import { key, normal } from "../../lib/random/prng.ts";
import { Session } from "../../lib/runtime/session.ts";

/** A [B, d] batch of N(0, 1) inputs drawn from `key(seed)`. */
export function inputs(
  seed: number,
  B: number,
  d: number,
  dtype: "float32" | "float64",
): HostTensor {
  return tensor(dtype, [B, d], normal(key(seed), new Float64Array(B * d)));
}

/**
 * Output `y` of the model `bytes` at input `x` (one thread). With `io`, also asserts that the
 * model's only input is `x` and its only output `y`.
 */
export async function runOrt(bytes: Uint8Array, x: HostTensor, io = false): Promise<HostTensor> {
  const s = await Session.create(bytes, { threads: 1 });
  try {
    if (io) {
      assert.deepEqual([...s.inputNames], ["x"]);
      assert.deepEqual([...s.outputNames], ["y"]);
    }
    return (await s.run({ x })).y;
  } finally {
    await s.release();
  }
}

/** The raw bytes of a tensor's data (little-endian, as onnxruntime and numpy read them). */
export function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
