/** Serializing a model and its parameters as a standalone inference `.onnx`. */
import onnx from "onnx-proto";
import { Graph } from "../graph/builder.ts";
import { modelProto } from "../graph/encode.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { deepMoeForward } from "../nn/deep.ts";
import { INIT_SCHEMES } from "../nn/init.ts";
import { moeForward } from "../nn/moe.ts";
import { paramCount, type ParamSet, type ParamValues } from "../nn/params.ts";
import { describeModel } from "./describe.ts";
import { canonicalModel } from "./fields.ts";
import { checkOneOf } from "../validate.ts";
import {
  BATCH_DIM,
  EXPORT_STRATEGIES,
  type ExportOptions,
  FORMAT_VERSION,
  METADATA_KEY,
  MODEL_FORMAT,
  type ModelMetadata,
  type ModelSpec,
  TOOLKIT_VERSION,
} from "./format.ts";
import { checkParams, modelParamShapes } from "./layout.ts";

const P = onnx.onnx;

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
  checkOneOf("strategy", strategy, EXPORT_STRATEGIES);
  if (opts.seed != null && !Number.isSafeInteger(opts.seed)) {
    throw new Error(`seed: must be an integer or null, got ${String(opts.seed)}`);
  }
  if (opts.init != null) checkOneOf("init", opts.init, INIT_SCHEMES);
  const dtype = checkParams(spec, params);
  const { dIn, dOut } = spec.config;

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
    // Flat node names keep the shipped teachers bit-identical.
    scopedNames: false,
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
