/**
 * Layout ops: Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Concat, Split, Slice, Expand,
 * Tile, Shape, Size.
 */
import type { Dim, Operand, Shape, Value } from "../builder.ts";
import { tensor } from "../tensor.ts";
import { GraphError } from "../errors.ts";
import {
  def,
  fail,
  type GradOut,
  intAttr,
  intsAttr,
  normAxis,
  type OpDef,
  type ShapeRule,
  single,
  unaryW,
} from "./def.ts";
import { broadcastShapes, clash, constInts, int, ints, norm, nullDims } from "../shapes.ts";

type G = GradOut[];

type Axis = { axis?: number };

/**
 * Shape rule of an op whose second input is a constant int64 list (axes, repeats): `f` of the
 * first input's shape and that list; unknown when either is not known.
 */
const withConstInts = (f: (s0: Shape, v: number[]) => Shape): ShapeRule => ({ g, s0, ins }) => {
  const v = constInts(g, ins[1]);
  return s0 && v ? [f(s0, v)] : [undefined];
};

/** Reshaping ops: the gradient is gy reshaped back to x's shape. */
const reshapeBack = single((c, [x], gy): G => [c.op.Reshape(gy, c.shapeOf(x))]);

export const LAYOUT = {
  Reshape: def({
    inputs: ["T", "int64"],
    outputs: ["T"],
    attrs: { allowzero: "int" },
    wrap: (e) => (x: Operand, shape: Operand): Value => e([x, shape])[0],
    shape: ({ g, s0, ins }) => {
      const target = constInts(g, ins[1]);
      // A computed target still fixes the rank (its length), which the autodiff needs.
      if (!target) return [nullDims(ins[1]?.shape)];
      const out: Dim[] = target.map((d, i) => (d === 0 ? (s0?.[i] ?? null) : d === -1 ? null : d));
      const neg = target.indexOf(-1);
      if (neg >= 0 && s0 && s0.every((d) => typeof d === "number")) {
        const total = (s0 as number[]).reduce((a, b) => a * b, 1);
        const rest = out.reduce<number>((a, d, i) => (i === neg ? a : a * (d as number)), 1);
        if (out.every((d, i) => i === neg || typeof d === "number")) out[neg] = total / rest;
      }
      return [out];
    },
    grad: reshapeBack,
  }),
  Transpose: def({
    inputs: ["T"],
    outputs: ["T"],
    attrs: { perm: "ints" },
    wrap: (e) => (x: Operand, { perm }: { perm?: readonly number[] } = {}): Value =>
      e([x], { perm: perm && [...perm] })[0],
    shape: ({ s0, attrs }) => {
      if (!s0) return [undefined];
      const perm = ints(attrs.get("perm")) ?? s0.map((_, i) => s0.length - 1 - i);
      return [perm.map((p) => s0[p])];
    },
    grad: single((c, [x], gy, _y, n): G => {
      const r = x.rank;
      const perm = intsAttr(n, "perm") ??
        (r === undefined ? fail(n, "unknown rank") : [...Array(r).keys()].reverse());
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [c.op.Transpose(gy, { perm: inv })];
    }),
  }),
  Unsqueeze: def({
    inputs: ["T", "int64"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, axes: Operand): Value => e([x, axes])[0],
    shape: withConstInts((s0, axes) => {
      const r = s0.length + axes.length;
      const set = new Set(axes.map((a) => norm(a, r)));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : s0[j++]);
      return out;
    }),
    grad: reshapeBack,
  }),
  Squeeze: def({
    inputs: ["T", "int64?"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, axes?: Operand): Value => e(axes === undefined ? [x] : [x, axes])[0],
    shape: ({ g, s0, ins }) => {
      if (!s0) return [undefined];
      const axes = ins[1] ? constInts(g, ins[1]) : s0.flatMap((d, i) => (d === 1 ? [i] : []));
      if (!axes) return [undefined];
      const set = new Set(axes.map((a) => norm(a, s0.length)));
      return [s0.filter((_, i) => !set.has(i))];
    },
    grad: reshapeBack,
  }),
  Flatten: def({
    inputs: ["T"],
    outputs: ["T"],
    attrs: { axis: "int" },
    wrap: (e) => (x: Operand, { axis = 1 }: Axis = {}): Value => e([x], { axis })[0],
    grad: reshapeBack,
  }),
  Concat: def({
    inputs: ["T..."],
    outputs: ["T"],
    attrs: { axis: "int" },
    wrap: (e) => (xs: Operand[], { axis }: { axis: number }): Value => e(xs, { axis })[0],
    shape: ({ where, ins, attrs }) => {
      const shapes = ins.map((v) => v?.shape);
      if (shapes.some((s) => !s)) return [undefined];
      const ax = norm(int(attrs.get("axis"), 0), shapes[0]!.length);
      for (const s of shapes) {
        if (s!.length !== shapes[0]!.length) throw new GraphError(`${where}: rank clash in Concat`);
        s!.forEach((d, i) => i !== ax && clash(where, d, shapes[0]![i], `Concat dim ${i}`));
      }
      const out = [...shapes[0]!];
      out[ax] = shapes.reduce<Dim>((acc, s) => {
        const d = s![ax];
        return typeof acc === "number" && typeof d === "number" ? acc + d : null;
      }, 0);
      return [out];
    },
    grad: (c, n, [gy]): G => {
      if (!gy) return [];
      const xs = n.inputs as Value[];
      const axis = normAxis(intAttr(n, "axis", 0), xs[0].rank, n);
      const sizes = xs.map((x) => x.shape?.[axis]);
      const splitV = sizes.every((s) => typeof s === "number")
        ? c.g.literal(sizes as number[], "int64")
        : c.op.Concat(xs.map((x) => c.op.Slice(c.op.Shape(x), [axis], [axis + 1])), { axis: 0 });
      return c.op.Split(gy, splitV, { outputs: xs.length, axis });
    },
  }),
  Split: def({
    inputs: ["T", "int64?"],
    outputs: ["T..."],
    attrs: { axis: "int" },
    /** Splits into `outputs` parts along `axis`, of the sizes in `split` (equal when omitted). */
    wrap:
      (e) =>
      (x: Operand, split: Operand | undefined, { outputs, axis = 0 }: { outputs: number } & Axis) =>
        e(split === undefined ? [x] : [x, split], { axis }, { outputs }),
    shape: ({ nOut }) => Array.from({ length: nOut }, () => undefined),
    grad: (c, n, gys): G => {
      const axis = intAttr(n, "axis", 0);
      const parts = gys.map((gy, i) => gy ?? c.zerosLike(n.outputs[i]));
      return [c.op.Concat(parts, { axis })];
    },
  }),
  Slice: def({
    inputs: ["T", "I", "I", "I?", "I?"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, starts: Operand, ends: Operand, axes?: Operand, steps?: Operand) =>
      e(
        steps !== undefined
          ? [x, starts, ends, axes, steps]
          : axes !== undefined
          ? [x, starts, ends, axes]
          : [x, starts, ends],
      )[0],
    shape: ({ g, s0, ins }) => {
      if (!s0) return [undefined];
      const st = constInts(g, ins[1]);
      const en = constInts(g, ins[2]);
      const ax = ins[3] ? constInts(g, ins[3]) : undefined;
      const steps = ins[4] ? constInts(g, ins[4]) : undefined;
      if ((ins[3] && !ax) || (ins[4] && !steps?.every((x) => x === 1))) return [s0.map(() => null)];
      if (!st || !en) return [s0.map(() => null)];
      const axes = ax ?? st.map((_, i) => i);
      const out = [...s0];
      axes.forEach((a, i) => {
        const d = s0[norm(a, s0.length)];
        if (typeof d !== "number") {
          out[norm(a, s0.length)] = null;
          return;
        }
        const clamp = (x: number) => Math.max(0, Math.min(d, x < 0 ? x + d : x));
        out[norm(a, s0.length)] = Math.max(0, clamp(en[i]) - clamp(st[i]));
      });
      return [out];
    },
    grad: single((c, [x, starts, ends, axes, steps], gy): G => {
      // Scatter gy into zeros through the same slice of an index map: handles any steps,
      // negative bounds and clamping exactly as the forward did.
      const { op } = c;
      const size = op.Size(x);
      const ids = op.Reshape(
        op.Range(c.g.literal(0, "int64"), op.Reshape(size, []), c.g.literal(1, "int64")),
        c.shapeOf(x),
      );
      const picked = op.Slice(ids, starts, ends, axes, steps);
      const flat = op.ScatterElements(
        op.ConstantOfShape(op.Reshape(size, [1]), tensor(x.dtype, [1], [0])),
        op.Reshape(picked, [-1]),
        op.Reshape(gy, [-1]),
        { axis: 0 },
      );
      return [op.Reshape(flat, c.shapeOf(x))];
    }),
  }),
  Expand: def({
    inputs: ["T", "int64"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, shape: Operand): Value => e([x, shape])[0],
    shape: ({ g, s0, ins }) => {
      const target = constInts(g, ins[1]);
      if (!target) {
        const t = nullDims(ins[1]?.shape);
        return [t && broadcastShapes([s0, t])];
      }
      return [broadcastShapes([s0, target])];
    },
    unbroadcast: [0],
    grad: single((_c, _x, gy): G => [gy]),
  }),
  Tile: def({
    inputs: ["T", "int64"],
    outputs: ["T"],
    wrap: (e) => (x: Operand, repeats: Operand): Value => e([x, repeats])[0],
    shape: withConstInts((s0, reps) =>
      s0.map((d, i) => (typeof d === "number" ? d * reps[i] : null))
    ),
    noGrad: "no rule yet",
  }),
  Shape: def({
    inputs: ["T"],
    outputs: ["int64"],
    attrs: { start: "int", end: "int" },
    wrap: (e) => (x: Operand, { start, end }: { start?: number; end?: number } = {}): Value =>
      e([x], { start, end })[0],
    shape: ({ s0, attrs }) => {
      if (!s0) return [[null]];
      const r = s0.length;
      const clamp = (x: number) => Math.max(0, Math.min(r, x < 0 ? x + r : x));
      return [[Math.max(0, clamp(int(attrs.get("end"), r)) - clamp(int(attrs.get("start"), 0)))]];
    },
  }),
  Size: def({ inputs: ["T"], outputs: ["int64"], wrap: unaryW, shape: () => [[]] }),
} satisfies Record<string, OpDef>;
