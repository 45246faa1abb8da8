/**
 * Reverse-mode autodiff over a built graph: appends the gradient nodes (standard ONNX ops
 * only) to the same graph. Each op's backward rule lives in rules.ts; this file walks the
 * nodes between the parameters and the loss in reverse order and accumulates gradients.
 */
import { type Graph, GraphError, type Node, type Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import { RULES } from "./rules.ts";
import { makeContext } from "./context.ts";
import { customStep } from "./custom.ts";

export class GradError extends GraphError {
  override name = "GradError";
}

export interface GradOptions {
  /** The gradient of the loss itself (default: 1). */
  seed?: Value;
  /**
   * What a parameter the loss does not depend on gets: `"zeros"` (default), an explicit zero
   * tensor of its shape, or `"undefined"`, nothing (torch's None), e.g. so that an optimizer
   * leaves it untouched as torch's do.
   */
  unused?: "zeros" | "undefined";
}

/**
 * Appends to `g` the gradients of the scalar `loss` with respect to each of `wrt`, and returns
 * them in the same order. A parameter the loss does not depend on (e.g. the router under the
 * `equal` gate) gets an explicit zero tensor of its shape, or undefined with
 * `unused: "undefined"`.
 */
export function grad(
  g: Graph,
  loss: Value,
  wrt: readonly Value[],
  opts?: GradOptions & { unused?: "zeros" },
): Value[];
export function grad(
  g: Graph,
  loss: Value,
  wrt: readonly Value[],
  opts: GradOptions & { unused: "undefined" },
): (Value | undefined)[];
export function grad(
  g: Graph,
  loss: Value,
  wrt: readonly Value[],
  opts: GradOptions = {},
): (Value | undefined)[] {
  if (!isFloat(loss.dtype)) {
    throw new GradError(`grad: loss '${loss.name}' must be a float, got ${loss.dtype}`);
  }
  if (loss.shape && loss.shape.length !== 0) {
    throw new GradError(
      `grad: loss '${loss.name}' must be a scalar, got shape [${loss.shape.join(", ")}]`,
    );
  }
  for (const p of wrt) {
    if (!g.sees(p)) {
      throw new GradError(`grad: parameter '${p.name}' is not visible from graph '${g.name}'`);
    }
    if (!isFloat(p.dtype)) {
      throw new GradError(`grad: parameter '${p.name}' must be a float, got ${p.dtype}`);
    }
  }

  // A node with a custom gradient (custom.ts) depends on its declared inputs instead.
  const inputsOf = (n: Node) => customStep(n)?.inputs ?? n.inputs;
  // Forward reachability from the parameters: which values depend on them, and through
  // which input (kept to name the path when a rule is missing).
  const dependsVia = new Map<Value, Value | null>(wrt.map((p) => [p, null]));
  for (const n of g.nodes) {
    const from = inputsOf(n).find((v) => v && dependsVia.has(v));
    if (!from) continue;
    for (const o of n.outputs) if (isFloat(o.dtype)) dependsVia.set(o, from);
  }
  // Backward reachability from the loss.
  const neededForLoss = new Set<Value>([loss]);
  const onPath: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => neededForLoss.has(o))) continue;
    if (!n.outputs.some((o) => dependsVia.has(o))) continue;
    onPath.push(n);
    for (const v of inputsOf(n)) if (v && dependsVia.has(v)) neededForLoss.add(v);
  }

  const ctx = makeContext(g, (v) => dependsVia.has(v) && neededForLoss.has(v));
  const grads = new Map<Value, Value[]>();
  const push = (v: Value, gv: Value) => {
    const list = grads.get(v);
    if (list) list.push(gv);
    else grads.set(v, [gv]);
  };
  const total = (v: Value): Value | undefined => {
    const list = grads.get(v);
    if (!list || list.length === 0) return undefined;
    const sum = list.length === 1 ? list[0] : g.op.Sum(...list);
    grads.set(v, [sum]);
    return sum;
  };

  push(loss, opts.seed ?? g.literal(1, loss.dtype));
  for (const n of onPath) {
    const gys = n.outputs.map((o) => total(o));
    if (gys.every((x) => x === undefined)) continue;
    const custom = customStep(n);
    if (custom) {
      const gxs = custom.rule(ctx, gys[0]!);
      custom.inputs.forEach((x, i) => {
        const gx = gxs[i];
        if (gx && ctx.needs(x)) push(x, gx);
      });
      continue;
    }
    const rule = RULES[n.opType];
    if (!rule) {
      throw new GradError(
        `grad: no gradient rule for op '${n.opType}' (node ${n.name}) on the path ${
          pathTo(n, dependsVia)
        } -> ... -> ${loss.name}`,
      );
    }
    const gxs = rule(ctx, n, gys);
    n.inputs.forEach((x, i) => {
      const gx = gxs[i];
      if (x && gx && ctx.needs(x)) push(x, gx);
    });
  }
  if (opts.unused === "undefined") return wrt.map((p) => total(p));
  return wrt.map((p) => total(p) ?? ctx.zerosLike(p));
}

function pathTo(n: Node, dependsVia: Map<Value, Value | null>): string {
  const chain: string[] = [n.name];
  let v: Value | null | undefined = n.inputs.find((x) => x && dependsVia.has(x));
  while (v) {
    chain.push(v.producer ? v.producer.name : v.name);
    v = dependsVia.get(v);
  }
  return chain.reverse().join(" -> ");
}
