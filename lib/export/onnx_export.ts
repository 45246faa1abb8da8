/**
 * Standalone inference `.onnx` files of the toolkit's models (an MoE layer or a deep MoE with its
 * parameters), for Python and any other onnxruntime user, and reading them back (a teacher
 * reused across runs).
 *
 * File layout: IR 8, opset 17; one input `x` [batch, dIn] with the symbolic dim "batch", one
 * output `y` [batch, dOut]; the parameters are initializers named as in the ParamSet
 * (`moe0.router.weight`, `moe0.experts.w1`, ... see lib/nn/layout.ts); `doc_string` is a human
 * description; `metadata_props["moe_onnx"]` is JSON (`ModelMetadata`): kind, full config,
 * seed, init scheme, dtype, strategy, toolkit version. Export is deterministic: the same model,
 * parameters and options give the same bytes.
 */
import onnx from "onnx-proto";
import denoJson from "../../deno.json" with { type: "json" };
import { Graph } from "../graph/builder.ts";
import { type FloatDType, ONNX_DTYPE } from "../graph/dtype.ts";
import { modelProto } from "../graph/encode.ts";
import { type HostTensor, numel, tensor } from "../graph/tensor.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import {
  deepLayerSpec,
  type DeepMoeConfig,
  MOE_OPTIONAL_FIELDS,
  type MoeLayerConfig,
  shorthand,
  validateDeepMoeConfig,
  validateMoeConfig,
} from "../nn/config.ts";
import { deepMoeForward } from "../nn/deep.ts";
import { INIT_SCHEMES, type InitScheme } from "../nn/init.ts";
import { moeParamShapes } from "../nn/layout.ts";
import { moeForward } from "../nn/moe.ts";
import { paramCount, type ParamSet, type ParamValues } from "../nn/params.ts";

const P = onnx.onnx;

/** The toolkit version (deno.json "version"), recorded in every exported file. */
export const TOOLKIT_VERSION: string = denoJson.version;
/** The metadata_props key holding the JSON `ModelMetadata`. */
export const METADATA_KEY = "moe_onnx";
export const MODEL_FORMAT = "moe-onnx-model";
export const FORMAT_VERSION = 1;
/** The symbolic batch dimension of `x` and `y`. */
export const BATCH_DIM = "batch";

export const MODEL_KINDS = ["moe", "deep"] as const;
export type ModelKind = typeof MODEL_KINDS[number];
export const EXPORT_STRATEGIES = ["dense", "sparse"] as const;
export type ExportStrategy = typeof EXPORT_STRATEGIES[number];

/** A model to export: an (m, k, w, d)-MoE layer or a deep MoE, with its config. */
export type ModelSpec =
  | { kind: "moe"; config: MoeLayerConfig }
  | { kind: "deep"; config: DeepMoeConfig };

/** Config fields in canonical order (also the allowed fields). */
export const MOE_CONFIG_FIELDS = [
  "m",
  "k",
  "w",
  "dIn",
  "dOut",
  "gate",
  "activation",
  "routerBias",
  "expertBias",
  "strategy",
  ...MOE_OPTIONAL_FIELDS,
] as const satisfies readonly (keyof MoeLayerConfig)[];
export const DEEP_CONFIG_FIELDS = [
  "dIn",
  "dOut",
  "layers",
  "experts",
  "k",
  "expertDepth",
  "expertWidth",
  "residual",
  "denseBetween",
  "hiddenDim",
  "gate",
  "activation",
  "routerBias",
  "expertBias",
  "strategy",
] as const satisfies readonly (keyof DeepMoeConfig)[];

export interface ExportOptions {
  /** Graph strategy (default `dense`: fewest nodes, portable; `sparse`: exact dispatch). */
  strategy?: ExportStrategy;
  /** The seed the parameters were drawn from (recorded only; null when unknown). */
  seed?: number | null;
  /** The init scheme the parameters were drawn with (recorded only; null when unknown). */
  init?: InitScheme | null;
  /** Preset name (recorded only). */
  preset?: string | null;
  /** Human description (default: generated from the config). */
  description?: string;
}

/** What `metadata_props["moe_onnx"]` holds (JSON). */
export interface ModelMetadata {
  format: typeof MODEL_FORMAT;
  formatVersion: typeof FORMAT_VERSION;
  kind: ModelKind;
  /** The full config, fields in canonical order. */
  config: MoeLayerConfig | DeepMoeConfig;
  seed: number | null;
  init: InitScheme | null;
  preset: string | null;
  dtype: FloatDType;
  /** Strategy the graph was built with. */
  strategy: ExportStrategy;
  /** Number of parameter scalars. */
  params: number;
  /** Input and output shapes, with the symbolic batch dim. */
  x: [typeof BATCH_DIM, number];
  y: [typeof BATCH_DIM, number];
  toolkitVersion: string;
  description: string;
}

/** A model read back by `importModel`. */
export type ImportedModel = ModelSpec & {
  params: ParamSet;
  seed: number | null;
  init: InitScheme | null;
  dtype: FloatDType;
  metadata: ModelMetadata;
};

/** Expected parameter names and dims of a model, in layout order. */
export function modelParamShapes(model: ModelSpec): { name: string; dims: number[] }[] {
  if (model.kind === "moe") {
    return moeParamShapes({ ...model.config, depth: 1 }).map((p) => ({
      name: `moe0.${p.name}`,
      dims: p.dims,
    }));
  }
  const c = model.config;
  const out: { name: string; dims: number[] }[] = [];
  for (let l = 0; l < c.layers; l++) {
    for (const p of moeParamShapes(deepLayerSpec(c, l))) {
      out.push({ name: `moe${l}.${p.name}`, dims: p.dims });
    }
    if (c.denseBetween && l < c.layers - 1) {
      out.push({ name: `dense${l}.weight`, dims: [c.hiddenDim, c.hiddenDim] });
      out.push({ name: `dense${l}.bias`, dims: [c.hiddenDim] });
    }
  }
  return out;
}

function oneOf(field: string, v: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(v)) {
    throw new Error(
      `${field}: unknown value ${JSON.stringify(v)} (allowed: ${allowed.join(", ")})`,
    );
  }
}

/** Throws a one-line Error naming the first field of `config` that `kind` does not have. */
export function checkConfigFields(kind: ModelKind, config: object): void {
  const fields: readonly string[] = kind === "moe" ? MOE_CONFIG_FIELDS : DEEP_CONFIG_FIELDS;
  for (const k of Object.keys(config)) {
    if (!fields.includes(k)) {
      throw new Error(`config: unknown field '${k}' (allowed: ${fields.join(", ")})`);
    }
  }
}

/**
 * Checks a model spec (kind, config fields, config values) and returns it with the config's
 * fields in canonical order. Throws a one-line Error naming the field.
 */
export function canonicalModel(model: { kind: unknown; config: unknown }): ModelSpec {
  oneOf("kind", model.kind, MODEL_KINDS);
  const kind = model.kind as ModelKind;
  const c = model.config;
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw new Error(`config: must be an object, got ${JSON.stringify(c)}`);
  }
  checkConfigFields(kind, c);
  const fields: readonly string[] = kind === "moe" ? MOE_CONFIG_FIELDS : DEEP_CONFIG_FIELDS;
  const rec = c as Record<string, unknown>;
  // Optional fields stay absent when not given (their defaults), so older files read the same.
  const optional: readonly string[] = MOE_OPTIONAL_FIELDS;
  const present = fields.filter((f) => !optional.includes(f) || rec[f] !== undefined);
  const ordered = Object.fromEntries(present.map((f) => [f, rec[f]]));
  if (kind === "moe") {
    validateMoeConfig(ordered as unknown as MoeLayerConfig);
    return { kind, config: ordered as unknown as MoeLayerConfig };
  }
  validateDeepMoeConfig(ordered as unknown as DeepMoeConfig);
  return { kind, config: ordered as unknown as DeepMoeConfig };
}

/** The dtype of a ParamSet that matches the model's layout exactly; throws naming the param. */
function checkParams(model: ModelSpec, params: ParamSet): FloatDType {
  const want = modelParamShapes(model);
  const names = new Set(want.map((p) => p.name));
  for (const name of params.keys()) {
    if (!names.has(name)) {
      throw new Error(
        `params: unexpected '${name}' (the ${model.kind} layout has: ${[...names].join(", ")})`,
      );
    }
  }
  let dtype: FloatDType | undefined;
  for (const p of want) {
    const t = params.get(p.name);
    if (!t) throw new Error(`params: missing '${p.name}' (expected dims [${p.dims.join(", ")}])`);
    if (t.dims.length !== p.dims.length || t.dims.some((d, i) => d !== p.dims[i])) {
      throw new Error(
        `params: '${p.name}' has dims [${t.dims.join(", ")}], expected [${p.dims.join(", ")}]`,
      );
    }
    if (t.dtype !== "float32" && t.dtype !== "float64") {
      throw new Error(`params: '${p.name}' must be float32 or float64, got ${t.dtype}`);
    }
    if (dtype && t.dtype !== dtype) {
      throw new Error(`params: '${p.name}' is ${t.dtype} but the others are ${dtype}`);
    }
    dtype = t.dtype;
  }
  return dtype ?? "float32";
}

function dims(model: ModelSpec): { dIn: number; dOut: number } {
  return { dIn: model.config.dIn, dOut: model.config.dOut };
}

/** The optional router settings of a layer, for its description ("" when none). */
function routerExtras(c: MoeLayerConfig): string {
  const parts: string[] = [];
  if (c.selectBias) parts.push("selection bias");
  if (c.routedScale !== undefined) parts.push(`routed scale ${c.routedScale}`);
  return parts.map((p) => `, ${p}`).join("");
}

/** A one-paragraph human description of a model. */
export function describeModel(
  model: ModelSpec,
  meta: Pick<ModelMetadata, "seed" | "init" | "dtype" | "strategy">,
): string {
  const origin = `${meta.init ?? "unknown"} init, seed ${meta.seed ?? "unknown"}`;
  const tail = `${origin}; ${meta.dtype}; ${meta.strategy} graph. ` +
    `Input x [batch, ${model.config.dIn}], output y [batch, ${model.config.dOut}].`;
  if (model.kind === "moe") {
    const c = model.config;
    return `(${c.m}, ${c.k}, ${c.w}, ${c.dIn})-MoE layer ${shorthand(c.m, c.k)}: ${c.m} experts, ` +
      `${c.k} active, expert width ${c.w}, ${c.dIn} -> ${c.dOut}, gate ${c.gate}, ` +
      `activation ${c.activation}, ${c.routerBias ? "router bias" : "no router bias"}, ` +
      `${c.expertBias ? "expert biases" : "no expert biases"}${routerExtras(c)}; ${tail}`;
  }
  const c = model.config;
  return `${c.layers}-${c.experts}-MoE deep model: ${c.layers} MoE layers of ${c.experts} ` +
    `experts, ${c.k} active, experts with ${c.expertDepth} hidden layer(s) of width ` +
    `${c.expertWidth}, hidden dim ${c.hiddenDim}, ${c.dIn} -> ${c.dOut}, gate ${c.gate}, ` +
    `activation ${c.activation}${c.residual ? ", residual" : ""}` +
    `${c.denseBetween ? ", dense layers between" : ""}; ${tail}`;
}

/**
 * Serializes a model and its parameters as a standalone inference `.onnx` (see the file
 * comment for the layout). Params must match the config's layout exactly (names, dims, one
 * float dtype); bad configs and params throw a one-line Error naming the field.
 */
export function exportModel(
  model: ModelSpec,
  params: ParamSet,
  opts: ExportOptions = {},
): Uint8Array {
  const spec = canonicalModel(model);
  const strategy = opts.strategy ?? "dense";
  oneOf("strategy", strategy, EXPORT_STRATEGIES);
  if (opts.seed != null && !Number.isSafeInteger(opts.seed)) {
    throw new Error(`seed: must be an integer or null, got ${String(opts.seed)}`);
  }
  if (opts.init != null) oneOf("init", opts.init, INIT_SCHEMES);
  const dtype = checkParams(spec, params);
  const { dIn, dOut } = dims(spec);

  const g = new Graph(spec.kind === "moe" ? "moe" : "deep_moe");
  const x = g.input("x", dtype, [BATCH_DIM, dIn]);
  // Initializers in layout order, so the bytes do not depend on the ParamSet's insertion order.
  const pv: ParamValues = {};
  for (const p of modelParamShapes(spec)) pv[p.name] = g.initializer(p.name, params.get(p.name)!);
  const y = spec.kind === "moe"
    ? moeForward(g, spec.config, pv, x, { strategy }).y
    : deepMoeForward(g, { ...spec.config, strategy }, pv, x).y;
  g.output(y, "y");

  const partial = {
    seed: opts.seed ?? null,
    init: opts.init ?? null,
    dtype,
    strategy,
  };
  const meta: ModelMetadata = {
    format: MODEL_FORMAT,
    formatVersion: FORMAT_VERSION,
    kind: spec.kind,
    config: spec.config,
    ...partial,
    preset: opts.preset ?? null,
    params: paramCount(params),
    x: [BATCH_DIM, dIn],
    y: [BATCH_DIM, dOut],
    toolkitVersion: TOOLKIT_VERSION,
    description: opts.description ?? describeModel(spec, partial),
  };
  const proto = modelProto(g, {
    producerVersion: TOOLKIT_VERSION,
    docString: meta.description,
    metadata: { [METADATA_KEY]: JSON.stringify(meta) },
  });
  // Shape inference cannot see that y keeps x's batch dim (it passes through Reshape -1);
  // declare it so consumers get [batch, dOut].
  proto.graph!.output![0].type!.tensorType!.shape = {
    dim: [{ dimParam: BATCH_DIM }, { dimValue: dOut }],
  };
  // A plain Uint8Array (protobufjs may hand out a pooled Node Buffer).
  return new Uint8Array(P.ModelProto.encode(P.ModelProto.create(proto)).finish());
}

/** `exportModel`, written atomically to `path` (parent directories created). Returns the bytes. */
export async function writeModel(
  path: string,
  model: ModelSpec,
  params: ParamSet,
  opts: ExportOptions = {},
): Promise<Uint8Array> {
  const bytes = exportModel(model, params, opts);
  await writeFileAtomic(path, bytes);
  return bytes;
}

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
    oneOf("dtype", dtype, ["float32", "float64"]);
    if (meta.init !== null) oneOf("init", meta.init, INIT_SCHEMES);
    if (meta.seed !== null && !Number.isSafeInteger(meta.seed)) {
      throw new Error(`seed: must be an integer or null, got ${JSON.stringify(meta.seed)}`);
    }
  } catch (e) {
    return fail(`metadata.${(e as Error).message}`);
  }

  const graph = m.graph ?? fail("graph: missing");
  const { dIn, dOut } = dims(spec);
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
