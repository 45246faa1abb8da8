/**
 * Teachers loaded from exported .onnx files (e.g. models/teacher-16e8a-d256-seed0.onnx), so a
 * teacher can be shared across runs, machines and tools. The file's sha256 is part of the run
 * config, so a changed file can never be mistaken for the one a result was computed with.
 */
import { createHash } from "node:crypto";
import type { FloatDType } from "../graph/dtype.ts";
import { moeConfig, type MoeLayerConfig } from "../nn/config.ts";
import { castParams, type ParamSet } from "../nn/params.ts";
import { importModel } from "../export/onnx_export.ts";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export async function loadTeacher(
  path: string,
  sha256: string,
  dtype: FloatDType,
): Promise<{ config: MoeLayerConfig; params: ParamSet }> {
  const bytes = await Deno.readFile(path);
  const got = sha256Hex(bytes);
  if (sha256 && got !== sha256) {
    throw new Error(`target.path: ${path} has sha256 ${got}, but the run config expects ${sha256}`);
  }
  const m = importModel(bytes, path);
  if (m.kind !== "moe") {
    throw new Error(`target.path: ${path} holds a '${m.kind}' model; teachers must be MoE layers`);
  }
  return { config: moeConfig(m.config as MoeLayerConfig), params: castParams(m.params, dtype) };
}
