/**
 * Routing of an MoE layer as graph code: router scores, the top-k selection (optionally
 * biased by the balancing bias b_sel, which only selects) and the gate weights of each gate
 * family (see `Gate` in config.ts). Token-choice gates pick k experts per token; the
 * `expert-choice` gate picks c tokens per expert (expert_choice.ts).
 *
 * Graph ops: MatMul / Gemm for the scores, TopK, Softmax, Sigmoid, GatherElements, ReduceSum,
 * Div, Mul, Add, ConstantOfShape (the `equal` gates). The selection bias enters only the TopK
 * input, so neither it nor the indices carry a gradient; the weights are read from the
 * unbiased scores.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { tensor } from "../graph/tensor.ts";
import type { MoeLayerSpec } from "./config.ts";
import { type ExpertChoiceRoute, routeExpertChoice } from "./expert_choice.ts";

type Lookup = (name: string) => Value;

/** A token-choice layer's routing: scores, each token's selected experts and their weights. */
export interface TokenChoiceRoute {
  /** Discriminant: each token chose its experts. */
  kind: "token";
  /** Router scores s(x), [B, m]. */
  scores: Value;
  /** Selected experts, [B, k] int64, in decreasing (biased) affinity order. */
  indices: Value;
  /** Their gate weights, [B, k]. */
  gates: Value;
}

export type { ExpertChoiceRoute };

/** A layer's routing: k experts per token, or (`expert-choice`) c tokens per expert. */
export type MoeRoute = TokenChoiceRoute | ExpertChoiceRoute;

/**
 * The int64 shape of `v`: a constant when static, so the shapes downstream (and their
 * gradients) stay static; else Shape(v).
 */
export function shapeOf(g: Graph, v: Value): Value {
  const s = v.shape;
  return s && s.every((d) => typeof d === "number")
    ? g.constant(tensor("int64", [s.length], s as number[]))
    : g.op.Shape(v);
}

/** Scores, selection and gate weights of one layer for x: [B, dIn]. */
export function routeTokens(g: Graph, s: MoeLayerSpec, p: Lookup, x: Value): MoeRoute {
  const { op } = g;
  const scores = s.routerBias
    ? op.Gemm(x, p("router.weight"), p("router.bias"))
    : op.MatMul(x, p("router.weight"));
  if (s.gate === "expert-choice") {
    const r = routeExpertChoice(g, s, scores);
    return { ...r, gates: scaleGates(g, s, r.gates) };
  }
  const bias = s.selectBias ? p("router.select_bias") : undefined;
  // The affinity the selection ranks (before the bias): sigma(s) for sigmoid gates, else s.
  const affinity = s.gate === "sigmoid-topk" ? op.Sigmoid(scores) : scores;
  const [vals, indices] = op.TopK(bias ? op.Add(affinity, bias) : affinity, s.k, {
    axis: -1,
    largest: 1,
    sorted: 1,
  });
  // The selected unbiased affinities (TopK's values when nothing biases the selection).
  const picked = () => (bias ? op.GatherElements(affinity, indices, { axis: 1 }) : vals);
  let gates: Value;
  switch (s.gate) {
    case "softmax-topk":
      gates = op.Softmax(picked(), { axis: -1 });
      break;
    case "softmax-all":
      gates = op.GatherElements(op.Softmax(scores, { axis: -1 }), indices, { axis: 1 });
      break;
    case "sigmoid-topk": {
      const a = picked();
      gates = op.Div(a, op.ReduceSum(a, [1]));
      break;
    }
    case "equal":
      // Built from the shape only, so no gradient reaches the router (as in eq. 2.2).
      gates = op.ConstantOfShape(shapeOf(g, vals), tensor(x.dtype, [1], [1]));
      break;
    default: {
      const never: never = s.gate;
      throw new Error(`gate: unknown value '${never}'`);
    }
  }
  return { kind: "token", scores, indices, gates: scaleGates(g, s, gates) };
}

/** The route's selection: [B, k] experts (token choice) or [m, c] tokens (expert choice). */
export function selection(route: MoeRoute): Value {
  return route.kind === "token" ? route.indices : route.tokens;
}

/** Gate weights times `routedScale` (unchanged at 1). */
export function scaleGates(g: Graph, s: Pick<MoeLayerSpec, "routedScale">, gates: Value): Value {
  return s.routedScale !== undefined && s.routedScale !== 1
    ? g.op.Mul(gates, s.routedScale)
    : gates;
}

/**
 * [B, m]: the gate weight of every (token, expert) pair, 0 where the expert does not take the
 * token (the dense strategy's gate matrix).
 */
export function gateMatrix(g: Graph, route: MoeRoute): Value {
  return pairMatrix(g, route, route.gates);
}

/**
 * [B, m]: `values` (shaped like `route.gates`) placed at the route's selected (token, expert)
 * pairs, 0 elsewhere (the selections are distinct, so nothing adds up).
 */
export function pairMatrix(g: Graph, route: MoeRoute, values: Value): Value {
  const { op } = g;
  const zeros = (shape: Value) => op.ConstantOfShape(shape, tensor(values.dtype, [1], [0]));
  switch (route.kind) {
    case "token":
      return op.ScatterElements(zeros(shapeOf(g, route.scores)), route.indices, values, {
        axis: 1,
      });
    case "expert": {
      // Expert-major [m, B], then transposed: expert e's row holds its c tokens' values.
      const full = op.ScatterElements(zeros(shapeOf(g, route.probsT)), route.tokens, values, {
        axis: 1,
      });
      return op.Transpose(full, { perm: [1, 0] });
    }
    default: {
      const never: never = route;
      throw new Error(`route: unknown kind '${(never as MoeRoute).kind}'`);
    }
  }
}
