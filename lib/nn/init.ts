/**
 * Seeded parameter initialization with the toolkit's own PRNG (never the runtime's), so the
 * same seed gives the same bytes on every machine. Each tensor draws from
 * foldIn(layerKey, tensorName): adding a tensor never shifts the others, and the layer prefix
 * does not change the values. Values are drawn in float64; float32 parameters are those values
 * rounded to nearest.
 */
import type { FloatDType } from "../graph/dtype.ts";
import { numel, tensor } from "../graph/tensor.ts";
import { foldIn, type Key, normal, uniform } from "../random/prng.ts";
import {
  type DeepMoeConfig,
  type MoeLayerConfig,
  type MoeLayerSpec,
  validateDeepMoeConfig,
  validateMoeConfig,
} from "./config.ts";
import { blockParamShapes, deepBlocks, moeParamShapes, type ParamShape } from "./layout.ts";
import type { ParamSet } from "./params.ts";

/** The parameter initialization schemes; see `InitScheme`. */
export const INIT_SCHEMES = ["torch", "paper"] as const;
/**
 * - `torch`: PyTorch nn.Linear's default, weights and biases uniform in +-1/sqrt(fan_in)
 *   (fan_in: router d, B_j d, A_j w), as the authors' teacher and student.
 * - `paper`: the paper's Gaussian constructions: routing vectors r_j ~ N(0, I_d) (Lemma 3.2),
 *   B_j entries N(0, 1/dIn), hidden layers N(0, 1/w), and A_j entries N(0, 1/(k w)) so that for
 *   x ~ N(0, I/d) the linear-activation output has E||f(x)||^2 ~ E||x||^2 (boundedness, B.2).
 *   For the constant activation A_j entries are N(0, 1/(2 dOut k w)), which makes the constant
 *   expert u_j = A_j 1 ~ N(0, I/(2 dOut k)) exactly as in Lemma 3.3. All biases are 0.
 */
export type InitScheme = typeof INIT_SCHEMES[number];

/** Options of the initializers. */
export interface InitOptions {
  /** Initialization scheme (default torch). */
  scheme?: InitScheme;
  /** Element type of the tensors (default float32). */
  dtype?: FloatDType;
  /** Name prefix of the layer's tensors (default `moe0.`); does not affect the values. */
  prefix?: string;
}

function checkScheme(scheme: string): void {
  if (!(INIT_SCHEMES as readonly string[]).includes(scheme)) {
    throw new Error(
      `scheme: unknown init scheme '${scheme}' (allowed: ${INIT_SCHEMES.join(", ")})`,
    );
  }
}

function checkDtype(dtype: string): void {
  if (dtype !== "float32" && dtype !== "float64") {
    throw new Error(`dtype: must be float32 or float64, got '${dtype}'`);
  }
}

function draw(s: MoeLayerSpec, p: ParamShape, k: Key, scheme: InitScheme): Float64Array {
  const out = new Float64Array(numel(p.dims));
  if (p.role === "state") return out;
  if (scheme === "torch") {
    const b = 1 / Math.sqrt(p.fanIn);
    return uniform(k, out, -b, b);
  }
  if (p.role === "bias" || p.role === "router.bias") return out;
  if (p.role === "router.weight") return normal(k, out, 0, 1);
  if (p.layer === 1) return normal(k, out, 0, Math.sqrt(1 / s.dIn));
  if (p.layer === "h") return normal(k, out, 0, Math.sqrt(1 / s.w));
  // fanIn is the expert's width (w, or w_s for shared experts).
  const v = s.activation === "constant" ? 1 / (2 * s.dOut * s.k * p.fanIn) : 1 / (s.k * p.fanIn);
  return normal(k, out, 0, Math.sqrt(v));
}

/** Initializes one layer spec into `out` (internal form shared with the deep model). */
export function initLayerInto(
  out: ParamSet,
  s: MoeLayerSpec,
  k: Key,
  scheme: InitScheme,
  dtype: FloatDType,
  prefix: string,
): void {
  for (const p of moeParamShapes(s)) {
    const data = draw(s, p, foldIn(k, p.name), scheme);
    out.set(prefix + p.name, tensor(dtype, p.dims, data));
  }
}

/**
 * Parameters of an (m, k, w, d)-MoE layer, named `<prefix>router.weight`, ... (see layout.ts).
 * `options` may be just the scheme. Same config, key and options give the same bytes on every
 * machine.
 */
export function initMoe(
  config: MoeLayerConfig,
  key: Key,
  options: InitOptions | InitScheme = {},
): ParamSet {
  const opts: InitOptions = typeof options === "string" ? { scheme: options } : options;
  validateMoeConfig(config);
  const scheme = opts.scheme ?? "torch";
  const dtype = opts.dtype ?? "float32";
  checkScheme(scheme);
  checkDtype(dtype);
  const out: ParamSet = new Map();
  initLayerInto(out, { ...config, depth: 1 }, key, scheme, dtype, opts.prefix ?? "moe0.");
  return out;
}

/**
 * Parameters of a deep MoE: layer l's tensors are `moe<l>.*` drawn from foldIn(key, "moe<l>"),
 * the dense layers between MoE layers `dense<l>.weight` [hiddenDim, hiddenDim] (used as
 * h @ W) and `dense<l>.bias`, torch-style (paper scheme: N(0, 1/hiddenDim), bias 0).
 */
export function initDeepMoe(
  config: DeepMoeConfig,
  key: Key,
  opts: Omit<InitOptions, "prefix"> = {},
): ParamSet {
  validateDeepMoeConfig(config);
  const scheme = opts.scheme ?? "torch";
  const dtype = opts.dtype ?? "float32";
  checkScheme(scheme);
  checkDtype(dtype);
  const out: ParamSet = new Map();
  for (const b of deepBlocks(config)) {
    const k = foldIn(key, b.name);
    if (b.kind === "moe") {
      initLayerInto(out, b.spec, k, scheme, dtype, b.prefix);
      continue;
    }
    const std = 1 / Math.sqrt(b.dim);
    for (const p of blockParamShapes(b)) {
      const data = new Float64Array(numel(p.dims));
      if (scheme === "torch") uniform(foldIn(k, p.name), data, -std, std);
      else if (p.role === "weight") normal(foldIn(k, p.name), data, 0, std);
      out.set(b.prefix + p.name, tensor(dtype, p.dims, data));
    }
  }
  return out;
}
