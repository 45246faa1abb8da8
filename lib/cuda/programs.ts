/**
 * Every program a sweep builds, without compiling any: the training Loop (its body included),
 * the evaluators and the frozen teacher inside the training graph, as the executor builds them
 * for the chosen execution provider, captured at Session.create (lib/runtime/session.ts).
 */
import { prepareGroup } from "../experiments/executor.ts";
import { captureModels, type ExecutionProvider } from "../runtime/session.ts";
import type { RunConfig } from "../sweep/types.ts";
import { canonicalJson } from "../sweep/runid.ts";
import { auditModel, type Finding } from "./audit.ts";

/** One built program: which runs it serves and its serialized model. */
export interface BuiltProgram {
  /** "train" or "eval", with the first run's labels. */
  label: string;
  model: Uint8Array;
}

/**
 * The graph a run builds does not depend on its learning rate, seed, labels or experiment name
 * (runtime inputs and parameter values); runs equal up to those build the same programs.
 */
export function programKey(cfg: RunConfig): string {
  const { seed: _s, labels: _l, experiment: _e, ...rest } = cfg;
  const { lr: _lr, ...train } = rest.train;
  const target = rest.target.kind === "teacher" ? { ...rest.target, seed: 0 } : rest.target;
  return canonicalJson({ ...rest, train, target }, "run");
}

const labelOf = (cfg: RunConfig) =>
  Object.entries(cfg.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");

/**
 * Builds the programs of each distinct run structure (programKey) for `ep`, plus one group
 * program (two runs' students in one training Loop) when `grouped` has such a pair.
 */
export async function sweepPrograms(
  runs: readonly RunConfig[],
  ep: ExecutionProvider,
  grouped: readonly RunConfig[][] = [],
): Promise<BuiltProgram[]> {
  const seen = new Set<string>();
  const out: BuiltProgram[] = [];
  const build = async (cfgs: RunConfig[], tag: string) => {
    const models = await captureModels(async () => {
      const prep = await prepareGroup(cfgs, { ep });
      await prep.release();
    });
    const what = ["train", ...models.slice(1).map(() => "eval")];
    models.forEach((m, i) => out.push({ label: `${what[i]}[${tag}]`, model: m.model }));
  };
  for (const r of runs) {
    const k = programKey(r);
    if (seen.has(k)) continue;
    seen.add(k);
    await build([r], labelOf(r));
  }
  for (const g of grouped) {
    if (g.length < 2) continue;
    await build(g.slice(0, 2), `group:${labelOf(g[0])}+${labelOf(g[1])}`);
    break;
  }
  return out;
}

/** Audits every program of `runs` for the CUDA EP. */
export async function auditRuns(
  runs: readonly RunConfig[],
  ep: ExecutionProvider,
  grouped: readonly RunConfig[][] = [],
): Promise<{ programs: number; findings: Finding[] }> {
  const progs = await sweepPrograms(runs, ep, grouped);
  const findings = progs.flatMap((p) => auditModel(p.model, { label: p.label }));
  return { programs: progs.length, findings };
}
