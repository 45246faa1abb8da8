/**
 * The router settings of a paper-A student from the overrides (gate family, load balancing,
 * shared experts, routed scale). Each is added to the run config only when given, so the
 * presets' runs and run ids are unchanged without them.
 */
import type { ModelConfig, MoeSpec } from "../sweep/types.ts";
import type { Overrides, Setting } from "./overrides.ts";
import type { BalanceConfig } from "../nn/balance.ts";

/** The overrides a student's router takes. */
export const ROUTER_SETTINGS = [
  "gate",
  "auxLoss",
  "zLoss",
  "biasRate",
  "routedScale",
  "sharedExperts",
] as const satisfies readonly Setting[];

/** The router settings a student may take (a subset of the overrides). */
export type RouterSettings =
  & Pick<Overrides, typeof ROUTER_SETTINGS[number]>
  & { sharedWidth?: number };

/** The student's model config: `layer` with the router settings of `o` applied. */
export function studentRouter(layer: MoeSpec, o: RouterSettings): ModelConfig {
  const l: MoeSpec = { ...layer };
  if (o.gate !== undefined) l.gate = o.gate;
  // Bias balancing needs the selection bias it updates.
  if (o.biasRate !== undefined) l.selectBias = true;
  if (o.routedScale !== undefined) l.routedScale = o.routedScale;
  if (o.sharedExperts !== undefined) l.sharedExperts = o.sharedExperts;
  if (o.sharedWidth !== undefined) l.sharedWidth = o.sharedWidth;
  return { kind: "moe", layer: l, init: "torch", ...balanceOf(o) };
}

/**
 * The balancing settings given in `o` (`auxLoss`, `zLoss`, `biasRate`) as a run config's
 * `balance` field; none given: no field, so the runs keep their ids.
 */
export function balanceOf(
  o: Pick<Overrides, "auxLoss" | "zLoss" | "biasRate">,
): { balance?: BalanceConfig } {
  const balance: BalanceConfig = {};
  if (o.auxLoss !== undefined) balance.auxLoss = o.auxLoss;
  if (o.zLoss !== undefined) balance.zLoss = o.zLoss;
  if (o.biasRate !== undefined) balance.biasRate = o.biasRate;
  return Object.keys(balance).length ? { balance } : {};
}
