/**
 * Parameter groups. Base learning rates are a runtime graph input of shape [G] (one per group),
 * so a learning-rate sweep feeds a different tensor instead of rebuilding the graph. Intended
 * flow inside the training Loop body:
 *
 *   const lrs = groupLrsInput(g, "float32", 2);                  // main graph input [2]
 *   const now = scheduledLr(body, spec, lrs, globalStep);        // [2], scheduled once per step
 *   const ctx = { lr: groupLr(body, now, i), step: optimizerStep(body, globalStep, "float32") };
 *   opt.update(body, param, grad, state, ctx);                   // for every param of group i
 *
 * Reuse one ctx object per group so the optimizer's per-step scalars are built once per group.
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";
import { checkNumber, nonNegative } from "../validate.ts";

/** Declares the graph input holding the base lr of each of `groups` groups: shape [groups]. */
export function groupLrsInput(g: Graph, dtype: FloatDType, groups: number, name = "lrs"): Value {
  checkNumber("groups", groups, "an integer > 0", (x) => Number.isInteger(x) && x > 0);
  return g.input(name, dtype, [groups]);
}

/** The feed for `groupLrsInput`: base lrs in group order (each finite and >= 0). */
export function groupLrsFeed(dtype: FloatDType, lrs: readonly number[]): HostTensor {
  if (lrs.length === 0) throw new Error("lrs: must hold one base lr per group, got none");
  lrs.forEach((x, i) => checkNumber(`lrs[${i}]`, x, "a number >= 0", nonNegative));
  return tensor(dtype, [lrs.length], lrs);
}

/** Group `index`'s lr as a scalar: Gather(lrs, index) from a [G] vector (base or scheduled). */
export function groupLr(g: Graph, lrs: Value, index: number): Value {
  const n = lrs.shape?.length === 1 ? lrs.shape[0] : undefined;
  if (lrs.shape && lrs.shape.length !== 1) {
    throw new Error(`groupLr: lrs must have shape [G], got ${lrs}`);
  }
  const bound = typeof n === "number" ? n : Infinity;
  checkNumber(
    "groupLr.index",
    index,
    `an integer in [0, ${typeof n === "number" ? n - 1 : "G-1"}]`,
    (x) => Number.isInteger(x) && x >= 0 && x < bound,
  );
  return g.op.Gather(lrs, g.literal(BigInt(index), "int64"));
}
