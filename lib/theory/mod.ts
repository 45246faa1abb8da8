/**
 * Numerical checks of paper A's theory (arXiv 2505.06839): the region census of Lemma 3.2, the packing
 * of Lemma 3.3, exact 2-D sector masses, and pictures of router partitions.
 */
export * from "./subsets.ts";
export * from "./routers.ts";
export * from "./region_keys.ts";
export * from "./census.ts";
export * from "./exact2d.ts";
export * from "./packing.ts";
export * from "./partition.ts";
export * from "./run_routers.ts";
