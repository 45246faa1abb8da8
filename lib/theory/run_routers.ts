/**
 * The routers of a finished sweep run: its teacher (rebuilt from the run config exactly as the
 * executor builds it, or read from its teacher file) and its trained student (the
 * `<dir>/models/<run_id>.onnx` that `deno task sweep --save-models` writes).
 */
import { importModel } from "../export/onnx_export.ts";
import { loadTeacher } from "../experiments/teacher_file.ts";
import type { HostTensor } from "../graph/tensor.ts";
import { moeConfig, shorthand } from "../nn/config.ts";
import { initMoe } from "../nn/init.ts";
import type { ParamSet } from "../nn/params.ts";
import { key } from "../random/prng.ts";
import { decodeRecord, recordPath } from "../sweep/records.ts";
import { RUN_ID_PATTERN } from "../sweep/runid.ts";
import type { RunConfig } from "../sweep/types.ts";
import { type Router, routerFromParams } from "./routers.ts";
import { exists } from "../io/exists.ts";

/** A router with its k and a label for pictures. */
export interface RoutedModel {
  /** Caption of its pictures. */
  label: string;
  /** The routing vectors. */
  router: Router;
  /** Active experts. */
  k: number;
}

function routerOf(params: ParamSet, where: string): Router {
  const w = params.get("moe0.router.weight");
  if (!w) throw new Error(`${where}: no 'moe0.router.weight' parameter (not an MoE layer?)`);
  return routerFromParams(w, params.get("moe0.router.bias") as HostTensor | undefined);
}

/**
 * Teacher and trained student of run `id` in sweep output directory `dir`. Throws a one-line
 * error naming what is missing (the record, a teacher, or the saved student model).
 */
export async function runRouters(
  dir: string,
  id: string,
): Promise<{ config: RunConfig; teacher: RoutedModel; student: RoutedModel }> {
  if (!RUN_ID_PATTERN.test(id)) {
    throw new Error(`run: must be a run id (12 hex characters), got '${id}'`);
  }
  const rec = recordPath(dir, id);
  if (!(await exists(rec))) throw new Error(`run: no run record ${rec}`);
  const { config } = decodeRecord(await Deno.readTextFile(rec), id);
  const t = config.target;
  let teacher: RoutedModel;
  if (t.kind === "teacher") {
    const c = moeConfig(t.teacher);
    const params = initMoe(c, key(t.seed), { scheme: t.init, dtype: config.dtype });
    teacher = { label: `teacher ${shorthand(c.m, c.k)}`, router: routerOf(params, rec), k: c.k };
  } else if (t.kind === "teacher-file") {
    const { config: c, params } = await loadTeacher(t.path, t.sha256, config.dtype);
    teacher = { label: `teacher ${shorthand(c.m, c.k)}`, router: routerOf(params, t.path), k: c.k };
  } else {
    throw new Error(`run: ${id} has no teacher (its target is the function '${t.name}')`);
  }
  const modelPath = `${dir.replace(/\/+$/, "") || "/"}/models/${id}.onnx`;
  if (!(await exists(modelPath))) {
    throw new Error(
      `run: no saved student ${modelPath}; rerun the sweep with --save-models ` +
        `(finished runs are skipped, so use a fresh --out)`,
    );
  }
  const m = importModel(modelPath);
  if (m.kind !== "moe") {
    throw new Error(`run: ${modelPath} holds a '${m.kind}' model; pictures need an MoE layer`);
  }
  const student: RoutedModel = {
    label: `student ${shorthand(m.config.m, m.config.k)} (trained)`,
    router: routerOf(m.params, modelPath),
    k: m.config.k,
  };
  return { config, teacher, student };
}
