/**
 * The exported file format's constants and types: what `metadata_props["moe_onnx"]` holds, the
 * model kinds and graph strategies, and the options an export records.
 */
import type { FloatDType } from "../graph/dtype.ts";
import type { DeepMoeConfig, MoeLayerConfig } from "../nn/config.ts";
import type { InitScheme } from "../nn/init.ts";
import type { ParamSet } from "../nn/params.ts";

export { TOOLKIT_VERSION } from "../version.ts";
/** The metadata_props key holding the JSON `ModelMetadata`. */
export const METADATA_KEY = "moe_onnx";
/** `ModelMetadata.format` of every export. */
export const MODEL_FORMAT = "moe-onnx-model";
/** `ModelMetadata.formatVersion` of this layout (a reader accepts only it). */
export const FORMAT_VERSION = 1;
/** The symbolic batch dimension of `x` and `y`. */
export const BATCH_DIM = "batch";

/** The kinds of model a file holds: an MoE layer or a deep MoE. */
export const MODEL_KINDS = ["moe", "deep"] as const;
/** One of MODEL_KINDS. */
export type ModelKind = typeof MODEL_KINDS[number];
/** The graph strategies an export can be built with. */
export const EXPORT_STRATEGIES = ["dense", "sparse"] as const;
/** One of EXPORT_STRATEGIES. */
export type ExportStrategy = typeof EXPORT_STRATEGIES[number];

/** A model to export: an (m, k, w, d)-MoE layer or a deep MoE, with its config. */
export type ModelSpec =
  | { kind: "moe"; config: MoeLayerConfig }
  | { kind: "deep"; config: DeepMoeConfig };

/** What an export records besides the model and its parameters. */
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
  /** Always `MODEL_FORMAT`. */
  format: typeof MODEL_FORMAT;
  /** Always `FORMAT_VERSION`. */
  formatVersion: typeof FORMAT_VERSION;
  /** An MoE layer or a deep MoE. */
  kind: ModelKind;
  /** The full config, fields in canonical order. */
  config: MoeLayerConfig | DeepMoeConfig;
  /** The seed the parameters were drawn from, when known. */
  seed: number | null;
  /** The init scheme they were drawn with, when known. */
  init: InitScheme | null;
  /** The preset the model belongs to, when any. */
  preset: string | null;
  /** Float type of the parameters, x and y. */
  dtype: FloatDType;
  /** Strategy the graph was built with. */
  strategy: ExportStrategy;
  /** Number of parameter scalars. */
  params: number;
  /** Input and output shapes, with the symbolic batch dim. */
  x: [typeof BATCH_DIM, number];
  /** The output's shape. */
  y: [typeof BATCH_DIM, number];
  /** The version of the toolkit that wrote the file. */
  toolkitVersion: string;
  /** The file's `doc_string`. */
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
