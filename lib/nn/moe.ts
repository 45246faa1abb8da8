/**
 * The (m, k, w, d)-MoE layer as ONNX graph code, in two strategies with identical results:
 *
 * - `dense`: every expert is computed, as one wide matmul x @ w1 [dIn, m*w]; each expert's
 *   hidden units are scaled by its gate (0 for unselected experts) and one matmul with
 *   w2 [m*w, dOut] sums the selected experts. Cost ~ 2 B m w (dIn + dOut) FLOPs.
 * - `sparse`: exact dispatch (sparse.ts): the B*k (token, expert) assignments are laid out in
 *   tiles of T rows, each owned by one expert (T chosen in the graph from the actual loads;
 *   nothing is ever dropped, whatever the balance), each tile runs its expert as batched
 *   matmuls against its expert's gathered weights, and each token sums its k rows. Its backward
 *   is hand-written (autodiff/custom.ts): the adjoint of the row gathers is another row gather.
 *   Cost ~ 2 B k w (dIn + dOut) FLOPs plus padding, row gathers and per-tile weight copies.
 *   Expert choice has exactly one tile of c rows per expert (token_dispatch.ts lays out
 *   token-choice tiles, expert_choice.ts the expert-choice ones).
 *
 * Routing (gates.ts): scores s = x @ router.weight (+ router.bias), S = TopK(s, k) (of sigma(s)
 * for the sigmoid gate, plus the selection bias when the layer has one); expert choice takes
 * TopK over the batch of each expert's softmax probabilities (expert_choice.ts). Ties between equal
 * scores go to the lower expert index (ONNX TopK's documented order; the TS reference does the
 * same). The dense float path (what the generic autodiff differentiates) uses only MatMul,
 * Gemm, Add, Mul, Relu, Erf (+ Cast for float64 gelu), Softmax, ReduceSum, Reshape, Transpose,
 * Unsqueeze, GatherElements, ScatterElements, TopK values (+ Sigmoid, Div for the sigmoid
 * gate). `equal` gates and the zero matrices come from ConstantOfShape (of a constant shape when
 * static, so gradients keep static shapes). The sparse strategy's index arithmetic is int64
 * (Shape, Squeeze, Range, TopK indices, ScatterElements incl. reduction "add", CumSum,
 * ReduceSum, Div, Min, Expand, ArgMax) and carries no gradient; its backward sums per-tile
 * weight gradients into their experts by a Gather into [m, most tiles of one expert] cells and
 * a ReduceSum over them, in tile order (exact and reproducible; see token_dispatch.ts).
 */
import type { Graph, Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import {
  type MoeLayerConfig,
  type MoeLayerSpec,
  STRATEGIES,
  type Strategy,
  validateMoeConfig,
} from "./config.ts";
import { getParam, type ParamValues } from "./params.ts";
import { activate } from "./activation.ts";
import { type Dispatch, sparseExperts } from "./sparse.ts";
import { gateMatrix, type MoeRoute, routeTokens } from "./gates.ts";
import { tokenChoiceDispatch } from "./token_dispatch.ts";
import { expertChoiceDispatch } from "./expert_choice.ts";
import { sharedExperts } from "./shared.ts";

export { activate };

export type { MoeRoute };

/** The output of `moeForward`. */
export interface MoeForwardResult {
  /** Layer output, [B, dOut]. */
  y: Value;
  /** The routing: selected experts, gates and scores. */
  route: MoeRoute;
  /** The strategy actually built (`auto` resolved). */
  strategy: "dense" | "sparse";
}

/** Options of `moeForward`. */
export interface MoeForwardOptions {
  /** Name prefix of the layer's parameters (default `moe0.`). */
  prefix?: string;
  /** Overrides `config.strategy`. */
  strategy?: Strategy;
  /** What `auto` should weigh (see strategyCost); default: an inference forward. */
  cost?: CostContext;
}

/** How a layer will be used, for the `auto` cost model. */
export interface CostContext {
  /** The forward will be differentiated (training): the backward's matmuls count too. */
  training?: boolean;
  /** Rows per call, when known: spreads the dispatch's fixed per-call cost. */
  batch?: number;
}

/**
 * Builds f(x) = sum_{j in S(x)} g_j(x) (A_j act(B_j^T x + c_j) + e_j) for x: [B, dIn].
 * `params` maps `<prefix><name>` to graph values in the layout of layout.ts (inputs,
 * initializers or loop-carried values all work). Exact: no capacity factor, no token dropping.
 */
export function moeForward(
  g: Graph,
  config: MoeLayerConfig,
  params: ParamValues,
  x: Value,
  opts: MoeForwardOptions = {},
): MoeForwardResult {
  validateMoeConfig(config);
  const spec: MoeLayerSpec = { ...config, strategy: opts.strategy ?? config.strategy, depth: 1 };
  return moeLayerForward(g, spec, params, x, opts.prefix ?? "moe0.", opts.cost);
}

/** Per-token cost estimates (FLOP-equivalents) behind `auto`. */
export interface StrategyCost {
  /** Estimated cost of the dense strategy. */
  dense: number;
  /** Estimated cost of the sparse strategy. */
  sparse: number;
  /** The cheaper one, which `auto` builds. */
  choice: "dense" | "sparse";
}

/**
 * The `auto` cost model, per token, with P = 2 w (dIn + dOut + w (depth - 1)) the FLOPs of one
 * expert: dense = m P; sparse = 3 k P (tile padding and small batched matmuls run below the
 * big GEMM's efficiency) + 128 k (dIn + dOut) (the gathers and the sort) + 4096. Sparse is
 * chosen when cheaper. Calibrated on onnxruntime CPU, 2 threads, B = 2048: dense wins 16e8a
 * and 32e8a (w 32, d 256), 32e16a (w 16) and 16e8a (w 8, d 64); sparse wins 64e8a (w 32),
 * 256e8a (w 40, d 256) and 64e4a (w 20, d 64).
 */
export function strategyCost(s: MoeLayerSpec, ctx: CostContext = {}): StrategyCost {
  const perExpert = 2 * s.w * (s.dIn + s.dOut + s.w * (s.depth - 1));
  if (ctx.training) {
    // Forward + backward ~ 2.5 forwards for both (no input gradient for data); sparse pays
    // ~1.5x for tile padding and small batched matmuls, its row gathers, and a fixed cost per
    // call (~40 small index nodes, ~1e7 FLOP-equivalents) spread over the batch. Calibrated
    // with `deno task bench` (2 threads, d = 256, batch 2048, steps/s sparse vs dense): sparse
    // wins the 16e8a (27.5 vs 25) and 4e2a (32.5 vs 26) students, dense the 32e16a student
    // (25 vs 20.5); sparse wins the paper-B 2-3-MoE (w 128, batch 256: 670 vs 520).
    const dense = 2.5 * s.m * perExpert;
    const sparse = 3.75 * s.k * perExpert + 64 * s.k * (s.dIn + s.dOut) + 8192 +
      (ctx.batch ? 1e7 / ctx.batch : 0);
    return { dense, sparse, choice: sparse < dense ? "sparse" : "dense" };
  }
  const dense = s.m * perExpert;
  const sparse = 3 * s.k * perExpert + 128 * s.k * (s.dIn + s.dOut) + 4096;
  return { dense, sparse, choice: sparse < dense ? "sparse" : "dense" };
}

/** The shared layer builder (moeForward for depth 1, deep models for any expert depth). */
export function moeLayerForward(
  g: Graph,
  s: MoeLayerSpec,
  params: ParamValues,
  x: Value,
  prefix: string,
  cost: CostContext = {},
): MoeForwardResult {
  if (!(STRATEGIES as readonly string[]).includes(s.strategy)) {
    throw new Error(`strategy: unknown value '${s.strategy}' (allowed: ${STRATEGIES.join(", ")})`);
  }
  if (!isFloat(x.dtype)) throw new Error(`x: must be float32 or float64, got ${x.dtype}`);
  if (
    x.shape && (x.shape.length !== 2 || (typeof x.shape[1] === "number" && x.shape[1] !== s.dIn))
  ) {
    throw new Error(`x: must have shape [B, ${s.dIn}], got [${x.shape.join(", ")}]`);
  }
  const p = (name: string) => getParam(params, prefix, name);
  const strategy = s.strategy === "auto" ? strategyCost(s, cost).choice : s.strategy;
  // Node names read like the model: moe0/router/..., moe0/sparse/...
  return g.scope(scopeName(prefix), () => {
    const route = g.scope("router", () => routeTokens(g, s, p, x));
    const sparse = () => sparseExperts(g, s, p, x, route.gates, dispatch(g, s, route, x));
    let y: Value;
    if (s.activation === "constant") {
      y = g.scope("constant", () => constantExperts(g, s, p, route, strategy));
    } else if (strategy === "dense") y = g.scope("dense", () => denseExperts(g, s, p, x, route));
    else y = g.scope("sparse", sparse);
    if (s.sharedExperts) y = g.op.Add(y, g.scope("shared", () => sharedExperts(g, s, p, x)));
    return { y, route, strategy };
  });
}

type Lookup = (name: string) => Value;

/** A parameter prefix as a scope name: "moe0." -> "moe0". */
export const scopeName = (prefix: string): string => prefix.replace(/\.+$/, "") || "moe";

/** The sparse layout of a route: tiles sized from the loads, or one tile per expert. */
function dispatch(g: Graph, s: MoeLayerSpec, route: MoeRoute, x: Value): Dispatch {
  switch (route.kind) {
    case "token":
      return tokenChoiceDispatch(g, s, route, x);
    case "expert":
      return expertChoiceDispatch(g, s, route, x);
    default: {
      const never: never = route;
      throw new Error(`route: unknown kind '${(never as MoeRoute).kind}'`);
    }
  }
}

function denseExperts(g: Graph, s: MoeLayerSpec, p: Lookup, x: Value, route: MoeRoute): Value {
  const { op } = g;
  const { m, w } = s;
  const pre = s.expertBias
    ? op.Gemm(x, p("experts.w1"), p("experts.b1"))
    : op.MatMul(x, p("experts.w1"));
  let h = op.Reshape(activate(g, pre, s.activation), [-1, m, w]); // [B, m, w]
  if (s.depth > 1) {
    // Deeper experts: per-expert [w, w] layers as one batched matmul over [m, B, w].
    h = op.Transpose(h, { perm: [1, 0, 2] });
    for (let i = 1; i < s.depth; i++) {
      let z = op.MatMul(h, p(`experts.wh${i}`));
      if (s.expertBias) z = op.Add(z, op.Unsqueeze(p(`experts.bh${i}`), [1]));
      h = activate(g, z, s.activation);
    }
    h = op.Transpose(h, { perm: [1, 0, 2] });
  }
  const gatesFull = gateMatrix(g, route); // [B, m]
  const hg = op.Reshape(op.Mul(h, op.Unsqueeze(gatesFull, [2])), [-1, m * w]);
  const y = op.MatMul(hg, p("experts.w2"));
  return s.expertBias ? op.Add(y, op.MatMul(gatesFull, p("experts.b2"))) : y;
}

/**
 * Constant activation: expert j outputs v_j = A_j 1 + e_j whatever its input (hidden layers of
 * deeper experts also output 1), so f(x) = sum_S g_j v_j. B_j, c_j are not read.
 */
function constantExperts(
  g: Graph,
  s: MoeLayerSpec,
  p: Lookup,
  route: MoeRoute,
  strategy: "dense" | "sparse",
): Value {
  const { op } = g;
  let v = op.ReduceSum(op.Reshape(p("experts.w2"), [s.m, s.w, s.dOut]), [1], { keepdims: 0 }); // [m, dOut]
  if (s.expertBias) v = op.Add(v, p("experts.b2"));
  // Expert choice: the [B, m] gate matrix is as cheap as any gather.
  if (strategy === "dense" || route.kind === "expert") return op.MatMul(gateMatrix(g, route), v);
  const picked = op.Gather(v, route.indices, { axis: 0 }); // [B, k, dOut]
  return op.ReduceSum(op.Mul(picked, op.Unsqueeze(route.gates, [2])), [1], { keepdims: 0 });
}
