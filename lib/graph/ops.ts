/**
 * The op table and the `op` namespace. Each op is declared once, in its family's table
 * (lib/graph/ops/*.ts): signature, typed wrapper, shape rule and backward rule together.
 * `g.op` is one typed function per op, in the style of onnxscript's `op.MatMul(a, b)`;
 * attributes go in a trailing options object (`op.TopK(x, k, { axis: 0, largest: 0 })`), and
 * literal operands become named constants of the matching dtype.
 */
import type { Graph } from "./builder.ts";
import type { OpDef } from "./ops/def.ts";
import { ELEMENTWISE } from "./ops/elementwise.ts";
import { LINALG } from "./ops/linalg.ts";
import { REDUCE } from "./ops/reduce.ts";
import { LAYOUT } from "./ops/layout.ts";
import { INDEXING } from "./ops/indexing.ts";
import { CREATE } from "./ops/create.ts";

/**
 * The op table, with each op's wrapper type (read OPS instead).
 * @ignore
 */
export const OP_TABLE = {
  ...ELEMENTWISE,
  ...LINALG,
  ...REDUCE,
  ...LAYOUT,
  ...INDEXING,
  ...CREATE,
};

/** Every op the builder knows, by ONNX op type. */
export const OPS: Readonly<Record<string, OpDef>> = OP_TABLE;

/** The type of the op table. */
export type OpTable = typeof OP_TABLE;
/** The wrapper type of an op declaration. */
export type WrapOf<D> = D extends OpDef<infer W> ? W : never;
/** The ops that have a wrapper (Loop and If are built with g.loop and g.ifElse). */
export type WrappedOp = {
  [K in keyof OpTable]: unknown extends WrapOf<OpTable[K]> ? never : K;
}[keyof OpTable];

/** The `op` namespace of a graph: `g.op.MatMul(a, b)`. */
export type Ops = { [K in WrappedOp]: WrapOf<OpTable[K]> };

/** Binds every op's wrapper to `g`. */
export function makeOps(g: Graph): Ops {
  const out: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(OPS)) {
    if (d.wrap) {
      out[name] = d.wrap((ins, attrs = {}, opts) => g.node(name, ins, attrs as never, opts));
    }
  }
  return out as Ops;
}
