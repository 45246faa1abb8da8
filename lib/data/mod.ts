/** Input distributions, closed-form targets and deterministic batches for the experiments. */
export * from "./inputs.ts";
export * from "./targets.ts";
export * from "./batches.ts";
