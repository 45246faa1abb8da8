/**
 * Exact sparse dispatch of an MoE layer, with a hand-written backward pass, over a `Dispatch`:
 * the layout that puts each (token, expert) assignment in a slot of a tile owned by one expert.
 * Token-choice routes lay out their B*k assignments in tiles of T rows sized from the actual
 * loads (token_dispatch.ts); expert-choice routes have exactly one tile of c rows per expert
 * (expert_choice.ts).
 *
 * Forward: rows are gathered into [tiles, T, dIn]; each tile runs its expert as batched matmuls
 * against its expert's gathered weights; the gate scales the hidden units (w wide, not dOut), and
 * the output bias rides along as one extra hidden unit equal to the gate, so
 * [g h, g] @ [A; e] = g (A h + e) costs no [N, dOut] elementwise pass; each token's output is
 * the sum of its rows.
 *
 * Backward (registered with customGradient, so the generic rules never see the dispatch): the
 * adjoint of "gather rows by slot, then sum per token" is "gather the output gradient by slot";
 * per-tile weight gradients are summed into their experts by the dispatch (exact and
 * reproducible). Index arithmetic is int64 and carries no gradient.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { customGradient } from "../autodiff/custom.ts";
import { activate, activateGrad } from "./activation.ts";
import type { MoeLayerSpec } from "./config.ts";

type Lookup = (name: string) => Value;

/**
 * Where each (token, expert) assignment sits: slots in tiles of T rows, each tile owned by one
 * expert; empty slots have gate 0, so their hidden units, outputs and gradients are exactly 0.
 */
export interface Dispatch {
  /** Token rows to slots: [B, d] -> [tiles, T, d]. */
  spread(v: Value, d: number): Value;
  /** Slot rows summed per token: [slots, d] -> [B, d]. */
  combine(v: Value, d: number): Value;
  /** [tiles, T, 1]: each slot's gate (0 for empty slots). */
  slotGate(): Value;
  /** An expert tensor [m, ...] for each tile: [tiles, ...]. */
  perTile(v: Value): Value;
  /** Per-tile blocks summed into their experts: [tiles, ...dims] -> [m, ...dims]. */
  toExperts(v: Value, dims: number[]): Value;
  /** Slot gate gradients [tiles, T, 1] -> the gradient of the route's gates (of `shape`). */
  gateGrad(v: Value, shape: Value): Value;
}

/**
 * The layer's expert part, sum_{j in S(x)} g_j(x) expert_j(x), for x: [B, dIn], by sparse
 * dispatch over `disp` (see the module doc); `gates` are the route's gates, which `disp` lays out.
 * Differentiable in x, the gates and every expert parameter.
 */
export function sparseExperts(
  g: Graph,
  s: MoeLayerSpec,
  p: Lookup,
  x: Value,
  gates: Value,
  disp: Dispatch,
): Value {
  const { op } = g;
  const { m, w, dIn, dOut } = s;
  const { spread, combine, perTile, toExperts } = disp;
  const trans = (v: Value) => op.Transpose(v, { perm: [0, 2, 1] });

  const w1 = p("experts.w1");
  const w2 = p("experts.w2");
  const b1 = s.expertBias ? p("experts.b1") : undefined;
  const b2 = s.expertBias ? p("experts.b2") : undefined;
  const wh: Value[] = [];
  const bh: Value[] = [];
  for (let i = 1; i < s.depth; i++) {
    wh.push(p(`experts.wh${i}`));
    if (s.expertBias) bh.push(p(`experts.bh${i}`));
  }

  // ---- forward ----
  const xBuf = spread(x, dIn); // [tiles, T, dIn]
  const slotGate = disp.slotGate(); // [tiles, T, 1]
  const w1t = perTile(op.Transpose(op.Reshape(w1, [dIn, m, w]), { perm: [1, 0, 2] })); // [tiles, dIn, w]
  const zs: Value[] = [];
  const hs: Value[] = [];
  const wts: Value[] = [w1t];
  let z = op.MatMul(xBuf, w1t);
  if (b1) z = op.Add(z, perTile(op.Reshape(b1, [m, 1, w])));
  zs.push(z);
  hs.push(activate(g, z, s.activation));
  for (let i = 1; i < s.depth; i++) {
    const wt = perTile(wh[i - 1]);
    wts.push(wt);
    z = op.MatMul(hs[i - 1], wt);
    if (s.expertBias) z = op.Add(z, perTile(op.Unsqueeze(bh[i - 1], [1])));
    zs.push(z);
    hs.push(activate(g, z, s.activation));
  }
  const h = hs[hs.length - 1];
  const hAug = b2 ? op.Concat([op.Mul(h, slotGate), slotGate], { axis: 2 }) : op.Mul(h, slotGate);
  const w2m = op.Reshape(w2, [m, w, dOut]);
  const w2t = perTile(b2 ? op.Concat([w2m, op.Unsqueeze(b2, [1])], { axis: 1 }) : w2m); // [tiles, w(+1), dOut]
  const yS = op.Reshape(op.MatMul(hAug, w2t), [-1, dOut]); // [slots, dOut], gate-scaled
  const y = combine(yS, dOut);

  const inputs = [x, gates, w1, w2, ...(b1 ? [b1] : []), ...(b2 ? [b2] : []), ...wh, ...bh];
  return customGradient(y, inputs, (c, dy) => {
    const wAug = b2 ? w + 1 : w;
    const dyS = spread(dy, dOut); // [tiles, T, dOut]
    const out = new Map<Value, Value>();
    if (c.needs(w2) || (b2 && c.needs(b2))) {
      const dW2 = toExperts(op.MatMul(trans(hAug), dyS), [wAug, dOut]); // [m, w(+1), dOut]
      if (b2) {
        out.set(w2, op.Reshape(op.Slice(dW2, [0], [w], [1]), [m * w, dOut]));
        out.set(b2, op.Reshape(op.Slice(dW2, [w], [w + 1], [1]), [m, dOut]));
      } else out.set(w2, op.Reshape(dW2, [m * w, dOut]));
    }
    const dhAug = op.MatMul(dyS, trans(w2t)); // [tiles, T, w(+1)]
    const dhg = b2 ? op.Slice(dhAug, [0], [w], [2]) : dhAug;
    if (c.needs(gates)) {
      let dGate = op.ReduceSum(op.Mul(dhg, h), [2], { keepdims: 1 }); // [tiles, T, 1]
      if (b2) dGate = op.Add(dGate, op.Slice(dhAug, [w], [w + 1], [2]));
      out.set(gates, disp.gateGrad(dGate, c.shapeOf(gates)));
    }
    let dh = op.Mul(dhg, slotGate);
    for (let i = s.depth - 1; i >= 0; i--) {
      const dz = activateGrad(g, zs[i], hs[i], dh, s.activation);
      const wIn = i === 0 ? w1 : wh[i - 1];
      const bIn = i === 0 ? b1 : bh[i - 1];
      if (c.needs(wIn)) {
        if (i === 0) {
          // dz^T x ([tiles, w, dIn]) runs faster on onnxruntime CPU than x^T dz (wide output).
          const dWt = toExperts(op.MatMul(trans(dz), xBuf), [w, dIn]); // [m, w, dIn]
          out.set(wIn, op.Reshape(op.Transpose(dWt, { perm: [2, 0, 1] }), [dIn, m * w]));
        } else out.set(wIn, toExperts(op.MatMul(trans(hs[i - 1]), dz), [w, w]));
      }
      if (bIn && c.needs(bIn)) {
        const db = toExperts(op.ReduceSum(dz, [1], { keepdims: 1 }), [1, w]); // [m, 1, w]
        out.set(bIn, op.Reshape(db, i === 0 ? [m * w] : [m, w]));
      }
      if (i > 0) dh = op.MatMul(dz, trans(wts[i]));
      else if (c.needs(x)) {
        out.set(x, combine(op.Reshape(op.MatMul(dz, trans(w1t)), [-1, dIn]), dIn));
      }
    }
    return inputs.map((v) => out.get(v));
  });
}
