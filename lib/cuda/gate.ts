/**
 * The check every CUDA session runs on its model before compiling it, and the sweep's
 * pre-flight over all its programs: refuses a program with a node that would run on the CPU
 * (unless CPU fallback is allowed), a nondeterministic kernel or a wrong integer reduction.
 */
import { auditModel, type Finding, formatFindings, isError } from "./audit.ts";

export class CudaAuditError extends Error {
  override name = "CudaAuditError";
}

/** The findings that refuse a CUDA run: every error, fallbacks only unless allowed. */
export function refusing(findings: readonly Finding[], allowCpuFallback = false): Finding[] {
  return findings.filter((f) => isError(f) && !(allowCpuFallback && f.kind === "fallback"));
}

/** The one-line refusal (first finding named), then every refusing finding, one per line. */
export function refusalMessage(bad: readonly Finding[], programs = 1): string {
  const first = bad[0];
  const head = `ep: cuda: ${bad.length} node(s) in ${programs} program(s) would not run as ` +
    `intended on the CUDA EP (first: ${first.path} (${first.op}): ${first.message}); ` +
    `see 'deno task audit'` +
    (bad.some((f) => f.kind === "fallback") ? "; --allow-cpu-fallback runs them on the CPU" : "");
  return [head, ...formatFindings(bad)].join("\n");
}

/** Throws CudaAuditError when `model` would not run wholly and deterministically on CUDA. */
export function checkCudaModel(model: Uint8Array, allowCpuFallback = false): void {
  const bad = refusing(auditModel(model), allowCpuFallback);
  if (bad.length) throw new CudaAuditError(refusalMessage(bad));
}
