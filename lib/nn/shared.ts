/**
 * Shared experts (DeepSeekMoE, arXiv 2401.06066; DeepSeek-V3, arXiv 2412.19437): n_s experts
 * per layer that every token uses with weight 1, beside the k routed ones, each of its own
 * width w_s: y += sum_{j < n_s} (A^s_j act(B^s_j^T x + c^s_j) + e^s_j). They are one dense
 * MLP of width n_s w_s (layout.ts: `shared.w1` [dIn, n_s w_s], `shared.b1`, `shared.w2`
 * [n_s w_s, dOut], `shared.b2` [n_s, dOut]), computed the same way in both strategies.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { activate } from "./activation.ts";
import type { MoeLayerConfig, MoeLayerSpec } from "./config.ts";

type Lookup = (name: string) => Value;

/** The shared experts' width (`sharedWidth`, default the routed experts' w). */
export function sharedWidth(s: Pick<MoeLayerConfig, "w" | "sharedWidth">): number {
  return s.sharedWidth ?? s.w;
}

/** The sum of the shared experts' outputs for x: [B, dIn], [B, dOut]. */
export function sharedExperts(g: Graph, s: MoeLayerSpec, p: Lookup, x: Value): Value {
  const { op } = g;
  const w2 = p("shared.w2");
  if (s.activation === "constant") {
    // sigma = 1: each shared expert outputs A^s_j 1 + e^s_j whatever its input.
    let v = op.ReduceSum(w2, [0]); // [1, dOut]
    if (s.expertBias) v = op.Add(v, op.ReduceSum(p("shared.b2"), [0]));
    return op.Add(op.Mul(op.ReduceSum(x, [1]), 0), v);
  }
  const pre = s.expertBias
    ? op.Gemm(x, p("shared.w1"), p("shared.b1"))
    : op.MatMul(x, p("shared.w1"));
  const y = op.MatMul(activate(g, pre, s.activation), w2);
  return s.expertBias ? op.Add(y, op.ReduceSum(p("shared.b2"), [0])) : y;
}

/**
 * Active parameters per token of a layer: the router, k routed experts and the shared ones
 * (the selection bias is state, not a parameter).
 */
export function activeParams(s: MoeLayerConfig): number {
  const expert = (w: number) => s.dIn * w + w * s.dOut + (s.expertBias ? w + s.dOut : 0);
  const router = s.dIn * s.m + (s.routerBias ? s.m : 0);
  return router + s.k * expert(s.w) + (s.sharedExperts ?? 0) * expert(sharedWidth(s));
}
