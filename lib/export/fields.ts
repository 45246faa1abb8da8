/**
 * Model configs as the file format stores them: the allowed fields of each kind in canonical
 * order, and the check that puts a config into that order.
 */
import {
  type DeepMoeConfig,
  MOE_OPTIONAL_FIELDS,
  type MoeLayerConfig,
  validateDeepMoeConfig,
  validateMoeConfig,
} from "../nn/config.ts";
import { MODEL_KINDS, type ModelKind, type ModelSpec } from "./format.ts";
import { checkOneOf } from "../validate.ts";

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
  checkOneOf("kind", model.kind, MODEL_KINDS);
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
