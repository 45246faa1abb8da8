/**
 * Custom gradients for composite forward computations (like tf.custom_gradient): a forward
 * builder declares that `out` depends differentiably only on `inputs`, and gives the backward
 * directly. The autodiff then treats the subgraph that produced `out` as one opaque step and
 * never runs the generic rules of its inner nodes. Used where the generic rules would be far
 * slower than a hand-written adjoint, e.g. a gather by a permutation (generic: ScatterND-add
 * into zeros; adjoint: a gather by the inverse permutation).
 */
import type { Node, Value } from "../graph/builder.ts";
import type { RuleContext } from "./context.ts";
import { GradError } from "./errors.ts";

/**
 * Backward of a custom step: given the gradient of its output, returns the gradients of its
 * declared inputs, in order (undefined where none flows; `ctx.needs(x)` tells which are wanted).
 */
export type CustomRule = (ctx: RuleContext, gy: Value) => (Value | undefined)[];

export interface CustomStep {
  inputs: readonly Value[];
  rule: CustomRule;
}

const STEPS = new WeakMap<Node, CustomStep>();

/**
 * Declares the backward of `out` with respect to `inputs` and returns `out`. `out` must be a
 * node output, built in the same graph as the gradient that will be taken; every path from
 * `inputs` to `out` must lie inside the composite (the inner nodes get no gradient of their own).
 */
export function customGradient(out: Value, inputs: readonly Value[], rule: CustomRule): Value {
  const node = out.producer;
  if (!node || node.outputs.length !== 1) {
    throw new GradError(`customGradient: '${out.name}' must be the single output of a node`);
  }
  STEPS.set(node, { inputs: [...inputs], rule });
  return out;
}

/** The custom step registered for `node`, if any. */
export function customStep(node: Node): CustomStep | undefined {
  return STEPS.get(node);
}
