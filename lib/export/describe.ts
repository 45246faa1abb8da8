/** The human description (`doc_string`) of an exported model. */
import { type MoeLayerConfig, shorthand } from "../nn/config.ts";
import type { ModelMetadata, ModelSpec } from "./format.ts";

/** A one-paragraph human description of a model. */
export function describeModel(
  model: ModelSpec,
  meta: Pick<ModelMetadata, "seed" | "init" | "dtype" | "strategy">,
): string {
  const origin = `${meta.init ?? "unknown"} init, seed ${meta.seed ?? "unknown"}`;
  const tail = `${origin}; ${meta.dtype}; ${meta.strategy} graph. ` +
    `Input x [batch, ${model.config.dIn}], output y [batch, ${model.config.dOut}].`;
  if (model.kind === "moe") {
    const c = model.config;
    return `(${c.m}, ${c.k}, ${c.w}, ${c.dIn})-MoE layer ${shorthand(c.m, c.k)}: ${c.m} experts, ` +
      `${c.k} active, expert width ${c.w}, ${c.dIn} -> ${c.dOut}, gate ${c.gate}, ` +
      `activation ${c.activation}, ${c.routerBias ? "router bias" : "no router bias"}, ` +
      `${c.expertBias ? "expert biases" : "no expert biases"}${routerExtras(c)}; ${tail}`;
  }
  const c = model.config;
  return `${c.layers}-${c.experts}-MoE deep model: ${c.layers} MoE layers of ${c.experts} ` +
    `experts, ${c.k} active, experts with ${c.expertDepth} hidden layer(s) of width ` +
    `${c.expertWidth}, hidden dim ${c.hiddenDim}, ${c.dIn} -> ${c.dOut}, gate ${c.gate}, ` +
    `activation ${c.activation}${c.residual ? ", residual" : ""}` +
    `${c.denseBetween ? ", dense layers between" : ""}; ${tail}`;
}

/** The optional router settings of a layer, for its description ("" when none). */
function routerExtras(c: MoeLayerConfig): string {
  const parts: string[] = [];
  if (c.selectBias) parts.push("selection bias");
  if (c.routedScale !== undefined) parts.push(`routed scale ${c.routedScale}`);
  return parts.map((p) => `, ${p}`).join("");
}
