/**
 * What one ONNX op declares, in one place: its type signature (inputs, outputs, attributes),
 * its typed wrapper in the `op` namespace, its static shape rule and its backward rule. The
 * op families (elementwise.ts, linalg.ts, reduce.ts, layout.ts, indexing.ts, create.ts) are
 * tables of these; lib/graph/ops.ts joins them into `OPS`, from which the builder's schema
 * checks, `g.op`, shape inference and the autodiff all read.
 */
import type { Attr, Graph, Node, NodeOptions, Operand, Shape, Value } from "../builder.ts";
import type { RuleContext } from "../../autodiff/context.ts";
import { GradError } from "../../autodiff/errors.ts";

/** The type of an attribute, as encoded. */
export type AttrType = "float" | "int" | "string" | "floats" | "ints" | "tensor" | "graph";

/**
 * An input slot: a type variable ("T", "U", "I") that must agree across slots, a fixed
 * dtype, or "*" (any dtype, unconstrained). Suffix "?" = optional, "..." = variadic (one or more).
 */
export type InSlot = string;
/** An output slot: a type variable, a fixed dtype, or "attr:NAME" (dtype from an attribute). */
export type OutSlot = string;

/** What a shape rule sees: the node's inputs and attributes, and its graph (for constants). */
export interface ShapeArgs {
  /** "node NAME (OP)", for error messages. */
  where: string;
  /** The graph being built. */
  g: Graph;
  /** The node's inputs (undefined: an omitted optional input). */
  ins: (Value | undefined)[];
  /** The first input's shape. */
  s0: Shape | undefined;
  /** The node's tagged attributes. */
  attrs: ReadonlyMap<string, Attr>;
  /** Number of outputs (variadic-output ops). */
  nOut: number;
}

/** Static output shapes (undefined: unknown rank; null dims: unknown size). */
export type ShapeRule = (a: ShapeArgs) => (Shape | undefined)[] | undefined;

/**
 * The gradient of one input: a value, a thunk the autodiff calls only when that input needs a
 * gradient, or undefined (none flows).
 */
export type GradOut = Value | (() => Value) | undefined;

/**
 * A backward rule (micrograd-style): given the node and its outputs' gradients (undefined where
 * none flows), the gradient of each input, in input order (at most one entry per input).
 */
export type GradRule = (
  ctx: RuleContext,
  node: Node,
  gys: (Value | undefined)[],
) => GradOut[];

/** Appends a node of this op to the bound graph and returns its outputs. */
export type Emit = (
  inputs: readonly (Operand | undefined)[],
  attrs?: Record<string, unknown>,
  opts?: NodeOptions,
) => Value[];

/** One op: signature, wrapper, shape rule and backward rule. */
export interface OpDef<W = unknown> {
  /** Input slots, in order. */
  inputs: InSlot[];
  /** Output slots, in order. */
  outputs: OutSlot[];
  /** The attributes the op accepts and their types. */
  attrs?: Record<string, AttrType>;
  /** Type variables restricted to floats. */
  floatOnly?: string[];
  /** The typed function `g.op.NAME`, built on `emit` (absent: build with g.node / g.loop). */
  wrap?: (emit: Emit) => W;
  /** Static shape inference; absent = unknown output shapes. */
  shape?: ShapeRule;
  /** The backward rule. */
  grad?: GradRule;
  /**
   * Inputs broadcast numpy-style by the op: the autodiff sums their gradients back to their
   * shapes (rules return gradients in the output's shape).
   */
  unbroadcast?: "all" | readonly number[];
  /** Why an op with float inputs and outputs has no backward rule. */
  noGrad?: string;
}

/** Declares an op (keeps the wrapper's type for the `op` namespace). */
export function def<W>(d: OpDef<W>): OpDef<W> {
  return d;
}

type V = Value;
type O = Operand;
/** `(x) => y` */
export const unaryW = (e: Emit) => (x: O): V => e([x])[0];
/** `(a, b) => y` */
export const binaryW = (e: Emit) => (a: O, b: O): V => e([a, b])[0];
/** `(...xs) => y` */
export const variadicW = (e: Emit) => (...xs: O[]): V => e(xs)[0];

/** Shape rule of ops whose output has the first input's shape. */
export const sameShape: ShapeRule = ({ s0 }) => [s0];

/** A backward rule for single-output ops: `f(ctx, inputs, gy, y, node)`, run when gy flows. */
export function single(
  f: (c: RuleContext, x: Value[], gy: Value, y: Value, n: Node) => GradOut[],
): GradRule {
  return (c, n, gys) => (gys[0] ? f(c, n.inputs as Value[], gys[0], n.outputs[0], n) : []);
}

/** The int attribute `name` of `n`, or `dflt`. */
export const intAttr = (n: Node, name: string, dflt: number): number =>
  (n.attrs.get(name)?.value as number | undefined) ?? dflt;
/** The ints attribute `name` of `n`, if set. */
export const intsAttr = (n: Node, name: string): number[] | undefined =>
  n.attrs.get(name)?.value as number[] | undefined;

/** Throws a GradError naming the node. */
export function fail(n: Node, why: string): never {
  throw new GradError(`grad: node ${n.scope ? `${n.scope}/` : ""}${n.name} (${n.opType}): ${why}`);
}

/** `axis` made non-negative (needs the rank when negative). */
export function normAxis(axis: number, rank: number | undefined, n: Node): number {
  if (axis >= 0) return axis;
  if (rank === undefined) fail(n, "negative axis needs a known rank");
  return axis + rank;
}
