/** How the sweep engine batches pending runs into groups (one program per group). */
import type { RunConfig } from "./types.ts";

/** A grouping: runs with equal key train together, up to a total weight. */
export interface GroupSpec {
  key(config: RunConfig): string;
  weight?(config: RunConfig): number;
  maxWeight?: number;
}

/**
 * Pending runs partitioned by key, each group in the order of its first run, then split in
 * order into consecutive groups of total weight at most maxWeight.
 */
export function groups<T extends { config: RunConfig }>(
  runs: T[],
  spec: GroupSpec,
): T[][] {
  const byKey = new Map<string, T[]>();
  for (const r of runs) {
    const k = spec.key(r.config);
    const g = byKey.get(k);
    if (g) g.push(r);
    else byKey.set(k, [r]);
  }
  const max = spec.maxWeight ?? Infinity;
  const weight = spec.weight ?? (() => 0);
  const out: T[][] = [];
  for (const same of byKey.values()) {
    let cur: T[] = [];
    let total = 0;
    for (const r of same) {
      const w = weight(r.config);
      if (cur.length > 0 && total + w > max) {
        out.push(cur);
        cur = [];
        total = 0;
      }
      cur.push(r);
      total += w;
    }
    out.push(cur);
  }
  return out;
}
