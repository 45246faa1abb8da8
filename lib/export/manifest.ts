/**
 * The models shipped in `models/` and their manifest (`models/manifest.json`: for each file its
 * preset, config, seed, sha256 and size). The shipped files are regenerable: `checkShipped`
 * rebuilds them into a temp dir and compares them bit for bit with the shipped ones.
 */
import { sha256Hex } from "../io/hash.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { MoeLayerConfig } from "../nn/config.ts";
import {
  decodeModel,
  type ExportStrategy,
  type ModelKind,
  TOOLKIT_VERSION,
} from "./onnx_export.ts";
import { exportPreset, presetFileName } from "./presets.ts";
import type { FloatDType } from "../graph/dtype.ts";
import type { InitScheme } from "../nn/init.ts";

/** What is shipped: paper A's 16e8a teacher at the full and the quick scale, seed 0. */
export const SHIPPED: readonly { preset: string; seed: number }[] = [
  { preset: "teacher-16e8a-d256", seed: 0 },
  { preset: "teacher-16e8a-d64", seed: 0 },
];

export const MANIFEST_FILE = "manifest.json";
export const REGENERATE_COMMAND = "deno task export --manifest";
export const CHECK_COMMAND = "deno task export --manifest --check";

export interface ManifestEntry {
  file: string;
  preset: string;
  kind: ModelKind;
  config: MoeLayerConfig;
  seed: number;
  init: InitScheme;
  dtype: FloatDType;
  strategy: ExportStrategy;
  /** Parameter scalars. */
  params: number;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: "moe-onnx-models";
  toolkitVersion: string;
  regenerate: string;
  check: string;
  models: ManifestEntry[];
}

export { sha256Hex };

/** Builds the shipped files in memory: file name -> bytes, and the manifest's JSON text. */
export async function buildShipped(): Promise<{ files: Map<string, Uint8Array>; text: string }> {
  const files = new Map<string, Uint8Array>();
  const models: ManifestEntry[] = [];
  for (const s of SHIPPED) {
    const file = presetFileName(s.preset, s.seed);
    const bytes = exportPreset(s.preset, s.seed);
    const meta = decodeModel(bytes, file).metadata;
    files.set(file, bytes);
    models.push({
      file,
      preset: s.preset,
      kind: meta.kind,
      config: meta.config as MoeLayerConfig,
      seed: s.seed,
      init: meta.init!,
      dtype: meta.dtype,
      strategy: meta.strategy,
      params: meta.params,
      bytes: bytes.length,
      sha256: await sha256Hex(bytes),
    });
  }
  const manifest: Manifest = {
    format: "moe-onnx-models",
    toolkitVersion: TOOLKIT_VERSION,
    regenerate: REGENERATE_COMMAND,
    check: CHECK_COMMAND,
    models,
  };
  return { files, text: JSON.stringify(manifest, null, 2) + "\n" };
}

/** (Re)writes the shipped models and the manifest into `dir`, each file atomically. */
export async function writeShipped(dir: string): Promise<Manifest> {
  const { files, text } = await buildShipped();
  for (const [file, bytes] of files) await writeFileAtomic(`${dir}/${file}`, bytes);
  await writeFileAtomic(`${dir}/${MANIFEST_FILE}`, text);
  return JSON.parse(text);
}

async function readOrUndefined(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Regenerates the shipped models and manifest into a fresh temp dir and compares them with
 * those in `dir`, bit for bit (sha256). Returns one line per problem (empty: all match); also
 * reports `.onnx` files in `dir` that the manifest does not list.
 */
export async function checkShipped(dir: string): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "moe-onnx-models-" });
  try {
    const manifest = await writeShipped(tmp);
    const problems: string[] = [];
    const hint = `(regenerate with: ${REGENERATE_COMMAND})`;
    for (const e of manifest.models) {
      const path = `${dir}/${e.file}`;
      const shipped = await readOrUndefined(path);
      if (!shipped) {
        problems.push(`${path}: missing ${hint}`);
        continue;
      }
      const sha = await sha256Hex(shipped);
      if (sha !== e.sha256) {
        problems.push(
          `${path}: sha256 ${sha} (${shipped.length} bytes) differs from the regenerated ` +
            `${e.sha256} (${e.bytes} bytes) ${hint}`,
        );
      }
    }
    const mPath = `${dir}/${MANIFEST_FILE}`;
    const shippedManifest = await readOrUndefined(mPath);
    const fresh = await Deno.readFile(`${tmp}/${MANIFEST_FILE}`);
    if (!shippedManifest) problems.push(`${mPath}: missing ${hint}`);
    else if (await sha256Hex(shippedManifest) !== await sha256Hex(fresh)) {
      problems.push(`${mPath}: differs from the regenerated manifest ${hint}`);
    }
    const listed = new Set(manifest.models.map((e) => e.file));
    for await (const f of Deno.readDir(dir)) {
      if (f.isFile && f.name.endsWith(".onnx") && !listed.has(f.name)) {
        problems.push(`${dir}/${f.name}: not listed in ${MANIFEST_FILE}`);
      }
    }
    return problems;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
