/**
 * The (m, k, w, d)-MoE layer as ONNX graph code, in two strategies with identical results:
 *
 * - `dense`: every expert is computed, as one wide matmul x @ w1 [dIn, m*w]; each expert's
 *   hidden units are scaled by its gate (0 for unselected experts) and one matmul with
 *   w2 [m*w, dOut] sums the selected experts. Cost ~ 2 B m w (dIn + dOut) FLOPs.
 * - `sparse`: exact dispatch. The B*k (token, expert) assignments are sorted by expert (TopK on
 *   the unique int64 key expert*N + assignment, i.e. a stable sort) and laid out in tiles of
 *   T = ceil(N / m) rows, each tile owned by one expert (an expert with load c gets ceil(c / T)
 *   tiles; unused rows read an appended zero row). All sizes are computed in the graph from the
 *   actual loads, so nothing is ever dropped, and whatever the balance there are at most 2m
 *   tiles and 2N rows (a capacity of max-load per expert would blow up m-fold under a
 *   collapsed router). Each tile gathers its expert's weights, runs the batched matmuls
 *   [tiles, T, dIn] x [tiles, dIn, w] -> act -> x [tiles, w, dOut], and the rows are gathered
 *   back to [B*k, dOut], weighted by the gates and summed over k.
 *   Cost ~ 2 B k w (dIn + dOut) FLOPs (at most twice that) plus dispatch and weight gathers.
 *
 * Routing: scores s = x @ router.weight (+ router.bias), S = TopK(s, k). Ties between equal
 * scores go to the lower expert index (ONNX TopK's documented order; the TS reference does the
 * same). The float path (what gradients flow through) uses only MatMul, Gemm, Add, Mul, Relu,
 * Erf (+ Cast for float64 gelu), Softmax, ReduceSum, Reshape, Transpose, Unsqueeze, Concat,
 * Gather (with repeated indices: its gradient must accumulate), GatherElements,
 * ScatterElements, TopK values. `equal` gates and the zero matrices come from
 * ConstantOfShape(Shape(.)). The sparse strategy's index arithmetic is int64 (Shape, Squeeze,
 * Range, TopK indices, ScatterElements incl. reduction "add", CumSum, ReduceSum, Div, Expand)
 * and carries no gradient. No ScatterND/GatherND.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { isFloat } from "../graph/dtype.ts";
import { tensor } from "../graph/tensor.ts";
import {
  type Activation,
  type MoeLayerConfig,
  type MoeLayerSpec,
  STRATEGIES,
  type Strategy,
  validateMoeConfig,
} from "./config.ts";
import { getParam, type ParamValues } from "./params.ts";

export interface MoeRoute {
  /** Router scores s(x), [B, m]. */
  scores: Value;
  /** Selected experts, [B, k] int64, in decreasing score order. */
  indices: Value;
  /** Their gate weights, [B, k]. */
  gates: Value;
}

export interface MoeForwardResult {
  /** Layer output, [B, dOut]. */
  y: Value;
  route: MoeRoute;
  /** The strategy actually built (`auto` resolved). */
  strategy: "dense" | "sparse";
}

export interface MoeForwardOptions {
  /** Name prefix of the layer's parameters (default `moe0.`). */
  prefix?: string;
  /** Overrides `config.strategy`. */
  strategy?: Strategy;
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
  return moeLayerForward(g, spec, params, x, opts.prefix ?? "moe0.");
}

/** Per-token cost estimates (FLOP-equivalents) behind `auto`. */
export interface StrategyCost {
  dense: number;
  sparse: number;
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
export function strategyCost(s: MoeLayerSpec): StrategyCost {
  const perExpert = 2 * s.w * (s.dIn + s.dOut + s.w * (s.depth - 1));
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
  const route = routeTokens(g, s, p, x);
  const strategy = s.strategy === "auto" ? strategyCost(s).choice : s.strategy;
  let y: Value;
  if (s.activation === "constant") y = constantExperts(g, s, p, route, strategy);
  else if (strategy === "dense") y = denseExperts(g, s, p, x, route);
  else y = sparseExperts(g, s, p, x, route);
  return { y, route, strategy };
}

type Lookup = (name: string) => Value;

function routeTokens(g: Graph, s: MoeLayerSpec, p: Lookup, x: Value): MoeRoute {
  const { op } = g;
  const scores = s.routerBias
    ? op.Gemm(x, p("router.weight"), p("router.bias"))
    : op.MatMul(x, p("router.weight"));
  const [vals, indices] = op.TopK(scores, s.k, -1, 1, 1);
  let gates: Value;
  if (s.gate === "softmax-topk") gates = op.Softmax(vals, -1);
  else if (s.gate === "softmax-all") gates = op.GatherElements(op.Softmax(scores, -1), indices, 1);
  // Built from the shape only, so no gradient reaches the router (as in eq. 2.2).
  else gates = op.ConstantOfShape(op.Shape(vals), tensor(x.dtype, [1], [1]));
  return { scores, indices, gates };
}

/** act(z) elementwise; `constant` is built without it (its experts do not read their input). */
export function activate(g: Graph, z: Value, a: Activation): Value {
  const { op } = g;
  switch (a) {
    case "relu":
      return op.Relu(z);
    case "linear":
      return z;
    case "gelu": {
      // Exact GELU: z * Phi(z) = 0.5 z (1 + erf(z / sqrt 2)). onnxruntime's CPU Erf is
      // float32-only, so float64 graphs evaluate erf in float32 (about 1e-7 relative).
      const u = op.Mul(z, Math.SQRT1_2);
      const e = z.dtype === "float32" ? op.Erf(u) : op.Cast(op.Erf(op.Cast(u, "float32")), z.dtype);
      return op.Mul(op.Mul(z, 0.5), op.Add(e, 1));
    }
    case "constant":
      throw new Error("activation: 'constant' experts are built without an activation");
  }
}

/** Gates scattered into a [B, m] matrix that is 0 for unselected experts. */
function fullGates(g: Graph, route: MoeRoute): Value {
  const { op } = g;
  const zeros = op.ConstantOfShape(op.Shape(route.scores), tensor(route.gates.dtype, [1], [0]));
  return op.ScatterElements(zeros, route.indices, route.gates, 1);
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
    h = op.Transpose(h, [1, 0, 2]);
    for (let i = 1; i < s.depth; i++) {
      let z = op.MatMul(h, p(`experts.wh${i}`));
      if (s.expertBias) z = op.Add(z, op.Unsqueeze(p(`experts.bh${i}`), [1]));
      h = activate(g, z, s.activation);
    }
    h = op.Transpose(h, [1, 0, 2]);
  }
  const gatesFull = fullGates(g, route); // [B, m]
  const hg = op.Reshape(op.Mul(h, op.Unsqueeze(gatesFull, [2])), [-1, m * w]);
  const y = op.MatMul(hg, p("experts.w2"));
  return s.expertBias ? op.Add(y, op.MatMul(gatesFull, p("experts.b2"))) : y;
}

function sparseExperts(g: Graph, s: MoeLayerSpec, p: Lookup, x: Value, route: MoeRoute): Value {
  const { op } = g;
  const { m, k, w, dIn, dOut } = s;
  const i64 = (v: number) => tensor("int64", [1], [v]);

  // Index arithmetic (int64, no gradient): which buffer slot each assignment goes to.
  const expertOf = op.Reshape(route.indices, [-1]); // [N]; assignment a = token * k + rank
  const nVec = op.Shape(expertOf); // [1] = N
  const n = op.Squeeze(nVec, [0]);
  const ar = op.Range(0, n, 1); // [N]
  // Unique keys expert*N + a: an ascending TopK is a stable sort by expert.
  const [, perm] = op.TopK(op.Add(op.Mul(expertOf, n), ar), nVec, 0, 0, 1);
  const sortedExpert = op.Gather(expertOf, perm);
  const ones = op.ConstantOfShape(nVec, i64(1));
  const counts = op.ScatterElements(tensor("int64", [m]), expertOf, ones, 0, "add"); // [m] loads
  // Tiles of T = ceil(N / m) rows, each owned by one expert: at most N/T + m <= 2m tiles and
  // 2N rows whatever the load balance, so a collapsed router cannot blow up the buffer.
  const t = op.Div(op.Add(n, m - 1), m);
  const tiles = op.Div(op.Add(counts, op.Sub(t, 1)), t); // [m] ceil(count / T)
  const tileEnd = op.CumSum(tiles, 0);
  const tileStart = op.Sub(tileEnd, tiles);
  const nTiles = op.ReduceSum(tiles, [0], 1); // [1]
  const start = op.CumSum(counts, 0, { exclusive: 1 }); // first sorted position per expert
  const slotSorted = op.Add(
    op.Mul(op.Gather(tileStart, sortedExpert), t),
    op.Sub(ar, op.Gather(start, sortedExpert)),
  );
  const slotOf = op.ScatterElements(op.ConstantOfShape(nVec, i64(0)), perm, slotSorted, 0); // [N]
  // Assignment held by each slot; empty slots hold N, and N / k = B is the zero row of xPad.
  const nSlots = op.Mul(nTiles, t);
  const slotAssign = op.ScatterElements(op.Expand(n, nSlots), slotSorted, perm, 0);
  // A tile's first slot is always filled: its assignment names the tile's expert.
  const tileExpert = op.Gather(
    expertOf,
    op.Gather(slotAssign, op.Range(0, op.Squeeze(nSlots, [0]), t)),
  );
  const bufShape = (d: number) => op.Concat([nTiles, i64(-1), i64(d)], 0);

  // Float path: [nTiles, T, dIn] x [nTiles, dIn, w] -> act -> x [nTiles, w, dOut].
  const perTile = (v: Value) => op.Gather(v, tileExpert, 0);
  const xPad = op.Concat([x, tensor(x.dtype, [1, dIn])], 0); // [B+1, dIn]
  const xBuf = op.Reshape(op.Gather(xPad, op.Div(slotAssign, k), 0), bufShape(dIn));
  const w1 = op.Transpose(op.Reshape(p("experts.w1"), [dIn, m, w]), [1, 0, 2]); // [m, dIn, w]
  let z = op.MatMul(xBuf, perTile(w1));
  if (s.expertBias) z = op.Add(z, perTile(op.Reshape(p("experts.b1"), [m, 1, w])));
  let h = activate(g, z, s.activation);
  for (let i = 1; i < s.depth; i++) {
    z = op.MatMul(h, perTile(p(`experts.wh${i}`)));
    if (s.expertBias) z = op.Add(z, perTile(op.Unsqueeze(p(`experts.bh${i}`), [1])));
    h = activate(g, z, s.activation);
  }
  let y = op.MatMul(h, perTile(op.Reshape(p("experts.w2"), [m, w, dOut])));
  if (s.expertBias) y = op.Add(y, perTile(op.Unsqueeze(p("experts.b2"), [1])));
  const yAssign = op.Gather(op.Reshape(y, [-1, dOut]), slotOf, 0); // [N, dOut]
  const weighted = op.Mul(yAssign, op.Reshape(route.gates, [-1, 1]));
  return op.ReduceSum(op.Reshape(weighted, [-1, k, dOut]), [1], 0);
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
  let v = op.ReduceSum(op.Reshape(p("experts.w2"), [s.m, s.w, s.dOut]), [1], 0); // [m, dOut]
  if (s.expertBias) v = op.Add(v, p("experts.b2"));
  if (strategy === "dense") return op.MatMul(fullGates(g, route), v);
  const picked = op.Gather(v, route.indices, 0); // [B, k, dOut]
  return op.ReduceSum(op.Mul(picked, op.Unsqueeze(route.gates, [2])), [1], 0);
}
