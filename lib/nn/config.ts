/**
 * Configurations of the models: the (m, k, w, d)-MoE layer of paper A and the deep L-E-MoE of
 * paper B, with defaults, validation (one-line errors naming the field and the allowed values)
 * and the `16e8a` shorthand.
 */
import { checkBool, checkOneOf, checkPosInt } from "../validate.ts";

/** The gates (how experts are selected and weighted); see `Gate`. */
export const GATES = [
  "softmax-topk",
  "equal",
  "softmax-all",
  "sigmoid-topk",
  "expert-choice",
] as const;
/**
 * How experts are selected and weighted (scores s = R x (+ b)). Token choice, each token
 * takes its top k:
 * - `softmax-topk`: softmax over the k selected scores (the authors' training code). This is
 *   exactly Mixtral's softmax over all m, top-k, renormalize to sum 1 (the softmax's
 *   normalizer cancels);
 * - `equal`: weight 1 for each selected expert (the paper's eq. 2.2; the router gets no gradient);
 * - `softmax-all`: softmax over all m scores, keep the selected k (no renormalization), i.e.
 *   softmax -> top-k without renormalizing (Switch, GShard);
 * - `sigmoid-topk` (DeepSeek-V3, arXiv 2412.19437): affinities sigma(s), selection by top-k of
 *   sigma(s) + b_sel (b_sel the balancing bias, 0 without one), weights the selected *unbiased*
 *   sigma(s) normalized to sum 1.
 *
 * Expert choice (Zhou et al., arXiv 2202.09368), each expert takes its top tokens:
 * - `expert-choice`: P = softmax(s) over the m experts; each expert takes the c = ceil(k B / m)
 *   tokens of its batch with the largest P[t, e] and weighs each by P[t, e]; a token no expert
 *   takes gets 0 from the routed experts (expert_choice.ts). Loads are c by construction, so
 *   no selection bias, auxiliary loss or bias balancing applies.
 *
 * With a selection bias (`selectBias`), the other gates select by top-k of s + b_sel and weigh
 * the selected unbiased scores. `routedScale` multiplies every gate weight.
 */
export type Gate = typeof GATES[number];

/** The expert nonlinearities; see `Activation`. */
export const ACTIVATIONS = ["relu", "linear", "constant", "gelu"] as const;
/**
 * The expert nonlinearity. `constant` is sigma(t) = 1 (arXiv 2505.06839, section 3.1): an
 * expert then outputs the constant vector A_j 1 + e_j whatever its input, and B_j, c_j get no
 * gradient. `gelu` is the exact (erf) form.
 */
export type Activation = typeof ACTIVATIONS[number];

/** The compute strategies; see `Strategy`. */
export const STRATEGIES = ["dense", "sparse", "auto"] as const;
/** How the layer is computed: all experts masked (`dense`), per-expert dispatch (`sparse`). */
export type Strategy = typeof STRATEGIES[number];

/** An (m, k, w, d)-MoE layer: m experts, k active, expert width w, dIn -> dOut. */
export interface MoeLayerConfig {
  /** Number of experts. */
  m: number;
  /** Active experts per token, 1 <= k <= m. */
  k: number;
  /** Hidden width of each expert. */
  w: number;
  /** Input dimension d. */
  dIn: number;
  /** Output dimension. */
  dOut: number;
  /** How the selected experts are weighted. */
  gate: Gate;
  /** The experts' nonlinearity. */
  activation: Activation;
  /** Router bias b in s(x) = R x + b. */
  routerBias: boolean;
  /** Expert biases c_j (hidden) and e_j (output); the authors' code has them. */
  expertBias: boolean;
  /** How the layer is computed (results are identical). */
  strategy: Strategy;
  /**
   * A per-expert selection bias b_sel (`router.select_bias`, [m]) added to the affinities for
   * the top-k selection only: it never enters the gate weights and gets no gradient (the
   * aux-loss-free balancing of DeepSeek-V3 updates it). Absent = no bias.
   */
  selectBias?: boolean;
  /** Routed scaling factor: every gate weight is multiplied by it. Absent = 1. */
  routedScale?: number;
  /** n_s shared experts, always active with weight 1 (shared.ts). Absent = none. */
  sharedExperts?: number;
  /** Hidden width of each shared expert. Absent = w. */
  sharedWidth?: number;
}

/** The optional layer fields, absent at their defaults (so run ids of older configs hold). */
export const MOE_OPTIONAL_FIELDS = [
  "selectBias",
  "routedScale",
  "sharedExperts",
  "sharedWidth",
] as const satisfies readonly (
  keyof MoeLayerConfig
)[];

/** What a caller must give; the rest defaults as in `MOE_DEFAULTS` (dOut defaults to dIn). */
export type MoeLayerInput =
  & Pick<MoeLayerConfig, "m" | "k" | "w" | "dIn">
  & Partial<Omit<MoeLayerConfig, "m" | "k" | "w" | "dIn">>;

/** Defaults: the authors' teacher (softmax-topk, relu, no router bias, expert biases). */
export const MOE_DEFAULTS = {
  gate: "softmax-topk",
  activation: "relu",
  routerBias: false,
  expertBias: true,
  strategy: "auto",
} as const satisfies Partial<MoeLayerConfig>;

/** A complete, validated layer config from the required fields plus overrides. */
export function moeConfig(input: MoeLayerInput): MoeLayerConfig {
  const c: MoeLayerConfig = { ...MOE_DEFAULTS, dOut: input.dIn, ...input };
  validateMoeConfig(c);
  return c;
}

/** Throws a one-line Error naming the first bad field of a layer config. */
export function validateMoeConfig(c: MoeLayerConfig): void {
  checkPosInt("m", c.m);
  if (typeof c.k !== "number" || !Number.isInteger(c.k) || c.k < 1 || c.k > c.m) {
    throw new Error(`k: must be an integer between 1 and m (=${c.m}), got ${String(c.k)}`);
  }
  checkPosInt("w", c.w);
  checkPosInt("dIn", c.dIn);
  checkPosInt("dOut", c.dOut);
  checkOneOf("gate", c.gate, GATES);
  checkOneOf("activation", c.activation, ACTIVATIONS);
  checkBool("routerBias", c.routerBias);
  checkBool("expertBias", c.expertBias);
  checkOneOf("strategy", c.strategy, STRATEGIES);
  validateRouterOptions(c);
}

/** Checks the optional router fields shared by layer and deep configs. */
function validateRouterOptions(c: Pick<MoeLayerConfig, MoeOptionalField | "gate">): void {
  if (c.selectBias !== undefined) checkBool("selectBias", c.selectBias);
  if (c.selectBias && c.gate === "expert-choice") {
    throw new Error(
      "selectBias: not with gate expert-choice (its loads are balanced by construction)",
    );
  }
  if (
    c.routedScale !== undefined &&
    (typeof c.routedScale !== "number" || !Number.isFinite(c.routedScale) || c.routedScale <= 0)
  ) {
    throw new Error(`routedScale: must be a finite number > 0, got ${String(c.routedScale)}`);
  }
  if (c.sharedExperts !== undefined) checkPosInt("sharedExperts", c.sharedExperts);
  if (c.sharedWidth !== undefined) {
    checkPosInt("sharedWidth", c.sharedWidth);
    if (c.sharedExperts === undefined) {
      throw new Error("sharedWidth: needs sharedExperts (the number of shared experts)");
    }
  }
}

/** An optional layer field name. */
export type MoeOptionalField = typeof MOE_OPTIONAL_FIELDS[number];

/** `16e8a` -> { m: 16, k: 8 }. */
export function parseShorthand(s: string): { m: number; k: number } {
  const hit = /^(\d+)e(\d+)a$/.exec(s.trim());
  if (!hit) throw new Error(`shorthand: expected '<m>e<k>a' such as '16e8a', got '${s}'`);
  const m = Number(hit[1]);
  const k = Number(hit[2]);
  if (m < 1 || k < 1 || k > m) {
    throw new Error(`shorthand: need 1 <= k <= m, got '${s}' (m=${m}, k=${k})`);
  }
  return { m, k };
}

/** Whether `s` is a valid shorthand such as `16e8a` (1 <= k <= m). */
export function isShorthand(s: string): boolean {
  try {
    parseShorthand(s);
    return true;
  } catch {
    return false;
  }
}

/** { m: 16, k: 8 } -> `16e8a`. */
export function shorthand(m: number, k: number): string {
  checkPosInt("m", m);
  checkPosInt("k", k);
  return `${m}e${k}a`;
}

/**
 * The paper-A setting for m experts, k active, dimension d: w = floor(activeNeurons / k)
 * (authors: teacher 256 active neurons, student 320, so a 6-active student has w = 53).
 */
export function presetConfig(
  m: number,
  k: number,
  d: number,
  opts: { activeNeurons: number } & Partial<Omit<MoeLayerConfig, "m" | "k" | "w">>,
): MoeLayerConfig {
  const { activeNeurons, ...rest } = opts;
  checkPosInt("activeNeurons", activeNeurons);
  if (!Number.isInteger(k) || k < 1 || k > activeNeurons) {
    throw new Error(
      `k: must be an integer between 1 and activeNeurons (=${activeNeurons}), got ${k}`,
    );
  }
  return moeConfig({ m, k, w: Math.floor(activeNeurons / k), dIn: d, dOut: d, ...rest });
}

/** The authors' teacher: softmax-topk, relu, no router bias, kw = activeNeurons (256). */
export function teacherConfig(
  m: number,
  k: number,
  d: number,
  opts: Partial<{ activeNeurons: number } & Omit<MoeLayerConfig, "m" | "k" | "w">> = {},
): MoeLayerConfig {
  return presetConfig(m, k, d, { activeNeurons: 256, ...opts });
}

/** The authors' student: like the teacher with k'w' = activeNeurons (320) active neurons. */
export function studentConfig(
  m: number,
  k: number,
  d: number,
  opts: Partial<{ activeNeurons: number } & Omit<MoeLayerConfig, "m" | "k" | "w">> = {},
): MoeLayerConfig {
  return presetConfig(m, k, d, { activeNeurons: 320, ...opts });
}

/**
 * A deep MoE (paper B's "L-E-MoE"): L MoE layers with E experts each, top-k routing (k = 1 in
 * the paper), experts are ReLU MLPs with `expertDepth` hidden layers of width `expertWidth`.
 *
 * Dimensions: layer 0 maps dIn -> hiddenDim, layers 1..L-2 map hiddenDim -> hiddenDim and the
 * last layer maps to dOut (a single layer maps dIn -> dOut). dOut = 1 is the scalar-output
 * case (output shape [B, 1]). With `residual`, a layer whose input and output dimensions agree
 * adds its input to its output. With `denseBetween`, a dense layer act(W h + b)
 * (hiddenDim -> hiddenDim) sits between consecutive MoE layers.
 */
export interface DeepMoeConfig {
  /** Input dimension. */
  dIn: number;
  /** Output dimension (1: scalar output). */
  dOut: number;
  /** L: number of MoE layers. */
  layers: number;
  /** E: experts per layer. */
  experts: number;
  /** Active experts per token and layer. */
  k: number;
  /** Hidden layers per expert (1 = the two-layer expert A act(B x + c) + e). */
  expertDepth: number;
  /** Hidden width of each expert. */
  expertWidth: number;
  /** Add a layer's input to its output where the dimensions agree. */
  residual: boolean;
  /** A dense layer between consecutive MoE layers. */
  denseBetween: boolean;
  /** Width between layers (default expertWidth). */
  hiddenDim: number;
  /** How the selected experts are weighted. */
  gate: Gate;
  /** The nonlinearity of experts and dense layers. */
  activation: Activation;
  /** Router biases. */
  routerBias: boolean;
  /** Expert biases. */
  expertBias: boolean;
  /** How the layers are computed (results are identical). */
  strategy: Strategy;
}

/** What a caller must give for a deep config; the rest defaults as in `DEEP_DEFAULTS`. */
export type DeepMoeInput =
  & Pick<DeepMoeConfig, "dIn" | "dOut" | "layers" | "experts" | "expertWidth">
  & Partial<DeepMoeConfig>;

/** Defaults for paper B: top-1, relu, softmax-topk (= gate 1 for top-1), biases everywhere. */
export const DEEP_DEFAULTS = {
  k: 1,
  expertDepth: 1,
  residual: false,
  denseBetween: false,
  gate: "softmax-topk",
  activation: "relu",
  routerBias: true,
  expertBias: true,
  strategy: "auto",
} as const satisfies Partial<DeepMoeConfig>;

/** A complete, validated deep config (hiddenDim defaults to expertWidth). */
export function deepMoeConfig(input: DeepMoeInput): DeepMoeConfig {
  const c: DeepMoeConfig = { ...DEEP_DEFAULTS, hiddenDim: input.expertWidth, ...input };
  validateDeepMoeConfig(c);
  return c;
}

/** Throws a one-line Error naming the first bad field of a deep config. */
export function validateDeepMoeConfig(c: DeepMoeConfig): void {
  checkPosInt("dIn", c.dIn);
  checkPosInt("dOut", c.dOut);
  checkPosInt("layers", c.layers);
  checkPosInt("experts", c.experts);
  if (typeof c.k !== "number" || !Number.isInteger(c.k) || c.k < 1 || c.k > c.experts) {
    throw new Error(
      `k: must be an integer between 1 and experts (=${c.experts}), got ${String(c.k)}`,
    );
  }
  checkPosInt("expertDepth", c.expertDepth);
  checkPosInt("expertWidth", c.expertWidth);
  checkPosInt("hiddenDim", c.hiddenDim);
  checkBool("residual", c.residual);
  checkBool("denseBetween", c.denseBetween);
  checkOneOf("gate", c.gate, GATES);
  checkOneOf("activation", c.activation, ACTIVATIONS);
  if (c.denseBetween && c.activation === "constant") {
    throw new Error(
      "denseBetween: dense layers cannot use activation 'constant' (allowed: relu, linear, gelu)",
    );
  }
  checkBool("routerBias", c.routerBias);
  checkBool("expertBias", c.expertBias);
  checkOneOf("strategy", c.strategy, STRATEGIES);
}

/** One MoE layer of a deep model, as a layer spec (the shared internal form). */
export interface MoeLayerSpec extends MoeLayerConfig {
  /** Hidden layers per expert (1 for paper A's layer). */
  depth: number;
}

/** Input/output dimensions of MoE layer `l` of a deep model. */
export function deepLayerDims(c: DeepMoeConfig, l: number): { dIn: number; dOut: number } {
  return {
    dIn: l === 0 ? c.dIn : c.hiddenDim,
    dOut: l === c.layers - 1 ? c.dOut : c.hiddenDim,
  };
}

/** The layer spec of MoE layer `l` of a deep model. */
export function deepLayerSpec(c: DeepMoeConfig, l: number): MoeLayerSpec {
  return {
    m: c.experts,
    k: c.k,
    w: c.expertWidth,
    ...deepLayerDims(c, l),
    gate: c.gate,
    activation: c.activation,
    routerBias: c.routerBias,
    expertBias: c.expertBias,
    strategy: c.strategy,
    depth: c.expertDepth,
  };
}
