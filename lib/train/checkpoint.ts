/**
 * Training checkpoints: every tensor of the training state plus the step counter and the
 * learning rates, in one file written atomically (temp file + rename), so a killed process
 * never leaves a torn checkpoint. Format: "MOECKPT1\n", u32 header length, JSON header, raw
 * little-endian tensor bytes.
 */
import { type DType, viewOf } from "../graph/dtype.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";
import { writeFileAtomic } from "../io/atomic.ts";

/** Everything a training run needs to resume: step, learning rates, parameters, optimizer state. */
export interface TrainState {
  /** Optimizer steps taken so far. */
  step: number;
  /** Base learning rate per parameter group. */
  lrs: number[];
  /** Parameter values by name. */
  params: Record<string, HostTensor>;
  /** Optimizer state, keyed "param.key". */
  opt: Record<string, HostTensor>;
  /** Free-form metadata (config, seed, versions). */
  meta?: Record<string, unknown>;
}

const MAGIC = new TextEncoder().encode("MOECKPT1\n");

interface Entry {
  group: "params" | "opt";
  name: string;
  dtype: DType;
  dims: number[];
  offset: number;
  bytes: number;
}

export function encodeCheckpoint(s: TrainState): Uint8Array {
  const entries: Entry[] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const group of ["params", "opt"] as const) {
    for (const [name, t] of Object.entries(s[group])) {
      const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      entries.push({ group, name, dtype: t.dtype, dims: [...t.dims], offset, bytes: b.length });
      blobs.push(b);
      offset += b.length;
    }
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ step: s.step, lrs: s.lrs, meta: s.meta ?? {}, entries }),
  );
  const out = new Uint8Array(MAGIC.length + 4 + header.length + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  let p = MAGIC.length + 4 + header.length;
  for (const b of blobs) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, source = "checkpoint"): TrainState {
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== "MOECKPT1\n") throw new Error(`${source}: not a moe-onnx checkpoint`);
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const hstart = MAGIC.length + 4;
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen)));
  const base = hstart + hlen;
  const s: TrainState = {
    step: header.step,
    lrs: header.lrs,
    meta: header.meta,
    params: {},
    opt: {},
  };
  for (const e of header.entries as Entry[]) {
    // Copy so the typed array is aligned whatever the header length.
    const raw = bytes.slice(base + e.offset, base + e.offset + e.bytes);
    s[e.group][e.name] = tensor(e.dtype, e.dims, viewOf(e.dtype, raw.buffer));
  }
  return s;
}

/** Writes a checkpoint atomically (a crash leaves the old file or the new one). */
export async function saveCheckpoint(path: string, s: TrainState): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(s));
}

/** Reads a checkpoint written by `saveCheckpoint`; a damaged file is a one-line error naming it. */
export async function loadCheckpoint(path: string): Promise<TrainState> {
  return decodeCheckpoint(await Deno.readFile(path), path);
}
