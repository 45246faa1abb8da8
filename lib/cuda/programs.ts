/**
 * Every program a sweep builds, without compiling any: the training Loop (its body included),
 * the evaluators and the frozen teacher inside the training graph, as the executor builds them
 * for the chosen execution provider, captured at Session.create (lib/runtime/session.ts).
 */
import { prepareGroup } from "../experiments/prepare.ts";
import { groupKey, studentParamCount, SWEEP_GROUP_MAX_PARAMS } from "../experiments/grouping.ts";
import { captureModels, type ExecutionProvider } from "../runtime/session.ts";
import type { RunConfig } from "../sweep/types.ts";
import { canonicalJson } from "../sweep/runid.ts";
import { auditModel, collapse, type Finding } from "./audit.ts";
import { CudaAuditError, refusalMessage, refusing } from "./gate.ts";

/** One built program: which runs it serves and its serialized model. */
export interface BuiltProgram {
  /** "train" or "eval", with the first run's labels. */
  label: string;
  model: Uint8Array;
}

/**
 * The graphs a run builds do not depend on its learning rate, seeds, labels or experiment
 * name (runtime inputs and parameter values): runs equal up to those build the same programs.
 */
export function programKey(cfg: RunConfig): string {
  const { seed: _s, labels: _l, experiment: _e, ...rest } = cfg;
  const target = rest.target.kind === "teacher" ? { ...rest.target, seed: 0 } : rest.target;
  return canonicalJson({ ...rest, train: { ...rest.train, lr: 0 }, target }, "run");
}

const labelOf = (cfg: RunConfig) =>
  Object.entries(cfg.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");

/**
 * Two runs the sweep would train as one program (equal groupKey, within the parameter budget),
 * if any: the group program adds the students' loss sum to what single runs build.
 */
export function groupPair(runs: readonly RunConfig[]): RunConfig[] | undefined {
  const byKey = new Map<string, RunConfig>();
  for (const r of runs) {
    const w = studentParamCount(r);
    const k = groupKey(r);
    const other = byKey.get(k);
    if (other && studentParamCount(other) + w <= SWEEP_GROUP_MAX_PARAMS) return [other, r];
    if (!other && w <= SWEEP_GROUP_MAX_PARAMS) byKey.set(k, r);
  }
  return undefined;
}

/**
 * Builds, for `ep`, the programs of each distinct run structure (programKey) and of one pair
 * the sweep would group (groupPair).
 */
export async function sweepPrograms(
  runs: readonly RunConfig[],
  ep: ExecutionProvider,
): Promise<BuiltProgram[]> {
  const seen = new Set<string>();
  const out: BuiltProgram[] = [];
  const build = async (cfgs: RunConfig[], tag: string) => {
    const models = await captureModels(async () => {
      const prep = await prepareGroup(cfgs, { ep });
      await prep.release();
    });
    models.forEach((m, i) =>
      out.push({ label: `${i === 0 ? "train" : "eval"}[${tag}]`, model: m.model })
    );
  };
  for (const r of runs) {
    const k = programKey(r);
    if (seen.has(k)) continue;
    seen.add(k);
    await build([r], labelOf(r));
  }
  const pair = groupPair(runs);
  if (pair) await build(pair, `group ${labelOf(pair[0])} + ${labelOf(pair[1])}`);
  return out;
}

/** Audits every program of `runs`, built for `ep`, for the CUDA EP. */
export async function auditRuns(
  runs: readonly RunConfig[],
  ep: ExecutionProvider,
): Promise<{ programs: number; findings: Finding[] }> {
  const progs = await sweepPrograms(runs, ep);
  const findings = progs.flatMap((p) => auditModel(p.model, { label: p.label }));
  return { programs: progs.length, findings };
}

/**
 * The sweep's pre-flight for `--ep cuda`: audits every program built for CUDA and refuses
 * (CudaAuditError, its findings listed on stderr) when one would not run wholly and
 * deterministically on the CUDA EP; fallback nodes pass with `allowCpuFallback`.
 */
export async function refuseCudaSweep(
  runs: readonly RunConfig[],
  allowCpuFallback: boolean,
): Promise<void> {
  const { programs, findings } = await auditRuns(runs, "cuda");
  const bad = refusing(findings, allowCpuFallback);
  if (!bad.length) return;
  const lines = collapse(bad).map(({ finding: f, programs: ps }) =>
    `${f.kind} ${f.path} (${f.op}): ${f.message} [${ps.length} program(s), e.g. ${ps[0]}]`
  );
  console.error(lines.join("\n"));
  throw new CudaAuditError(refusalMessage(bad, programs).split("\n")[0]);
}
