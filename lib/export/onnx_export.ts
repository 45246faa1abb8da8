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
export {
  BATCH_DIM,
  EXPORT_STRATEGIES,
  type ExportOptions,
  type ExportStrategy,
  FORMAT_VERSION,
  type ImportedModel,
  METADATA_KEY,
  MODEL_FORMAT,
  MODEL_KINDS,
  type ModelKind,
  type ModelMetadata,
  type ModelSpec,
  TOOLKIT_VERSION,
} from "./format.ts";
export {
  canonicalModel,
  checkConfigFields,
  DEEP_CONFIG_FIELDS,
  MOE_CONFIG_FIELDS,
} from "./fields.ts";
export { modelParamShapes } from "./layout.ts";
export { describeModel } from "./describe.ts";
export { exportModel, writeModel } from "./encode.ts";
export { decodeModel, importModel } from "./decode.ts";
