/**
 * AdamW as torch.optim.AdamW (amsgrad=False, maximize=False):
 *   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * The state is kept without the (1-b) factors: exp_avg_scaled = m / (1-b1) and
 * exp_avg_sq_scaled = v / (1-b2), so the moments update as M = b1*M + g and V = b2*V + g*g, and
 * every constant folds into two per-step scalars:
 *   p -= s * M / (sqrt(V) + e),  s = lr (1-b1) sqrt(bc2) / (bc1 sqrt(1-b2)),
 *   e = eps sqrt(bc2) / sqrt(1-b2).
 * That is 11 full-size elementwise ops per parameter (10 with weightDecay = 0) reading and
 * writing 26 parameter-sized arrays, against torch's 32: AdamW is memory-bound, and for a 5 M
 * parameter student it is a fifth of the step. Same math as torch up to rounding (the tests
 * check 1e-10 relative in float64); `adamwTorchState` converts the state to torch's.
 * The per-step scalars are computed in float64 (torch computes them in Python floats: in
 * float32, 1 - 0.999^t would lose ~1e-5 of relative accuracy at t = 1).
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import {
  asDType,
  asF64,
  defineOptimizer,
  type Optimizer,
  ScalarCache,
  type StepContext,
} from "./optimizer.ts";
import { checkKeys, checkNumber, nonNegative, show, unitInterval } from "../validate.ts";

/** Options of `adamw` (torch.optim.AdamW's, with its defaults). */
export interface AdamWOptions {
  /** (beta1, beta2), each in [0, 1). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the bias-corrected sqrt(v). Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (multiplied by lr). Default 0.01 (torch's default). */
  weightDecay?: number;
}

export type ResolvedAdamW = Required<AdamWOptions>;

const KEYS = ["betas", "eps", "weightDecay"] as const;
/** State keys: torch's exp_avg / (1 - beta1) and exp_avg_sq / (1 - beta2). */
export const ADAMW_STATE = ["exp_avg_scaled", "exp_avg_sq_scaled"] as const;

/** Fills in defaults and validates (one-line errors naming the field and its allowed values). */
export function resolveAdamW(opts: AdamWOptions = {}): ResolvedAdamW {
  checkKeys("adamw", opts, KEYS);
  const betas = opts.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw new Error(`adamw.betas: must be two numbers in [0, 1), got ${show(betas)}`);
  }
  betas.forEach((b, i) => checkNumber(`adamw.betas[${i}]`, b, "a number in [0, 1)", unitInterval));
  return {
    betas: [betas[0], betas[1]],
    eps: checkNumber("adamw.eps", opts.eps ?? 1e-8, "a number >= 0", nonNegative),
    weightDecay: checkNumber(
      "adamw.weightDecay",
      opts.weightDecay ?? 0.01,
      "a number >= 0",
      nonNegative,
    ),
  };
}

interface Scalars {
  /** 1 - lr*wd (undefined when wd = 0). */
  decay?: Value;
  /** lr (1-b1) sqrt(bc2) / (bc1 sqrt(1-b2)). */
  stepSize: Value;
  /** eps sqrt(bc2) / sqrt(1-b2). */
  epsHat: Value;
}

/** torch.optim.AdamW's update rule as an `Optimizer`; state keys in ADAMW_STATE. */
export function adamw(opts: AdamWOptions = {}): Optimizer {
  const o = resolveAdamW(opts);
  const [b1, b2] = o.betas;
  const cache = new ScalarCache<Scalars>();

  const scalars = (g: Graph, ctx: StepContext, dtype: FloatDType): Scalars => {
    const { op } = g;
    const lr = asF64(g, ctx.lr);
    const t = asF64(g, ctx.step);
    const bc1 = op.Sub(1, op.Pow(g.literal(b1, "float64"), t));
    // sqrt(bc2) / sqrt(1 - b2)
    const s2 = op.Mul(
      op.Sqrt(op.Sub(1, op.Pow(g.literal(b2, "float64"), t))),
      1 / Math.sqrt(1 - b2),
    );
    return {
      decay: o.weightDecay === 0
        ? undefined
        : asDType(g, op.Sub(1, op.Mul(lr, o.weightDecay)), dtype),
      stepSize: asDType(g, op.Div(op.Mul(lr, op.Mul(s2, 1 - b1)), bc1), dtype),
      epsHat: asDType(g, op.Mul(s2, o.eps), dtype),
    };
  };

  return defineOptimizer("adamw", ADAMW_STATE, (g, param, grad, state, ctx) => {
    const { op } = g;
    const dtype = param.dtype as FloatDType;
    const s = cache.get(g, ctx, dtype, () => scalars(g, ctx, dtype));
    const p = s.decay ? op.Mul(param, s.decay) : param;
    const m = b1 === 0 ? grad : op.Add(op.Mul(state.exp_avg_scaled, b1), grad);
    const gg = op.Mul(grad, grad);
    const v = b2 === 0 ? gg : op.Add(op.Mul(state.exp_avg_sq_scaled, b2), gg);
    const upd = op.Mul(op.Div(m, op.Add(op.Sqrt(v), s.epsHat)), s.stepSize);
    return {
      param: op.Sub(p, upd),
      state: { exp_avg_scaled: m, exp_avg_sq_scaled: v },
    };
  });
}

/** torch's AdamW state (exp_avg, exp_avg_sq) from ours, e.g. to hand a checkpoint to torch. */
export function adamwTorchState(
  state: Record<string, Float64Array | Float32Array>,
  opts: AdamWOptions = {},
): { exp_avg: Float64Array; exp_avg_sq: Float64Array } {
  const [b1, b2] = resolveAdamW(opts).betas;
  for (const k of ADAMW_STATE) {
    if (!state[k]) throw new Error(`state.${k}: missing (have ${Object.keys(state).join(", ")})`);
  }
  return {
    exp_avg: Float64Array.from(state.exp_avg_scaled, (x) => x * (1 - b1)),
    exp_avg_sq: Float64Array.from(state.exp_avg_sq_scaled, (x) => x * (1 - b2)),
  };
}
