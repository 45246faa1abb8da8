/**
 * Load balancing of an MoE layer's router, as graph code built from the layer's routing:
 *
 * - the auxiliary loss alpha * m * sum_i f_i P_i (Switch Transformer, arXiv 2101.03961; GShard,
 *   arXiv 2006.16668): f_i the fraction of the B k token-slots routed to expert i (no
 *   gradient), P_i the mean over the batch of the router probability of expert i (softmax of
 *   the scores; for `sigmoid-topk` sigma(s) normalized over the m experts);
 * - the router z-loss beta * mean_t logsumexp(s_t)^2 (ST-MoE, arXiv 2202.08906), with
 *   logsumexp(s) = mean_j (s_j - logsoftmax(s)_j) (stable, and every op has a gradient rule);
 * - aux-loss-free bias balancing (DeepSeek-V3, arXiv 2412.19437; Wang et al., arXiv
 *   2408.15664): after every optimizer step the selection bias moves by
 *   b_i += gamma * sign(mean load - load_i), loads counted on that step's batch. The bias only
 *   selects (gates.ts), gets no gradient and is carried through the training Loop as state.
 *
 * Loads are float counts (exact integers up to 2^24 token-slots), built with ScatterElements
 * and ReduceSum, so no int64 arithmetic is needed.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { tensor } from "../graph/tensor.ts";
import type { MoeLayerSpec } from "./config.ts";
import { type MoeRoute, pairMatrix, shapeOf } from "./gates.ts";

/** The balancing of one MoE layer's router while training; every field absent = off. */
export interface BalanceConfig {
  /** alpha of the auxiliary load-balancing loss. */
  auxLoss?: number;
  /** beta of the router z-loss. */
  zLoss?: number;
  /** gamma of the bias balancing (needs a layer with `selectBias`). */
  biasRate?: number;
}

/** The balancing settings, in canonical order. */
export const BALANCE_FIELDS = ["auxLoss", "zLoss", "biasRate"] as const satisfies readonly (
  keyof BalanceConfig
)[];

/** Throws a one-line Error naming the first bad field (`prefix` names where it sits). */
export function validateBalance(
  b: BalanceConfig,
  layer: Partial<Pick<MoeLayerSpec, "selectBias" | "gate">>,
  prefix = "",
): void {
  for (const k of Object.keys(b)) {
    if (!(BALANCE_FIELDS as readonly string[]).includes(k)) {
      throw new Error(`${prefix}${k}: unknown field (allowed: ${BALANCE_FIELDS.join(", ")})`);
    }
  }
  for (const f of BALANCE_FIELDS) {
    const v = b[f];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v < 0)) {
      throw new Error(`${prefix}${f}: must be a finite number >= 0, got ${String(v)}`);
    }
  }
  if (b.auxLoss !== undefined && layer.gate === "expert-choice") {
    throw new Error(
      `${prefix}auxLoss: not with gate expert-choice (its loads are balanced by construction)`,
    );
  }
  if (b.biasRate !== undefined && !layer.selectBias) {
    throw new Error(
      `${prefix}biasRate: needs a layer with a selection bias (selectBias: true)`,
    );
  }
}

/** [B, m] float: 1 where the (token, expert) pair is selected, else 0. */
export function selectionMask(g: Graph, route: MoeRoute): Value {
  const ones = g.op.ConstantOfShape(shapeOf(g, route.gates), tensor(route.gates.dtype, [1], [1]));
  return pairMatrix(g, route, ones);
}

/** [m]: the number of token-slots routed to each expert (float, no gradient). */
export function expertCounts(g: Graph, route: MoeRoute): Value {
  return g.op.ReduceSum(selectionMask(g, route), [0], { keepdims: 0 });
}

/** [B, m]: the router probabilities the auxiliary loss averages (see the module doc). */
export function routerProbs(g: Graph, s: Pick<MoeLayerSpec, "gate">, scores: Value): Value {
  const { op } = g;
  if (s.gate !== "sigmoid-topk") return op.Softmax(scores, { axis: -1 });
  const a = op.Sigmoid(scores);
  return op.Div(a, op.ReduceSum(a, [1]));
}

/** alpha * m * sum_i f_i P_i, a scalar; f_i = counts_i / (B k), P_i = mean_t probs[t, i]. */
export function auxLoss(
  g: Graph,
  s: Pick<MoeLayerSpec, "gate" | "m" | "k">,
  route: MoeRoute,
  alpha: number,
): Value {
  const { op } = g;
  const mask = selectionMask(g, route);
  // f_i = mean_t mask[t, i] / k; alpha m / k folds into one constant.
  const f = op.ReduceMean(mask, { axes: [0], keepdims: 0 });
  const P = op.ReduceMean(routerProbs(g, s, route.scores), { axes: [0], keepdims: 0 });
  return op.Mul(op.ReduceSum(op.Mul(f, P), undefined, { keepdims: 0 }), (alpha * s.m) / s.k);
}

/** beta * mean_t logsumexp(scores_t)^2, a scalar. */
export function zLoss(g: Graph, scores: Value, beta: number): Value {
  const { op } = g;
  const lse = op.ReduceMean(op.Sub(scores, op.LogSoftmax(scores, { axis: -1 })), {
    axes: [1],
    keepdims: 0,
  }); // [B]
  return op.Mul(op.ReduceMean(op.Mul(lse, lse), { keepdims: 0 }), beta);
}

/** The bias after one step: b + gamma * sign(mean(counts) - counts), [m]. */
export function biasUpdate(g: Graph, bias: Value, counts: Value, gamma: number): Value {
  const { op } = g;
  const mean = op.ReduceMean(counts, { keepdims: 1 });
  return op.Add(bias, op.Mul(op.Sign(op.Sub(mean, counts)), gamma));
}

/** What balancing adds to one layer's training step. */
export interface BalanceTerms {
  /** The sum of the enabled loss terms (absent when none is enabled). */
  loss?: Value;
  /** The new value of the selection bias (absent without bias balancing). */
  bias?: Value;
}

/** The loss terms and bias update of one layer for `cfg` (see the module doc). */
export function balanceTerms(
  g: Graph,
  s: Pick<MoeLayerSpec, "gate" | "m" | "k">,
  route: MoeRoute,
  cfg: BalanceConfig,
  bias?: Value,
): BalanceTerms {
  const parts: Value[] = [];
  if (cfg.auxLoss) parts.push(auxLoss(g, s, route, cfg.auxLoss));
  if (cfg.zLoss) parts.push(zLoss(g, route.scores, cfg.zLoss));
  const out: BalanceTerms = {};
  if (parts.length) out.loss = parts.length === 1 ? parts[0] : g.op.Add(parts[0], parts[1]);
  if (cfg.biasRate !== undefined) {
    if (!bias) throw new Error("biasRate: the layer has no selection bias (selectBias: true)");
    out.bias = biasUpdate(g, bias, expertCounts(g, route), cfg.biasRate);
  }
  return out;
}
