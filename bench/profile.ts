/**
 * Summarizes an onnxruntime JSON profile (SessionOptions.profilePrefix): kernel time per op type
 * and per node, Loop bodies included, and per named scope (`moe0/sparse`, `grad/moe0/sparse`: the
 * node names' prefixes, see Graph.scope). Run: deno run --allow-read bench/profile.ts FILE [--top N]
 */
import { parseArgs } from "node:util";

interface Event {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** The scope of a node name: everything before its last "/" ("-" for none). */
export const scopeOf = (node: string): string => {
  const i = node.lastIndexOf("/");
  return i < 0 ? "-" : node.slice(0, i);
};

/** Kernel time per op type, per node name and per scope, in microseconds, largest first. */
export function summarizeProfile(events: Event[]): {
  byOp: [string, number, number][];
  byNode: [string, number][];
  byScope: [string, number][];
  totalUs: number;
} {
  const byOp = new Map<string, [number, number]>();
  const byNode = new Map<string, number>();
  const byScope = new Map<string, number>();
  let totalUs = 0;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time") || e.dur === undefined) continue;
    const op = e.args?.op_name ?? "?";
    // A Loop's time includes its body's nodes, which are listed too.
    if (op !== "Loop") totalUs += e.dur;
    const cur = byOp.get(op) ?? [0, 0];
    byOp.set(op, [cur[0] + e.dur, cur[1] + 1]);
    const node = e.name.slice(0, -"_kernel_time".length);
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur);
    if (op !== "Loop") byScope.set(scopeOf(node), (byScope.get(scopeOf(node)) ?? 0) + e.dur);
  }
  return {
    byOp: [...byOp].map(([k, [us, n]]): [string, number, number] => [k, us, n]).sort((a, b) =>
      b[1] - a[1]
    ),
    byNode: [...byNode].sort((a, b) => b[1] - a[1]),
    byScope: [...byScope].sort((a, b) => b[1] - a[1]),
    totalUs,
  };
}

if (import.meta.main) {
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    options: { top: { type: "string" } },
    allowPositionals: true,
  });
  const top = Number(v.top ?? 25);
  for (const file of positionals) {
    const s = summarizeProfile(JSON.parse(await Deno.readTextFile(file)));
    console.log(`${file}: ${(s.totalUs / 1000).toFixed(1)} ms in kernels (Loop excluded)`);
    for (const [op, us, n] of s.byOp.slice(0, top)) {
      console.log(`  ${op.padEnd(24)} ${(us / 1000).toFixed(1).padStart(9)} ms  ${n} calls`);
    }
    console.log("  -- scopes");
    for (const [scope, us] of s.byScope.slice(0, top)) {
      console.log(`  ${scope.padEnd(48)} ${(us / 1000).toFixed(1).padStart(9)} ms`);
    }
    console.log("  -- nodes");
    for (const [node, us] of s.byNode.slice(0, top)) {
      console.log(`  ${node.padEnd(48)} ${(us / 1000).toFixed(1).padStart(9)} ms`);
    }
  }
}
