/** Reading an exported model back: metadata, config and parameters, validated. */
import onnx from "onnx-proto";
import { type FloatDType, ONNX_DTYPE } from "../graph/dtype.ts";
import { type HostTensor, numel, tensor } from "../graph/tensor.ts";
import { INIT_SCHEMES } from "../nn/init.ts";
import type { ParamSet } from "../nn/params.ts";
import { canonicalModel } from "./fields.ts";
import { checkOneOf } from "../validate.ts";
import {
  BATCH_DIM,
  FORMAT_VERSION,
  type ImportedModel,
  METADATA_KEY,
  MODEL_FORMAT,
  type ModelMetadata,
  type ModelSpec,
} from "./format.ts";
import { modelParamShapes } from "./layout.ts";

const P = onnx.onnx;

/**
 * Reads an exported model back from a file path or from bytes (synchronously; files are small).
 * `label` names the source in errors (default: the path, or "<bytes>"). See `decodeModel`.
 */
export function importModel(source: string | Uint8Array, label?: string): ImportedModel {
  if (typeof source !== "string") return decodeModel(source, label ?? "<bytes>");
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(source);
  } catch (e) {
    throw new Error(`${label ?? source}: cannot read model file (${(e as Error).name})`);
  }
  return decodeModel(bytes, label ?? source);
}

/** Long | number -> number (onnx-proto decodes int64 fields as Long). */
function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === "function") {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v);
}

function tensorData(
  t: onnx.onnx.ITensorProto,
  dtype: FloatDType,
  n: number,
): Float32Array | Float64Array | undefined {
  const out = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const size = out.BYTES_PER_ELEMENT;
    if (raw.length !== n * size) return undefined;
    // ONNX raw_data is little-endian; DataView reads it whatever the host's order.
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) {
      out[i] = size === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
    }
    return out;
  }
  const list = dtype === "float32" ? t.floatData : t.doubleData;
  if (!list || list.length !== n) return undefined;
  out.set(list);
  return out;
}

function shapeOf(v: onnx.onnx.IValueInfoProto | undefined): (number | string | null)[] | undefined {
  return v?.type?.tensorType?.shape?.dim?.map((d) =>
    d.dimParam ? d.dimParam : d.dimValue != null ? num(d.dimValue) : null
  );
}

/**
 * Decodes an exported model: metadata, config (validated), and the parameters as a ParamSet in
 * layout order. `label` names the file in errors, which are one line: the file, then the field
 * (`metadata_props`, `metadata.kind`, `metadata.config.k`, `params`, `graph.input`, ...).
 */
export function decodeModel(bytes: Uint8Array, label: string): ImportedModel {
  const fail = (msg: string): never => {
    throw new Error(`${label}: ${msg}`);
  };
  let m: onnx.onnx.ModelProto;
  try {
    m = P.ModelProto.decode(bytes);
  } catch (e) {
    return fail(`not an ONNX model (${(e as Error).message})`);
  }
  const entry = m.metadataProps.find((p) => p.key === METADATA_KEY);
  if (!entry) {
    fail(`metadata_props: missing '${METADATA_KEY}' (not a moe-onnx export)`);
  }
  let meta: ModelMetadata;
  try {
    meta = JSON.parse(entry!.value ?? "");
  } catch (e) {
    return fail(`metadata_props.${METADATA_KEY}: invalid JSON (${(e as Error).message})`);
  }
  if (typeof meta !== "object" || meta === null) fail(`metadata: must be a JSON object`);
  if (meta.format !== MODEL_FORMAT) {
    fail(`metadata.format: expected '${MODEL_FORMAT}', got ${JSON.stringify(meta.format)}`);
  }
  if (meta.formatVersion !== FORMAT_VERSION) {
    fail(
      `metadata.formatVersion: unsupported ${
        JSON.stringify(meta.formatVersion)
      } (allowed: ${FORMAT_VERSION})`,
    );
  }
  let spec: ModelSpec;
  try {
    spec = canonicalModel({ kind: meta.kind, config: meta.config });
  } catch (e) {
    const msg = (e as Error).message;
    return fail(
      `metadata.${msg.startsWith("kind") || msg.startsWith("config") ? "" : "config."}${msg}`,
    );
  }
  const dtype = meta.dtype;
  try {
    checkOneOf("dtype", dtype, ["float32", "float64"]);
    if (meta.init !== null) checkOneOf("init", meta.init, INIT_SCHEMES);
    if (meta.seed !== null && !Number.isSafeInteger(meta.seed)) {
      throw new Error(`seed: must be an integer or null, got ${JSON.stringify(meta.seed)}`);
    }
  } catch (e) {
    return fail(`metadata.${(e as Error).message}`);
  }

  const graph = m.graph ?? fail("graph: missing");
  const { dIn, dOut } = spec.config;
  const xIn = (graph.input ?? []).find((v) => v.name === "x");
  const xShape = shapeOf(xIn);
  if (!xShape || xShape.length !== 2 || xShape[1] !== dIn) {
    fail(`graph.input: expected 'x' [${BATCH_DIM}, ${dIn}], got ${JSON.stringify(xShape)}`);
  }
  const yOut = (graph.output ?? []).find((v) => v.name === "y");
  const yShape = shapeOf(yOut);
  if (!yShape || yShape.length !== 2 || yShape[1] !== dOut) {
    fail(`graph.output: expected 'y' [${BATCH_DIM}, ${dOut}], got ${JSON.stringify(yShape)}`);
  }

  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
  const params: ParamSet = new Map();
  for (const p of modelParamShapes(spec)) {
    const t = inits.get(p.name);
    const want = `${dtype} [${p.dims.join(", ")}]`;
    if (!t) return fail(`params: missing initializer '${p.name}' (expected ${want})`);
    const got = (t.dims ?? []).map(num);
    if (got.length !== p.dims.length || got.some((d, i) => d !== p.dims[i])) {
      fail(`params: '${p.name}' has dims [${got.join(", ")}], expected [${p.dims.join(", ")}]`);
    }
    if (t.dataType !== ONNX_DTYPE[dtype]) {
      fail(`params: '${p.name}' has ONNX element type ${t.dataType}, expected ${dtype}`);
    }
    const data = tensorData(t, dtype, numel(p.dims));
    if (!data) fail(`params: '${p.name}' does not hold ${numel(p.dims)} ${dtype} values`);
    params.set(p.name, tensor(dtype, p.dims, data!) as HostTensor);
  }
  return {
    ...spec,
    params,
    seed: meta.seed,
    init: meta.init,
    dtype,
    metadata: { ...meta, config: spec.config },
  };
}
