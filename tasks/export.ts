/**
 * `deno task export`: writes standalone inference `.onnx` files of MoE models.
 *
 *   deno task export --list
 *   deno task export --preset teacher-16e8a-d256 --seed 0 --out models/teacher-16e8a-d256-seed0.onnx
 *   deno task export --config '{"m":16,"k":8,"w":32,"dIn":256}' --seed 0 --out out/t.onnx
 *   deno task export --manifest            # (re)write models/ and models/manifest.json
 *   deno task export --manifest --check    # regenerate into a temp dir, compare bit for bit
 *
 * `--config` takes an MoE layer config (m, k, w, dIn required; the rest default as in
 * lib/nn/config.ts), or a deep config when it has "layers". Options: --strategy dense|sparse
 * (default dense), --dtype float32|float64 (default float32), --init torch|paper (default
 * torch), --dir (the models directory for --manifest, default models). Parameters are
 * initMoe / initDeepMoe(config, key(seed)). Bad input: a one-line error, nothing written.
 */
import { parseArgs } from "node:util";
import { runMain } from "../lib/cli/args.ts";
import type { FloatDType } from "../lib/graph/dtype.ts";
import { deepMoeConfig, moeConfig } from "../lib/nn/config.ts";
import { INIT_SCHEMES, initDeepMoe, initMoe, type InitScheme } from "../lib/nn/init.ts";
import { key } from "../lib/random/prng.ts";
import {
  canonicalModel,
  checkConfigFields,
  decodeModel,
  EXPORT_STRATEGIES,
  exportModel,
  type ExportStrategy,
  type ModelSpec,
} from "../lib/export/onnx_export.ts";
import { exportPreset, PRESETS } from "../lib/export/presets.ts";
import { checkShipped, MANIFEST_FILE, writeShipped } from "../lib/export/manifest.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";

const USAGE = "usage: deno task export (--list | --preset NAME | --config JSON) " +
  "[--seed N] --out FILE.onnx [--strategy dense|sparse] [--dtype float32|float64] " +
  "[--init torch|paper] | --manifest [--check] [--dir models]";

function choice<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T {
  if (v === undefined) return allowed[0];
  if (!(allowed as readonly string[]).includes(v)) {
    throw new Error(`--${flag}: unknown value '${v}' (allowed: ${allowed.join(", ")})`);
  }
  return v as T;
}

function parseSeed(v: string | undefined): number {
  if (v === undefined) return 0;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
    throw new Error(`--seed: must be an integer >= 0, got '${v}'`);
  }
  return n;
}

/** The model of `--config`: a deep config when it has "layers", else an MoE layer config. */
function parseConfig(text: string): ModelSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`--config: invalid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`--config: must be a JSON object such as '{"m":16,"k":8,"w":32,"dIn":256}'`);
  }
  const kind = "layers" in raw ? "deep" : "moe";
  try {
    // Unknown fields first (canonicalModel names them), then defaults and validation.
    checkConfigFields(kind, raw);
    const config = kind === "deep"
      ? deepMoeConfig(raw as Parameters<typeof deepMoeConfig>[0])
      : moeConfig(raw as Parameters<typeof moeConfig>[0]);
    return canonicalModel({ kind, config });
  } catch (e) {
    throw new Error(`--config: ${(e as Error).message}`);
  }
}

async function main(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      list: { type: "boolean" },
      preset: { type: "string" },
      config: { type: "string" },
      seed: { type: "string" },
      out: { type: "string", short: "o" },
      strategy: { type: "string" },
      dtype: { type: "string" },
      init: { type: "string" },
      manifest: { type: "boolean" },
      check: { type: "boolean" },
      dir: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length) throw new Error(`arguments: unexpected '${positionals[0]}'; ${USAGE}`);
  const modes = (["list", "preset", "config", "manifest"] as const).filter((m) =>
    v[m] !== undefined
  );
  if (modes.length !== 1) {
    throw new Error(
      `mode: give exactly one of --list, --preset, --config, --manifest (got ${
        modes.map((m) => "--" + m).join(", ") || "none"
      })`,
    );
  }
  if (v.check && !v.manifest) throw new Error("--check: only with --manifest");

  if (v.list) {
    for (const p of PRESETS) {
      const c = p.model.config;
      console.log(
        `${p.name.padEnd(22)} m=${c.m} k=${c.k} w=${c.w} d=${c.dIn} ${c.gate} ${c.activation} ` +
          `${p.init} ${p.dtype}`,
      );
    }
    return 0;
  }

  if (v.manifest) {
    const dir = v.dir ?? "models";
    if (v.check) {
      const problems = await checkShipped(dir);
      for (const p of problems) console.error(`export: ${p}`);
      if (problems.length) return 1;
      console.error(`export: ${dir}: shipped models and ${MANIFEST_FILE} regenerate bit for bit`);
      return 0;
    }
    const m = await writeShipped(dir);
    for (const e of m.models) console.error(`export: wrote ${dir}/${e.file} (${e.sha256})`);
    console.error(`export: wrote ${dir}/${MANIFEST_FILE}`);
    return 0;
  }

  const strategy = choice<ExportStrategy>("strategy", v.strategy, EXPORT_STRATEGIES);
  const dtype = choice<FloatDType>("dtype", v.dtype, ["float32", "float64"]);
  const init = choice<InitScheme>("init", v.init, INIT_SCHEMES);
  const seed = parseSeed(v.seed);
  if (v.out === undefined || !v.out.endsWith(".onnx")) {
    throw new Error(`--out: required, a file path ending in .onnx (got ${v.out ?? "none"})`);
  }
  let bytes: Uint8Array;
  if (v.preset !== undefined) {
    const flagged = PRESETS.some((p) => p.name === v.preset);
    if (!flagged) {
      throw new Error(
        `--preset: unknown value '${v.preset}' (allowed: ${PRESETS.map((p) => p.name).join(", ")})`,
      );
    }
    bytes = exportPreset(v.preset, seed, { strategy, dtype, init });
  } else {
    const model = parseConfig(v.config!);
    const params = model.kind === "moe"
      ? initMoe(model.config, key(seed), { scheme: init, dtype })
      : initDeepMoe(model.config, key(seed), { scheme: init, dtype });
    bytes = exportModel(model, params, { strategy, seed, init });
  }
  await writeFileAtomic(v.out, bytes);
  const meta = decodeModel(bytes, v.out).metadata;
  console.error(`export: wrote ${v.out} (${bytes.length} bytes): ${meta.description}`);
  return 0;
}

if (import.meta.main) await runMain("export", () => main(Deno.args));
