/**
 * Reverse-mode autodiff over a built graph: appends the gradient nodes (standard ONNX ops
 * only) to the same graph. Each op's backward rule is declared with the op (lib/graph/ops/);
 * this file walks the nodes between the parameters and the loss in reverse order, builds only
 * the input gradients that are wanted, sums broadcast gradients back to their inputs' shapes
 * (for the ops that declare `unbroadcast`), checks what each rule returns and accumulates.
 */
import { formatNode, type Graph, type Node, qualifiedName, type Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import { OPS } from "../graph/ops.ts";
import type { OpDef } from "../graph/ops/def.ts";
import { fmtShape } from "../graph/shapes.ts";
import { makeContext } from "./context.ts";
import { customStep } from "./custom.ts";
import { GradError } from "./errors.ts";

export { GradError };

/** Options of `grad`. */
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
/** With `unused: "undefined"`: no gradient (undefined) for a parameter the loss ignores. */
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
  // Gradient nodes are named under grad/<the forward node's scope>: grad/moe0/sparse/...
  const gradScope = (scope: string) => [g.scopePath, "grad", scope].filter((s) => s).join("/");
  const backward = (n: Node) => {
    const gys = n.outputs.map((o) => total(o));
    if (gys.every((x) => x === undefined)) return;
    const custom = customStep(n);
    if (custom) {
      const gxs = custom.rule(ctx, gys[0]!);
      custom.inputs.forEach((x, i) => {
        const gx = gxs[i];
        if (gx && ctx.needs(x)) push(x, checked(n, i, x, gx));
      });
      return;
    }
    const d: OpDef | undefined = Object.hasOwn(OPS, n.opType) ? OPS[n.opType] : undefined;
    if (!d?.grad) {
      throw new GradError(
        `grad: no gradient rule for op '${n.opType}'${d?.noGrad ? ` (${d.noGrad})` : ""} (node ${
          qualifiedName(n)
        }) on the path ${pathTo(n, dependsVia)} -> ... -> ${loss.name}\n  ${formatNode(n)}`,
      );
    }
    const gxs = d.grad(ctx, n, gys);
    if (gxs.length > n.inputs.length) {
      throw new GradError(
        `grad: node ${
          qualifiedName(n)
        } (${n.opType}): its rule returned ${gxs.length} gradients for ${n.inputs.length} inputs\n  ${
          formatNode(n)
        }`,
      );
    }
    n.inputs.forEach((x, i) => {
      const r = gxs[i];
      if (!x || r === undefined || !ctx.needs(x)) return;
      const gx = typeof r === "function" ? r() : r;
      const ub = d.unbroadcast;
      push(x, checked(n, i, x, ub === "all" || ub?.includes(i) ? ctx.unbroadcast(gx, x) : gx));
    });
  };
  for (const n of onPath) g.atScope(gradScope(n.scope), () => backward(n));
  if (opts.unused === "undefined") return wrt.map((p) => total(p));
  return g.atScope(gradScope(""), () => wrt.map((p) => total(p) ?? ctx.zerosLike(p)));
}

/** The gradient `gx` of input `i` of `n`, after checking its dtype and (static) shape. */
function checked(n: Node, i: number, x: Value, gx: Value): Value {
  const bad = gx.dtype !== x.dtype
    ? `dtype ${gx.dtype}`
    : isStatic(gx.shape) && isStatic(x.shape) &&
        (gx.shape.length !== x.shape.length || gx.shape.some((d, j) => d !== x.shape![j]))
    ? `shape ${fmtShape(gx.shape)}`
    : undefined;
  if (bad) {
    throw new GradError(
      `grad: node ${
        qualifiedName(n)
      } (${n.opType}): the gradient of input ${i} ('${x.name}': ${x.dtype}${
        fmtShape(x.shape)
      }) has ${bad}\n  ${formatNode(n)}`,
    );
  }
  return gx;
}

const isStatic = (s: readonly unknown[] | undefined): s is number[] =>
  s !== undefined && s.every((d) => typeof d === "number");

function pathTo(n: Node, dependsVia: Map<Value, Value | null>): string {
  const chain: string[] = [qualifiedName(n)];
  let v: Value | null | undefined = n.inputs.find((x) => x && dependsVia.has(x));
  while (v) {
    chain.push(v.producer ? qualifiedName(v.producer) : v.name);
    v = dependsVia.get(v);
  }
  return chain.reverse().join(" -> ");
}
