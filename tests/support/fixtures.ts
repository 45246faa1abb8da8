/** Model configurations shared by the tests (one spelling of each fixture). */
import type { DeepMoeInput } from "../../lib/nn/config.ts";

/**
 * The deep MoE that exercises every deep feature at a small size: 2 layers of 3 experts (top 2),
 * 2-layer experts of width 4, residual connections and a dense layer between the MoE layers.
 */
export const DEEP_2_3: DeepMoeInput = {
  dIn: 4,
  dOut: 2,
  layers: 2,
  experts: 3,
  k: 2,
  expertWidth: 4,
  expertDepth: 2,
  residual: true,
  denseBetween: true,
};

/** The parameter names of a one-layer MoE with router and expert biases, in layout order. */
export const MOE_PARAM_NAMES: readonly string[] = [
  "moe0.router.weight",
  "moe0.router.bias",
  "moe0.experts.w1",
  "moe0.experts.b1",
  "moe0.experts.w2",
  "moe0.experts.b2",
];
