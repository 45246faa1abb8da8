/** Public API of the MoE model library: configs, parameters, initialization, forward graphs. */
export * from "./config.ts";
export * from "./params.ts";
export * from "./layout.ts";
export * from "./init.ts";
export * from "./moe.ts";
export { deepMoeForward, type DeepMoeForwardResult } from "./deep.ts";
export * from "./reference.ts";
export { activeParams, sharedWidth } from "./shared.ts";
