/**
 * Exact region masses of a bias-free router on R^2 under any rotation-invariant input
 * distribution. Without a bias every region U_S is a union of angular sectors (scores scale with
 * |x|), and the ranking of the scores changes only where two scores tie: <r_i - r_j, x> = 0, i.e.
 * at the two angles perpendicular to r_i - r_j. Between consecutive such angles the top-k set is
 * constant, so the mass of U_S is the total angle of its sectors divided by 2 pi. This is the
 * analytic reference the Monte-Carlo census is tested against.
 */
import { checkRouter, type Router, routerScores, topKSet } from "./routers.ts";
import { subsetKey } from "./subsets.ts";

/** One maximal arc of constant top-k set: angles in radians, from <= to, `from` in [0, 2 pi). */
export interface Sector {
  /** Start angle. */
  from: number;
  /** End angle. */
  to: number;
  /** Bitmask key of the arc's top-k set. */
  key: bigint;
}

/** The sectors of constant top-k set of a 2-D router without bias, in increasing angle. */
export function sectors2d(router: Router, k: number): Sector[] {
  checkRouter(router);
  if (router.d !== 2) throw new Error(`router.d: must be 2 for exact sectors, got ${router.d}`);
  if (router.bias) throw new Error("router.bias: exact sectors need a router without bias");
  const { m, weight: w } = router;
  const TWO_PI = 2 * Math.PI;
  const cuts: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const vx = w[i] - w[j];
      const vy = w[m + i] - w[m + j];
      if (vx === 0 && vy === 0) continue; // identical vectors always tie: no ranking change
      const phi = Math.atan2(vy, vx);
      for (const t of [phi + Math.PI / 2, phi - Math.PI / 2]) {
        cuts.push(((t % TWO_PI) + TWO_PI) % TWO_PI);
      }
    }
  }
  cuts.sort((a, b) => a - b);
  if (cuts.length === 0) cuts.push(0);
  const keyAt = (theta: number) =>
    subsetKey(topKSet(routerScores(router, [Math.cos(theta), Math.sin(theta)]), k));
  const out: Sector[] = [];
  for (let i = 0; i < cuts.length; i++) {
    const from = cuts[i];
    const to = i + 1 < cuts.length ? cuts[i + 1] : cuts[0] + TWO_PI;
    if (to - from <= 0) continue;
    const key = keyAt((from + to) / 2);
    const last = out[out.length - 1];
    if (last && last.key === key && last.to === from) last.to = to;
    else out.push({ from, to, key });
  }
  // The arc across 2 pi may continue the first one.
  if (out.length > 1 && out[0].key === out[out.length - 1].key) {
    const last = out.pop()!;
    out[0] = { from: last.from, to: out[0].to + 2 * Math.PI, key: last.key };
  }
  return out;
}

/** Exact mass of every region with positive mass: total sector angle / (2 pi), by key. */
export function exactMasses2d(router: Router, k: number): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const s of sectors2d(router, k)) {
    out.set(s.key, (out.get(s.key) ?? 0) + (s.to - s.from) / (2 * Math.PI));
  }
  return out;
}
