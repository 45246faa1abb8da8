/**
 * What backward rules need besides the op namespace: which inputs want a gradient, reducing a
 * broadcast gradient back to an input's shape, and zeros of a value's shape. Static shapes are
 * used when known (no extra nodes); otherwise the shape arithmetic happens in the graph.
 */
import type { Dim, Graph, Shape, Value } from "../graph/builder.ts";
import type { Ops } from "../graph/ops.ts";
import { tensor } from "../graph/tensor.ts";

/** What a backward rule builds with. */
export interface RuleContext {
  /** The graph the gradient nodes go into. */
  readonly g: Graph;
  /** Its op namespace. */
  readonly op: Ops;
  /** True when `x` is on a path from a parameter to the loss (a gradient is wanted). */
  needs(x: Value): boolean;
  /** Sums `grad` over the axes along which `x` was broadcast, giving x's shape. */
  unbroadcast(grad: Value, x: Value): Value;
  /** The int64 shape of `x`: a constant when static, else Shape(x). */
  shapeOf(x: Value): Value;
  /** A zero tensor of x's shape and dtype. */
  zerosLike(x: Value): Value;
  /** The constant integer contents of `v`, when known at build time. */
  constInts(v: Value | undefined): number[] | undefined;
}

const isStatic = (s: Shape | undefined): s is number[] =>
  s !== undefined && s.every((d) => typeof d === "number");

function sameDim(a: Dim, b: Dim): boolean {
  return a !== null && a === b;
}

export function makeContext(g: Graph, needs: (x: Value) => boolean): RuleContext {
  const { op } = g;
  const shapeOf = (x: Value): Value =>
    isStatic(x.shape) ? g.constant(tensor("int64", [x.shape.length], x.shape)) : op.Shape(x);
  const constInts = (v: Value | undefined): number[] | undefined => {
    const t = v && g.constValue(v);
    return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
  };
  return {
    g,
    op,
    needs,
    shapeOf,
    constInts,
    zerosLike(x) {
      return op.ConstantOfShape(shapeOf(x), tensor(x.dtype, [1], [0]));
    },
    unbroadcast(grad, x) {
      const gs = grad.shape;
      const xs = x.shape;
      if (gs && xs && gs.length === xs.length && gs.every((d, i) => sameDim(d, xs[i]))) return grad;
      if (gs && xs) {
        // Decide statically when every dim that matters is known.
        const lead = gs.length - xs.length;
        const axes: number[] = [];
        let decided = lead >= 0;
        for (let i = 0; decided && i < gs.length; i++) {
          if (i < lead) axes.push(i);
          else {
            const [dx, dg] = [xs[i - lead], gs[i]];
            if (dx === 1 && dg !== 1) {
              if (dg === null) decided = false;
              else axes.push(i);
            } else if (!sameDim(dx, dg) && !(dx === 1 && dg === 1)) decided = false;
          }
        }
        if (decided) {
          const summed = axes.length ? op.ReduceSum(grad, axes, { keepdims: 1 }) : grad;
          return axes.length || lead ? op.Reshape(summed, shapeOf(x)) : summed;
        }
      }
      // Dynamic: pad x's shape with leading ones to grad's rank and sum where the dims differ.
      const sx = op.Shape(x);
      const sg = op.Shape(grad);
      const pad = op.ConstantOfShape(
        op.Reshape(op.Sub(op.Size(sg), op.Size(sx)), [1]),
        tensor("int64", [1], [1]),
      );
      const padded = op.Concat([pad, sx], { axis: 0 });
      const axes = op.Reshape(op.NonZero(op.Not(op.Equal(padded, sg))), [-1]);
      const summed = op.ReduceSum(grad, axes, { keepdims: 1, noop_with_empty_axes: 1 });
      return op.Reshape(summed, sx);
    },
  };
}
