/** Linear algebra: MatMul (numpy batch broadcasting), Gemm, Einsum. */
import type { Node, Operand, Value } from "../builder.ts";
import type { RuleContext } from "../../autodiff/context.ts";
import { binaryW, def, fail, type GradOut, intAttr, type OpDef, single } from "./def.ts";
import { broadcastShapes, clash, fmtShape, int } from "../shapes.ts";

type G = GradOut[];

function matmulGrads(c: RuleContext, a: Value, b: Value, gy: Value, n: Node): GradOut[] {
  const { op } = c;
  const [ra, rb] = [a.rank, b.rank];
  if (ra === undefined || rb === undefined || ra < 2 || rb < 2) {
    fail(n, "MatMul gradient needs inputs of known rank >= 2");
  }
  if (ra === 2 && rb === 2) {
    return [
      () => op.Gemm(gy, b, undefined, { transB: 1 }),
      () => op.Gemm(a, gy, undefined, { transA: 1 }),
    ];
  }
  const swap = (r: number) => [...Array(r - 2).keys(), r - 1, r - 2];
  const [K, N] = b.shape!;
  if (rb === 2 && typeof K === "number" && typeof N === "number") {
    // A batched left operand times a shared matrix: fold the batch into rows (one Gemm).
    return [
      () => op.MatMul(gy, op.Transpose(b)),
      () => op.Gemm(op.Reshape(a, [-1, K]), op.Reshape(gy, [-1, N]), undefined, { transA: 1 }),
    ];
  }
  // Batch dims broadcast: only this branch needs the sums over them (the others are exact).
  return [
    () => c.unbroadcast(op.MatMul(gy, op.Transpose(b, { perm: swap(rb) })), a),
    () => c.unbroadcast(op.MatMul(op.Transpose(a, { perm: swap(ra) }), gy), b),
  ];
}

type GemmAttrs = { alpha?: number; beta?: number; transA?: 0 | 1; transB?: 0 | 1 };

export const LINALG = {
  MatMul: def({
    inputs: ["T", "T"],
    outputs: ["T"],
    wrap: binaryW,
    shape: ({ where, s0: a, ins }) => {
      const b = ins[1]?.shape;
      if (!a || !b || a.length < 2 || b.length < 2) return [undefined];
      clash(
        where,
        a[a.length - 1],
        b[b.length - 2],
        `MatMul inner dims of ${fmtShape(a)} x ${fmtShape(b)}`,
      );
      const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)], where);
      return [batch && [...batch, a[a.length - 2], b[b.length - 1]]];
    },
    grad: single((c, [a, b], gy, _y, n): G => matmulGrads(c, a, b, gy, n)),
  }),
  Gemm: def({
    inputs: ["T", "T", "T?"],
    outputs: ["T"],
    attrs: { alpha: "float", beta: "float", transA: "int", transB: "int" },
    wrap: (e) => (a: Operand, b: Operand, c?: Operand, at: GemmAttrs = {}): Value =>
      e([a, b, c], at)[0],
    shape: ({ where, s0: a, ins, attrs }) => {
      const b = ins[1]?.shape;
      if (!a || !b) return [undefined];
      const tA = int(attrs.get("transA"), 0);
      const tB = int(attrs.get("transB"), 0);
      const [m, ka] = tA ? [a[1], a[0]] : [a[0], a[1]];
      const [kb, n] = tB ? [b[1], b[0]] : [b[0], b[1]];
      clash(where, ka, kb, `Gemm inner dims of ${fmtShape(a)} x ${fmtShape(b)}`);
      return [[m, n]];
    },
    // The bias c broadcasts to [M, N].
    unbroadcast: [2],
    grad: single((c, [a, b], gy, _y, n): G => {
      const { op } = c;
      const alpha = n.attrs.get("alpha")?.value as number | undefined ?? 1;
      const beta = n.attrs.get("beta")?.value as number | undefined ?? 1;
      const tA = intAttr(n, "transA", 0);
      const tB = intAttr(n, "transB", 0);
      const at = (transA: number, transB: number) => ({
        transA: transA as 0 | 1,
        transB: transB as 0 | 1,
        ...(alpha !== 1 ? { alpha } : {}),
      });
      // y = alpha op(a) op(b) + beta c
      return [
        () => (tA === 0
          ? op.Gemm(gy, b, undefined, at(0, tB ? 0 : 1))
          : op.Gemm(b, gy, undefined, at(tB, 1))),
        () => (tB === 0
          ? op.Gemm(a, gy, undefined, at(tA ? 0 : 1, 0))
          : op.Gemm(gy, a, undefined, at(1, tA))),
        () => (beta === 1 ? gy : op.Mul(gy, beta)),
      ];
    }),
  }),
  Einsum: def({
    inputs: ["T..."],
    outputs: ["T"],
    attrs: { equation: "string" },
    wrap: (e) => (equation: string, ...xs: Operand[]): Value => e(xs, { equation })[0],
    noGrad: "no rule yet",
  }),
} satisfies Record<string, OpDef>;
