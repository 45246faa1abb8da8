/** Indexing ops: Gather*, Scatter*, TopK, NonZero, OneHot. */
import type { Operand, Value } from "../builder.ts";
import type { RuleContext } from "../../autodiff/context.ts";
import { tensor } from "../tensor.ts";
import { def, fail, type GradOut, intAttr, normAxis, type OpDef, single, unaryW } from "./def.ts";
import { constInts, int, norm } from "../shapes.ts";
import { buildTarget } from "../target.ts";

type G = GradOut[];

type Axis = { axis?: number };
type Reduction = { reduction?: "none" | "add" | "mul" };

/**
 * zeros_like(x) with row idx[i] += gy's i-th block, for Gather's gradient (rows may repeat).
 * Uses ScatterElements with reduction "add" over a [rows, width] view: onnxruntime applies it
 * in index order for each column, so repeated rows sum exactly and reproducibly (ScatterND's
 * "add" updates rows from several threads at once and races on repeated rows).
 */
function scatterAddRows(c: RuleContext, x: Value, idx: Value, gy: Value): Value {
  const { op, g } = c;
  const xs = x.shape;
  if (!xs) return op.ScatterND(c.zerosLike(x), op.Unsqueeze(idx, [-1]), gy, { reduction: "add" });
  const rest = xs.slice(1);
  const dims = xs.every((d) => typeof d === "number")
    ? g.constant(
      tensor("int64", [2], [xs[0] as number, (rest as number[]).reduce((a, b) => a * b, 1)]),
    )
    : op.Concat([
      op.Shape(x, { start: 0, end: 1 }),
      rest.length
        ? op.ReduceProd(op.Shape(x, { start: 1 }), { keepdims: 1 })
        : g.constant(tensor("int64", [1], [1])),
    ], { axis: 0 });
  const width = op.Slice(dims, [1], [2]);
  const upd = op.Reshape(
    gy,
    op.Concat([g.constant(tensor("int64", [1], [-1])), width], { axis: 0 }),
  );
  const ind = op.Expand(op.Reshape(idx, [-1, 1]), op.Shape(upd));
  const zeros = op.ConstantOfShape(dims, tensor(x.dtype, [1], [0]));
  return op.Reshape(
    op.ScatterElements(zeros, ind, upd, { axis: 0, reduction: "add" }),
    c.shapeOf(x),
  );
}

/** Whether `idx` holds distinct indices along `axis`: TopK's indices on the same axis. */
function distinctAlong(idx: Value, axis: number): boolean {
  const p = idx.producer;
  if (!p || p.opType !== "TopK" || p.outputs[1] !== idx || idx.rank === undefined) return false;
  const a = p.attrs.get("axis")?.value;
  const topAxis = typeof a === "number" ? a : -1;
  return norm(topAxis, idx.rank) === norm(axis, idx.rank);
}

export const INDEXING = {
  Gather: def({
    inputs: ["T", "I"],
    outputs: ["T"],
    attrs: { axis: "int" },
    wrap: (e) => (x: Operand, idx: Operand, { axis = 0 }: Axis = {}): Value =>
      e([x, idx], { axis })[0],
    shape: ({ s0, ins, attrs }) => {
      const si = ins[1]?.shape;
      if (!s0 || !si) return [undefined];
      const ax = norm(int(attrs.get("axis"), 0), s0.length);
      return [[...s0.slice(0, ax), ...si, ...s0.slice(ax + 1)]];
    },
    grad: single((c, [x, idx], gy, _y, n): G => {
      const { op } = c;
      const axis = normAxis(intAttr(n, "axis", 0), x.rank, n);
      const idx64 = idx.dtype === "int64" ? idx : op.Cast(idx, "int64");
      if (axis === 0) return [scatterAddRows(c, x, idx64, gy), undefined];
      const rx = x.rank;
      const ri = idx.rank;
      if (rx === undefined || ri === undefined) fail(n, "Gather on axis > 0 needs known ranks");
      // Move the gathered axis to the front, scatter-add, move it back.
      const xPerm = [axis, ...[...Array(rx).keys()].filter((i) => i !== axis)];
      const gyPerm = [
        ...[...Array(ri).keys()].map((i) => axis + i),
        ...[...Array(axis).keys()],
        ...[...Array(rx - axis - 1).keys()].map((i) => axis + ri + i),
      ];
      const xt = op.Transpose(x, { perm: xPerm });
      const scattered = scatterAddRows(c, xt, idx64, op.Transpose(gy, { perm: gyPerm }));
      const inv = new Array<number>(rx);
      xPerm.forEach((p, i) => (inv[p] = i));
      return [op.Transpose(scattered, { perm: inv }), undefined];
    }),
  }),
  GatherElements: def({
    inputs: ["T", "I"],
    outputs: ["T"],
    attrs: { axis: "int" },
    wrap: (e) => (x: Operand, idx: Operand, { axis = 0 }: Axis = {}): Value =>
      e([x, idx], { axis })[0],
    shape: ({ ins }) => [ins[1]?.shape],
    grad: single((c, [x, idx], gy, _y, n): G => {
      const axis = intAttr(n, "axis", 0);
      // For CUDA, indices known to be distinct along the axis (TopK's) scatter without a
      // reduction: one update per element, no atomics.
      const reduction = buildTarget() === "cuda" && distinctAlong(idx, axis) ? "none" : "add";
      return [c.op.ScatterElements(c.zerosLike(x), idx, gy, { axis, reduction }), undefined];
    }),
  }),
  GatherND: def({
    inputs: ["T", "int64"],
    outputs: ["T"],
    attrs: { batch_dims: "int" },
    wrap: (e) => (x: Operand, idx: Operand, { batch_dims = 0 }: { batch_dims?: number } = {}) =>
      e([x, idx], { batch_dims })[0],
    noGrad: "no rule yet",
  }),
  ScatterElements: def({
    inputs: ["T", "I", "T"],
    outputs: ["T"],
    attrs: { axis: "int", reduction: "string" },
    wrap:
      (e) =>
      (x: Operand, idx: Operand, upd: Operand, { axis = 0, reduction }: Axis & Reduction = {}) =>
        e([x, idx, upd], { axis, reduction })[0],
    shape: ({ s0 }) => [s0],
    grad: single((c, [_data, idx, upd], gy, _y, n): G => {
      const axis = intAttr(n, "axis", 0);
      const red = (n.attrs.get("reduction")?.value as string | undefined) ?? "none";
      if (red !== "none" && red !== "add") fail(n, `reduction '${red}' is not differentiable here`);
      return [
        () => (red === "add" ? gy : c.op.ScatterElements(gy, idx, c.zerosLike(upd), { axis })),
        undefined,
        () => c.op.GatherElements(gy, idx, { axis }),
      ];
    }),
  }),
  ScatterND: def({
    inputs: ["T", "int64", "T"],
    outputs: ["T"],
    attrs: { reduction: "string" },
    wrap: (e) => (x: Operand, idx: Operand, upd: Operand, { reduction }: Reduction = {}) =>
      e([x, idx, upd], { reduction })[0],
    shape: ({ s0 }) => [s0],
    noGrad: "no rule yet",
  }),
  TopK: def({
    inputs: ["T", "int64"],
    outputs: ["T", "int64"],
    attrs: { axis: "int", largest: "int", sorted: "int" },
    /** Returns [values, indices]; ties keep the lower index first. */
    wrap: (e) =>
    (
      x: Operand,
      k: Operand,
      { axis = -1, largest = 1, sorted = 1 }: Axis & { largest?: 0 | 1; sorted?: 0 | 1 } = {},
    ): [Value, Value] =>
      e([x, typeof k === "number" ? [k] : k], { axis, largest, sorted }) as [Value, Value],
    shape: ({ g, s0, ins, attrs }) => {
      const k = constInts(g, ins[1]);
      if (!s0) return [undefined, undefined];
      const ax = norm(int(attrs.get("axis"), -1), s0.length);
      const out = s0.map((d, i) => (i === ax ? (k ? k[0] : null) : d));
      return [out, out];
    },
    grad: (c, n, [gv]): G => {
      if (!gv) return [];
      const x = n.inputs[0]!;
      const axis = intAttr(n, "axis", -1);
      return [c.op.ScatterElements(c.zerosLike(x), n.outputs[1], gv, { axis }), undefined];
    },
  }),
  NonZero: def({ inputs: ["T"], outputs: ["int64"], wrap: unaryW }),
  OneHot: def({
    inputs: ["I", "J", "T"],
    outputs: ["T"],
    attrs: { axis: "int" },
    wrap: (e) => (idx: Operand, depth: Operand, values: Operand, { axis = -1 }: Axis = {}) =>
      e([idx, depth, values], { axis })[0],
    noGrad: "no rule yet",
  }),
} satisfies Record<string, OpDef>;
