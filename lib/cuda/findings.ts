/** What the CUDA audit (lib/cuda/audit.ts) reports: findings, their kinds and their lines. */

/** What a finding is about. The first three are errors, the rest warnings. */
export const FINDING_KINDS = [
  "fallback",
  "nondeterministic",
  "integer",
  "cpu-preferred",
  "host-copy",
  "float64",
] as const;
export type FindingKind = typeof FINDING_KINDS[number];
const ERROR_KINDS: ReadonlySet<FindingKind> = new Set(["fallback", "nondeterministic", "integer"]);

export interface Finding {
  kind: FindingKind;
  /** The node's path: enclosing nodes and subgraph attributes, then its name. */
  path: string;
  op: string;
  message: string;
}

/** Whether a finding stops a CUDA run (fallback, nondeterminism, wrong integer arithmetic). */
export function isError(f: Finding): boolean {
  return ERROR_KINDS.has(f.kind);
}

/** One line per finding, errors first. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const order = (f: Finding) => FINDING_KINDS.indexOf(f.kind);
  return [...findings]
    .sort((a, b) => order(a) - order(b))
    .map((f) =>
      `${isError(f) ? "error" : "warn "} ${f.kind.padEnd(16)} ${f.path} (${f.op}): ${f.message}`
    );
}

/** Findings equal but for their program (the label before ":"), with those programs. */
export interface Collapsed {
  finding: Finding;
  programs: string[];
}

/** Merges findings that differ only in their program (similar programs share node names). */
export function collapse(findings: readonly Finding[]): Collapsed[] {
  const out = new Map<string, Collapsed>();
  for (const f of findings) {
    const cut = f.path.indexOf(":");
    const program = cut < 0 ? "" : f.path.slice(0, cut);
    const inner = cut < 0 ? f.path : f.path.slice(cut + 1);
    const k = `${f.kind}\u0000${inner}\u0000${f.op}\u0000${f.message}`;
    const c = out.get(k) ?? { finding: { ...f, path: inner }, programs: [] };
    c.programs.push(program);
    out.set(k, c);
  }
  return [...out.values()];
}
