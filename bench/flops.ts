/**
 * Useful FLOPs of one training step: the FLOPs of the computation a perfectly sparse
 * implementation must do, so dense-vs-sparse choices and padding do not inflate it.
 *
 * For an (m, k, w, dIn -> dOut) MoE layer on a batch of B rows, the active forward is
 *   router 2 B dIn m  +  experts 2 B k w (dIn + dOut)  (+ 2 B k w^2 per extra expert hidden layer).
 * A step = teacher forward (active) + student forward and backward. The backward of a matmul
 * costs twice its forward (weight gradient + input gradient), except that the student's first
 * layer computes no input gradient (the data needs none): its router and first expert matmul
 * count their weight gradient only. Elementwise work, the loss and AdamW are not counted.
 * Closed-form targets (paper B) cost nothing here.
 */
import { deepLayerSpec, deepMoeConfig, moeConfig } from "../lib/nn/config.ts";
import type { MoeSpec, RunConfig } from "../lib/sweep/types.ts";

/** Active forward FLOPs of one MoE layer on `batch` rows. */
export function moeForwardFlops(
  s: Pick<MoeSpec, "m" | "k" | "w" | "dIn" | "dOut">,
  batch: number,
  depth = 1,
): number {
  const router = 2 * batch * s.dIn * s.m;
  const experts = 2 * batch * s.k * s.w * (s.dIn + s.dOut + s.w * (depth - 1));
  return router + experts;
}

/**
 * FLOPs of the input gradient of one MoE layer's router and first expert matmul on `batch` rows,
 * which the first layer of a student does not compute.
 */
export function moeInputGradFlops(
  s: Pick<MoeSpec, "m" | "k" | "w" | "dIn">,
  batch: number,
): number {
  return 2 * batch * s.dIn * s.m + 2 * batch * s.k * s.w * s.dIn;
}

type LayerShape = Pick<MoeSpec, "m" | "k" | "w" | "dIn" | "dOut"> & { depth: number };

/** The MoE layers of the student of `cfg`, first to last. */
function studentLayers(cfg: RunConfig): LayerShape[] {
  if (cfg.model.kind === "moe") return [{ ...moeConfig(cfg.model.layer), depth: 1 }];
  const c = deepMoeConfig(cfg.model.deep as Parameters<typeof deepMoeConfig>[0]);
  return Array.from({ length: c.layers }, (_, l) => deepLayerSpec(c, l));
}

/** Active forward FLOPs of the student of `cfg` on one batch. */
export function studentForwardFlops(cfg: RunConfig): number {
  return studentLayers(cfg).reduce((n, s) => n + moeForwardFlops(s, cfg.train.batch, s.depth), 0);
}

/** Active forward FLOPs of the in-graph teacher of `cfg` on one batch (0 for other targets). */
export function teacherFlops(cfg: RunConfig): number {
  return cfg.target.kind === "teacher"
    ? moeForwardFlops(moeConfig(cfg.target.teacher), cfg.train.batch)
    : 0;
}

/**
 * Useful FLOPs of one step of `cfg`: teacher forward + student forward and backward
 * (3x forward, less the first layer's input gradient).
 */
export function usefulStepFlops(cfg: RunConfig): number {
  const student = 3 * studentForwardFlops(cfg) -
    moeInputGradFlops(studentLayers(cfg)[0], cfg.train.batch);
  return teacherFlops(cfg) + student;
}
