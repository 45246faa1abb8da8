/**
 * Named model presets for export: paper A's teachers (a freshly initialized, never trained
 * softmax-topk relu MoE with kw = d active neurons, torch init, no router bias) for every
 * Figure 2 architecture at d = 256 (the authors' scale) and d = 64 (the quick scale).
 * The parameters of a preset and seed are `initMoe(config, key(seed), { scheme, dtype })`.
 */
import type { FloatDType } from "../graph/dtype.ts";
import { type MoeLayerConfig, parseShorthand, teacherConfig } from "../nn/config.ts";
import { initMoe, type InitScheme } from "../nn/init.ts";
import { key } from "../random/prng.ts";
import { exportModel, type ExportOptions, type ModelSpec } from "./onnx_export.ts";

/** Figure 2's architectures (sparsity 1/2). */
export const TEACHER_ARCHS = [
  "4e2a",
  "8e4a",
  "12e6a",
  "16e8a",
  "20e10a",
  "24e12a",
  "28e14a",
  "32e16a",
] as const;
/** d = 256: the authors' scale (kw = 256); d = 64: the quick scale (kw = 64). */
export const TEACHER_DIMS = [256, 64] as const;

export interface ModelPreset {
  /** e.g. `teacher-16e8a-d256`. */
  name: string;
  model: ModelSpec & { kind: "moe"; config: MoeLayerConfig };
  init: InitScheme;
  dtype: FloatDType;
  description: string;
}

function teacherPreset(arch: string, d: number): ModelPreset {
  const { m, k } = parseShorthand(arch);
  const config = teacherConfig(m, k, d, { activeNeurons: d });
  return {
    name: `teacher-${arch}-d${d}`,
    model: { kind: "moe", config },
    init: "torch",
    dtype: "float32",
    description: `Paper A teacher ${arch} at d = ${d}: a freshly initialized, never trained ` +
      `softmax-topk relu MoE with ${m} experts, ${k} active, kw = ${d} active neurons ` +
      `(w = ${config.w}), no router bias, expert biases. ` +
      `Input x [batch, ${d}], output y [batch, ${d}].`,
  };
}

/** Every preset, teachers at d = 256 first. */
export const PRESETS: readonly ModelPreset[] = TEACHER_DIMS.flatMap((d) =>
  TEACHER_ARCHS.map((a) => teacherPreset(a, d))
);

/** The preset called `name`; a one-line Error listing the names otherwise. */
export function findPreset(name: string, field = "preset"): ModelPreset {
  const p = PRESETS.find((q) => q.name === name);
  if (!p) {
    throw new Error(
      `${field}: unknown preset ${JSON.stringify(name)} (allowed: ${
        PRESETS.map((q) => q.name).join(", ")
      })`,
    );
  }
  return p;
}

/** Options for exporting a preset: the export options minus what the preset fixes. */
export type PresetExportOptions = Pick<ExportOptions, "strategy"> & {
  dtype?: FloatDType;
  init?: InitScheme;
};

const INIT_TEXT: Record<InitScheme, string> = {
  torch: "Init: torch (PyTorch nn.Linear default, uniform +-1/sqrt(fan_in))",
  paper: "Init: paper (the paper's Gaussian constructions)",
};

/** Initializes preset `name` from `seed` and exports it (deterministic bytes). */
export function exportPreset(
  name: string,
  seed: number,
  opts: PresetExportOptions = {},
): Uint8Array {
  const p = findPreset(name);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`seed: must be an integer >= 0, got ${String(seed)}`);
  }
  const init = opts.init ?? p.init;
  const dtype = opts.dtype ?? p.dtype;
  const params = initMoe(p.model.config, key(seed), { scheme: init, dtype });
  return exportModel(p.model, params, {
    strategy: opts.strategy,
    seed,
    init,
    preset: p.name,
    description: `${p.description} ${INIT_TEXT[init]}, seed ${seed}, ${dtype}.`,
  });
}

/** The file name a preset and seed are shipped under: `<preset>-seed<seed>.onnx`. */
export function presetFileName(name: string, seed: number): string {
  return `${name}-seed${seed}.onnx`;
}
