/** Public API of the MoE model library: configs, parameters, initialization, forward graphs. */
export * from "./config.ts";
export * from "./params.ts";
export * from "./layout.ts";
export * from "./init.ts";
export * from "./moe.ts";
export { deepMoeForward, type DeepMoeForwardResult } from "./deep.ts";
export * from "./reference.ts";
export { activeParams, sharedWidth } from "./shared.ts";
export { expertCapacity, type ExpertChoiceRoute } from "./expert_choice.ts";
export { selection, type TokenChoiceRoute } from "./gates.ts";
export { BALANCE_FIELDS, type BalanceConfig, validateBalance } from "./balance.ts";
