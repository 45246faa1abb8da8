/**
 * The deep MoE of paper B (L-E-MoE): L MoE layers of E experts with top-k routing, optional
 * residual connections and dense layers in between. See `DeepMoeConfig` for the dimensions.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { type DeepMoeConfig, validateDeepMoeConfig } from "./config.ts";
import { deepBlocks } from "./layout.ts";
import { activate, type CostContext, moeLayerForward, type MoeRoute, scopeName } from "./moe.ts";
import { getParam, type ParamValues } from "./params.ts";

export { initDeepMoe } from "./init.ts";

/** The output of `deepMoeForward`. */
export interface DeepMoeForwardResult {
  /** Output, [B, dOut] (dOut = 1: the scalar-output case). */
  y: Value;
  /** Routing of each MoE layer. */
  routes: MoeRoute[];
  /** Strategy built for each MoE layer. */
  strategies: ("dense" | "sparse")[];
}

/**
 * Builds the deep model on x: [B, dIn]. Layer l reads `moe<l>.*` parameters; with
 * `denseBetween`, h -> act(h @ dense<l>.weight + dense<l>.bias) follows every MoE layer but the
 * last; with `residual`, a MoE layer whose input and output dimensions agree adds its input.
 * `cost` tells each layer's `auto` strategy how the model is used (see strategyCost).
 */
export function deepMoeForward(
  g: Graph,
  config: DeepMoeConfig,
  params: ParamValues,
  x: Value,
  cost: CostContext = {},
): DeepMoeForwardResult {
  validateDeepMoeConfig(config);
  const { op } = g;
  const routes: MoeRoute[] = [];
  const strategies: ("dense" | "sparse")[] = [];
  let h = x;
  for (const b of deepBlocks(config)) {
    if (b.kind === "moe") {
      const r = moeLayerForward(g, b.spec, params, h, b.prefix, cost);
      routes.push(r.route);
      strategies.push(r.strategy);
      h = config.residual && b.spec.dIn === b.spec.dOut ? op.Add(r.y, h) : r.y;
    } else {
      h = g.scope(scopeName(b.prefix), () => {
        const z = op.Gemm(
          h,
          getParam(params, b.prefix, "weight"),
          getParam(params, b.prefix, "bias"),
        );
        return activate(g, z, config.activation);
      });
    }
  }
  return { y: h, routes, strategies };
}
