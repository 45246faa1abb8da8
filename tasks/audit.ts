/**
 * `deno task audit [EXPERIMENT|--grid F] [--ep cuda] [settings]`: builds every program the sweep
 * would build (training Loop with its body, evaluators, the teacher inside the training graph;
 * one of each distinct run structure, plus one grouped pair) for the chosen execution provider
 * and checks each node against onnxruntime 1.30's CUDA kernels (lib/cuda). Lists the nodes that
 * would run on the CPU, nondeterministic kernels, wrong integer reductions, GPU values read from
 * host memory and float64 arithmetic. Static: nothing is compiled or run. Exit 1 when a node
 * would fall back to the CPU (or any other error), 0 when clean.
 */
import { choiceFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { parseSweepArgs, resolveSweep } from "../lib/cli/sweep_args.ts";
import { EXPERIMENTS } from "../lib/experiments/registry.ts";
import { checkRunShape } from "../lib/experiments/executor.ts";
import { EXECUTION_PROVIDERS } from "../lib/runtime/session.ts";
import { auditRuns } from "../lib/cuda/programs.ts";
import { collapse, FINDING_KINDS, isError } from "../lib/cuda/audit.ts";

const HELP = `usage: deno task audit [EXPERIMENT|--grid FILE.json] [--ep cpu|cuda] [settings]

Checks every program a sweep would build against onnxruntime 1.30's CUDA execution provider
(kernel table: lib/cuda/kernels.ts) without compiling or running anything.

  --ep cuda|cpu   build the programs as --ep cuda (default) or --ep cpu would
  --scale, --grid and the settings flags select runs as in 'deno task sweep --help'
  --list          list the experiments

Errors (exit 1): fallback (a node without a CUDA kernel for its op, opset or dtypes runs on the
CPU), nondeterministic (atomics), integer (a kernel that reduces integers as floats).
Warnings: cpu-preferred (onnxruntime places shape arithmetic on the CPU), host-copy (a GPU value
a kernel reads from host memory: a copy and sync), float64 (non-scalar float64 arithmetic).`;

/** Sweep flags that select runs; the others (where and how to train) mean nothing here. */
const AUDIT_FLAGS = new Set(["scale", "grid", "ep", "help", "list"]);

async function main(): Promise<number> {
  const args = parseSweepArgs(Deno.args);
  const flags = args.flags as Record<string, string | boolean | undefined>;
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.list) {
    for (const e of Object.values(EXPERIMENTS)) {
      console.log(`${e.name.padEnd(12)} ${e.description}`);
    }
    return 0;
  }
  for (const f of Object.keys(flags)) {
    if (!AUDIT_FLAGS.has(f)) throw new UsageError(`--${f}: not an audit flag (see --help)`);
  }
  const ep = choiceFlag("ep", flags.ep as string | undefined, EXECUTION_PROVIDERS) ?? "cuda";
  const sweep = await resolveSweep(args);
  sweep.runs.forEach((r, i) => {
    try {
      checkRunShape(r);
    } catch (e) {
      throw new UsageError(`run ${i} (${JSON.stringify(r.labels)}): ${(e as Error).message}`);
    }
  });
  const { programs, findings } = await auditRuns(sweep.runs, ep);
  const groups = collapse(findings);
  const order = (k: string) => FINDING_KINDS.indexOf(k as never);
  groups.sort((a, b) => order(a.finding.kind) - order(b.finding.kind));
  for (const { finding: f, programs: ps } of groups) {
    const where = ps.length === 1 ? ps[0] : `${ps.length} programs, e.g. ${ps[0]}`;
    console.log(
      `${isError(f) ? "error" : "warn "} ${f.kind.padEnd(16)} ${f.path} (${f.op}): ${f.message} ` +
        `[${where}]`,
    );
  }
  const count = (k: string) => findings.filter((f) => f.kind === k).length;
  const errors = findings.filter(isError).length;
  console.log(
    `${sweep.name}: ${sweep.runs.length} runs, ${programs} programs built for --ep ${ep}: ` +
      (findings.length
        ? FINDING_KINDS.filter((k) => count(k)).map((k) => `${count(k)} ${k}`).join(", ")
        : "clean") +
      (errors ? "" : findings.length ? " (no errors)" : ""),
  );
  return errors ? 1 : 0;
}

await runMain("audit", main);
