/**
 * Teachers loaded from exported .onnx files (e.g. models/teacher-16e8a-d256-seed0.onnx), so a
 * teacher can be shared across runs, machines and tools. The file's sha256 is part of the run
 * config, so a changed file can never be mistaken for the one a result was computed with.
 */
import type { FloatDType } from "../graph/dtype.ts";
import { moeConfig, type MoeLayerConfig } from "../nn/config.ts";
import { castParams, type ParamSet } from "../nn/params.ts";
import { importModel } from "../export/onnx_export.ts";
import { sha256Hex } from "../io/hash.ts";

/** Reads a teacher file, checking its sha256 (when given) and that it holds an MoE layer. */
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

/** The target config of a teacher file: its path, sha256 and (for labels) its architecture. */
export function teacherFileTarget(path: string): {
  target: { kind: "teacher-file"; path: string; sha256: string };
  config: MoeLayerConfig;
} {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`teacherFile: cannot read '${path}' (${(e as Error).message})`);
  }
  const m = importModel(bytes, path);
  if (m.kind !== "moe") {
    throw new Error(`teacherFile: ${path} holds a '${m.kind}' model; teachers must be MoE layers`);
  }
  return {
    target: { kind: "teacher-file", path, sha256: sha256Hex(bytes) },
    config: moeConfig(m.config as MoeLayerConfig),
  };
}
