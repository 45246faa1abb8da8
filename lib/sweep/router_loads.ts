/**
 * Router load metrics: the load of every expert of an MoE layer (the fraction of the layer's
 * token-slots, B x k, routed to it by the top-k selection), and from the loads the max / mean
 * load ratio, the load entropy divided by ln m (1 = perfectly uniform) and the number of dead
 * experts (load 0). Pure functions: counting a layer's selected indices, the statistics, and
 * the curves.csv / results.csv cells (columns `load_l<l>_e<i>`, `max_mean_load_l<l>`,
 * `load_entropy_l<l>`, `dead_experts_l<l>`, and for expert-choice layers `unrouted_l<l>`, the
 * fraction of tokens no expert took; absent for records without router metrics).
 */

/** One MoE layer's loads after an epoch: loads[i] = fraction of token-slots routed to i. */
export interface LayerLoad {
  /** Per expert, sums to 1. */
  loads: number[];
  /** Expert-choice layers: the fraction of tokens no expert took (column `unrouted_l<l>`). */
  unrouted?: number;
}

/** Most experts a layer may have for per-expert columns (bounds the column count). */
export const MAX_EXPERT_COLUMNS = 64;

/** The loads of m experts from a layer's selected indices (any integer array, B x k flat). */
export function countLoads(indices: ArrayLike<number | bigint>, m: number): number[] {
  const counts = new Array<number>(m).fill(0);
  for (let i = 0; i < indices.length; i++) {
    const e = Number(indices[i]);
    if (!Number.isInteger(e) || e < 0 || e >= m) {
      throw new Error(`indices[${i}]: must be an expert in 0..${m - 1}, got ${e}`);
    }
    counts[e]++;
  }
  return counts.map((c) => c / indices.length);
}

/**
 * An expert-choice layer's loads from its experts' chosen tokens (tokens[e * c + r], [m, c]
 * flat) in a batch of B: every expert holds c of the m c slots, and `unrouted` is the
 * fraction of the B tokens that no expert took.
 */
export function countExpertChoice(
  tokens: ArrayLike<number | bigint>,
  m: number,
  batch: number,
): LayerLoad {
  if (tokens.length % m !== 0) {
    throw new Error(`tokens: length ${tokens.length} is not a multiple of m (=${m})`);
  }
  const taken = new Uint8Array(batch);
  for (let i = 0; i < tokens.length; i++) {
    const t = Number(tokens[i]);
    if (!Number.isInteger(t) || t < 0 || t >= batch) {
      throw new Error(`tokens[${i}]: must be a token in 0..${batch - 1}, got ${t}`);
    }
    taken[t] = 1;
  }
  const covered = taken.reduce((a, b) => a + b, 0);
  return { loads: new Array<number>(m).fill(1 / m), unrouted: 1 - covered / batch };
}

/** max/mean load (m · max load), load entropy / ln m, and the dead experts of loads. */
export function loadStats(
  loads: readonly number[],
): { maxMean: number; entropy: number; dead: number } {
  const m = loads.length;
  const total = loads.reduce((a, b) => a + b, 0);
  const mean = total / m;
  const max = Math.max(...loads);
  let h = 0;
  for (const l of loads) if (l > 0) h -= (l / total) * Math.log(l / total);
  return {
    maxMean: max / mean,
    entropy: m > 1 ? h / Math.log(m) : 1,
    dead: loads.filter((l) => l === 0).length,
  };
}

/** The statistics cells of each layer (the columns results.csv and curves.csv share). */
function statCells(router: readonly LayerLoad[], prefix = ""): Record<string, number> {
  const cells: Record<string, number> = {};
  router.forEach((layer, l) => {
    const s = loadStats(layer.loads);
    cells[`${prefix}max_mean_load_l${l}`] = s.maxMean;
    cells[`${prefix}load_entropy_l${l}`] = s.entropy;
    cells[`${prefix}dead_experts_l${l}`] = s.dead;
    if (layer.unrouted !== undefined) cells[`${prefix}unrouted_l${l}`] = layer.unrouted;
  });
  return cells;
}

/** A curves.csv row's router cells: every expert's load (m ≤ 64) and the statistics. */
export function curveRouterCells(router: readonly LayerLoad[] | undefined): Record<string, number> {
  if (!router) return {};
  const cells: Record<string, number> = {};
  router.forEach((layer, l) => {
    if (layer.loads.length > MAX_EXPERT_COLUMNS) return;
    layer.loads.forEach((v, e) => (cells[`load_l${l}_e${e}`] = v));
  });
  return { ...cells, ...statCells(router) };
}

/** A results.csv row's router cells: the last epoch's statistics (`final_` prefix). */
export function resultRouterCells(
  curves: readonly { router?: LayerLoad[] }[],
): Record<string, number> {
  return statCells(curves[curves.length - 1]?.router ?? [], "final_");
}

/**
 * The router columns present in `rows`, in a stable order: per layer, its expert loads in
 * expert order, then its statistics. Empty when no row has router cells.
 */
export function routerColumns(rows: readonly Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) if (ROUTER_KEY.test(k)) keys.add(k);
  }
  const rank = (k: string) => {
    const [, stat, l, e] = k.match(ROUTER_KEY)!;
    const order = STATS.indexOf(stat.replace(/^final_/, "").replace(/_l$/, ""));
    return [Number(l), order, e === undefined ? 0 : Number(e)];
  };
  return [...keys].sort((a, b) => {
    const ra = rank(a), rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}

const STATS = ["load", "max_mean_load", "load_entropy", "dead_experts", "unrouted"];
const ROUTER_KEY =
  /^((?:final_)?(?:load|max_mean_load|load_entropy|dead_experts|unrouted)_l)(\d+)(?:_e(\d+))?$/;
