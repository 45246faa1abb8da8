/**
 * Static shape inference for the ops where it is cheap. Unknown results are `undefined`
 * (unknown rank) or `null` dims; the autodiff falls back to in-graph shape arithmetic then.
 */
import type { Attr, Dim, Graph, Shape, Value } from "./builder.ts";
import type { HostTensor } from "./tensor.ts";
import { GraphError } from "./errors.ts";

type Out = (Shape | undefined)[] | undefined;

const ELEMENTWISE = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Pow",
  "Mod",
  "Max",
  "Min",
  "Sum",
  "Where",
  "Greater",
  "Less",
  "GreaterOrEqual",
  "LessOrEqual",
  "Equal",
  "And",
  "Or",
]);
const UNARY = new Set([
  "Neg",
  "Abs",
  "Sign",
  "Relu",
  "Exp",
  "Log",
  "Sqrt",
  "Reciprocal",
  "Tanh",
  "Sigmoid",
  "Erf",
  "Sin",
  "Cos",
  "Floor",
  "Ceil",
  "Identity",
  "IsNaN",
  "Not",
  "Softmax",
  "LogSoftmax",
  "Cast",
  "CastLike",
  "Clip",
  "CumSum",
  "RandomNormalLike",
]);

/**
 * Numpy broadcasting of static shapes; null where it cannot be decided at build time.
 * Throws (naming `where`) when two known dims clash.
 */
export function broadcastShapes(shapes: (Shape | undefined)[], where?: string): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s!.length - rank + i;
      if (j < 0) continue;
      const e = s![j];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        if (where && typeof d === "number" && typeof e === "number") {
          throw new GraphError(
            `${where}: shape clash: cannot broadcast ${shapes.map(fmt).join(" with ")}`,
          );
        }
        d = null;
      }
    }
    out.push(d);
  }
  return out;
}

const ints = (a: Attr | undefined): number[] | undefined => a?.value as number[] | undefined;
const int = (a: Attr | undefined, dflt: number): number => (a?.value as number | undefined) ?? dflt;
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function constInts(g: Graph, v: Value | undefined): number[] | undefined {
  if (!v) return undefined;
  const t: HostTensor | undefined = g.constValue(v);
  return t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
}

/** Unknown dims of the rank given by a 1-D shape tensor's static length. */
function nullDims(shapeOfTarget: Shape | undefined): Dim[] | undefined {
  const n = shapeOfTarget?.length === 1 ? shapeOfTarget[0] : undefined;
  return typeof n === "number" ? Array(n).fill(null) : undefined;
}

const fmt = (s: Shape | undefined) => (s ? `[${s.map((d) => d ?? "?").join(", ")}]` : "[?]");

function clash(where: string, a: Dim | undefined, b: Dim | undefined, what: string): void {
  if (typeof a === "number" && typeof b === "number" && a !== b) {
    throw new GraphError(`${where}: shape clash: ${what} (${a} vs ${b})`);
  }
}

export function inferShape(
  where: string,
  g: Graph,
  op: string,
  ins: (Value | undefined)[],
  attrs: Map<string, Attr>,
  nOut: number,
): Out {
  const s0 = ins[0]?.shape;
  if (UNARY.has(op)) return [s0];
  if (ELEMENTWISE.has(op)) {
    return [broadcastShapes(ins.filter((v) => v).map((v) => v!.shape), where)];
  }
  switch (op) {
    case "MatMul": {
      const [a, b] = [s0, ins[1]?.shape];
      if (!a || !b || a.length < 2 || b.length < 2) return [undefined];
      clash(where, a[a.length - 1], b[b.length - 2], `MatMul inner dims of ${fmt(a)} x ${fmt(b)}`);
      const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)], where);
      return [batch && [...batch, a[a.length - 2], b[b.length - 1]]];
    }
    case "Gemm": {
      const [a, b] = [s0, ins[1]?.shape];
      if (!a || !b) return [undefined];
      const tA = int(attrs.get("transA"), 0);
      const tB = int(attrs.get("transB"), 0);
      const [m, ka] = tA ? [a[1], a[0]] : [a[0], a[1]];
      const [kb, n] = tB ? [b[1], b[0]] : [b[0], b[1]];
      clash(where, ka, kb, `Gemm inner dims of ${fmt(a)} x ${fmt(b)}`);
      return [[m, n]];
    }
    case "Transpose": {
      if (!s0) return [undefined];
      const perm = ints(attrs.get("perm")) ?? s0.map((_, i) => s0.length - 1 - i);
      return [perm.map((p) => s0[p])];
    }
    case "ReduceSum":
    case "ReduceMean":
    case "ReduceMax":
    case "ReduceMin":
    case "ReduceProd":
    case "ReduceSumSquare": {
      if (!s0) return [undefined];
      const axes = op === "ReduceSum" ? constInts(g, ins[1]) : ints(attrs.get("axes"));
      if (op === "ReduceSum" && ins[1] && !axes) return [undefined];
      const keep = int(attrs.get("keepdims"), 1);
      const all = axes === undefined || axes.length === 0;
      if (all && op === "ReduceSum" && int(attrs.get("noop_with_empty_axes"), 0)) return [s0];
      const set = new Set(all ? s0.map((_, i) => i) : axes!.map((a) => norm(a, s0.length)));
      return [keep ? s0.map((d, i) => (set.has(i) ? 1 : d)) : s0.filter((_, i) => !set.has(i))];
    }
    case "ArgMax":
    case "ArgMin": {
      if (!s0) return [undefined];
      const ax = norm(int(attrs.get("axis"), 0), s0.length);
      return [
        int(attrs.get("keepdims"), 1)
          ? s0.map((d, i) => (i === ax ? 1 : d))
          : s0.filter((_, i) => i !== ax),
      ];
    }
    case "Reshape": {
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
    }
    case "Unsqueeze": {
      const axes = constInts(g, ins[1]);
      if (!s0 || !axes) return [undefined];
      const r = s0.length + axes.length;
      const set = new Set(axes.map((a) => norm(a, r)));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : s0[j++]);
      return [out];
    }
    case "Squeeze": {
      if (!s0) return [undefined];
      const axes = ins[1] ? constInts(g, ins[1]) : s0.flatMap((d, i) => (d === 1 ? [i] : []));
      if (!axes) return [undefined];
      const set = new Set(axes.map((a) => norm(a, s0.length)));
      return [s0.filter((_, i) => !set.has(i))];
    }
    case "Concat": {
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
    }
    case "Gather": {
      const si = ins[1]?.shape;
      if (!s0 || !si) return [undefined];
      const ax = norm(int(attrs.get("axis"), 0), s0.length);
      return [[...s0.slice(0, ax), ...si, ...s0.slice(ax + 1)]];
    }
    case "GatherElements":
      return [ins[1]?.shape];
    case "ScatterElements":
    case "ScatterND":
      return [s0];
    case "TopK": {
      const k = constInts(g, ins[1]);
      if (!s0) return [undefined, undefined];
      const ax = norm(int(attrs.get("axis"), -1), s0.length);
      const out = s0.map((d, i) => (i === ax ? (k ? k[0] : null) : d));
      return [out, out];
    }
    case "Expand": {
      const target = constInts(g, ins[1]);
      if (!target) {
        const t = nullDims(ins[1]?.shape);
        return [t && broadcastShapes([s0, t])];
      }
      return [broadcastShapes([s0, target])];
    }
    case "Shape": {
      if (!s0) return [[null]];
      const r = s0.length;
      const clamp = (x: number) => Math.max(0, Math.min(r, x < 0 ? x + r : x));
      return [[Math.max(0, clamp(int(attrs.get("end"), r)) - clamp(int(attrs.get("start"), 0)))]];
    }
    case "Range": {
      const [st, lim, dl] = [0, 1, 2].map((i) => constInts(g, ins[i]));
      if (st && lim && dl) return [[Math.max(0, Math.ceil((lim[0] - st[0]) / dl[0]))]];
      return [[null]];
    }
    case "Size":
      return [[]];
    case "Constant": {
      const t = attrs.get("value")?.value as HostTensor;
      return [t.dims];
    }
    case "ConstantOfShape": {
      const target = constInts(g, ins[0]);
      return [
        target ??
          (ins[0]?.shape?.[0] != null ? Array(ins[0].shape![0] as number).fill(null) : undefined),
      ];
    }
    case "RandomNormal":
    case "RandomUniform":
      return [ints(attrs.get("shape"))];
    case "Slice": {
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
    }
    case "Tile": {
      const reps = constInts(g, ins[1]);
      if (!s0 || !reps) return [undefined];
      return [s0.map((d, i) => (typeof d === "number" ? d * reps[i] : null))];
    }
    case "Loop": {
      const body = attrs.get("body")!.value as Graph;
      return body.outputs.slice(1).map((o, i) =>
        i < ins.length - 2 ? ins[i + 2]?.shape : o.shape && [null, ...o.shape]
      );
    }
    case "If": {
      const body = attrs.get("then_branch")!.value as Graph;
      return body.outputs.map(() => undefined);
    }
    case "Split":
      return Array.from({ length: nOut }, () => undefined);
    default:
      return undefined;
  }
}
