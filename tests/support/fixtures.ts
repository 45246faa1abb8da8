/** Model configurations shared by the tests (one spelling of each fixture). */
import type { Activation, DeepMoeInput, Gate, MoeLayerInput } from "../../lib/nn/config.ts";

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

/**
 * The small MoE layer of the gate x activation sweeps (6 experts of width 4, 5 -> 3), top `k`,
 * with router and expert biases varied by the case number `i`.
 */
export function gateCase(gate: Gate, activation: Activation, k: number, i: number): MoeLayerInput {
  return {
    m: 6,
    k,
    w: 4,
    dIn: 5,
    dOut: 3,
    gate,
    activation,
    routerBias: i % 2 === 0,
    expertBias: i % 4 !== 1,
  };
}

/** `deno task sweep` arguments for a tiny fig2 (two architectures at d = 16, small data). */
export const TINY_FIG2_ARGS: readonly string[] = [
  "fig2",
  ...["--archs", "4e2a,8e4a", "--d", "16", "--samples-per-epoch", "2048", "--batch", "256"],
  ...["--test-samples", "512"],
];

/** TINY_FIG2_ARGS trained for 2 epochs on 1 thread (a real sweep in seconds). */
export const TINY_FIG2_RUN: readonly string[] = [
  ...TINY_FIG2_ARGS,
  ...["--epochs", "2", "--threads", "1"],
];
