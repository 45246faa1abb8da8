/**
 * AdamW exactly as torch.optim.AdamW (amsgrad=False, maximize=False, single-tensor path):
 *   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * The per-step scalars are computed in float64 (torch computes them in Python floats: in
 * float32, 1 - 0.999^t would lose ~1e-5 of relative accuracy at t = 1) and folded so the
 * full-size work per parameter is 13 elementwise ops (12 with weightDecay = 0).
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import type { HostTensor } from "../graph/tensor.ts";
import {
  asDType,
  asF64,
  checkUpdate,
  type Optimizer,
  ScalarCache,
  type StepContext,
  zerosState,
} from "./optimizer.ts";
import { checkKeys, checkNumber, nonNegative, show, unitInterval } from "./validate.ts";

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
export const ADAMW_STATE = ["exp_avg", "exp_avg_sq"] as const;

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
  /** lr * sqrt(bc2) / bc1. */
  stepSize: Value;
  /** eps * sqrt(bc2). */
  epsHat: Value;
}

/** torch.optim.AdamW's update rule as an `Optimizer`; state keys exp_avg, exp_avg_sq. */
export function adamw(opts: AdamWOptions = {}): Optimizer {
  const o = resolveAdamW(opts);
  const [b1, b2] = o.betas;
  const cache = new ScalarCache<Scalars>();

  // m*s2 / (sqrt(v) + eps*s2) == m / (sqrt(v)/s2 + eps): one full-size op fewer than torch.
  const scalars = (g: Graph, ctx: StepContext, dtype: FloatDType): Scalars => {
    const { op } = g;
    const lr = asF64(g, ctx.lr);
    const t = asF64(g, ctx.step);
    const bc1 = op.Sub(1, op.Pow(g.literal(b1, "float64"), t));
    const s2 = op.Sqrt(op.Sub(1, op.Pow(g.literal(b2, "float64"), t)));
    return {
      decay: o.weightDecay === 0
        ? undefined
        : asDType(g, op.Sub(1, op.Mul(lr, o.weightDecay)), dtype),
      stepSize: asDType(g, op.Div(op.Mul(lr, s2), bc1), dtype),
      epsHat: asDType(g, op.Mul(s2, o.eps), dtype),
    };
  };

  return {
    name: "adamw",
    initState: (param: HostTensor) => zerosState(param, ADAMW_STATE),
    update(g, param, grad, state, ctx) {
      checkUpdate("adamw.update", param, grad, state, ctx, ADAMW_STATE);
      const { op } = g;
      const dtype = param.dtype as FloatDType;
      const s = cache.get(g, ctx, dtype, () => scalars(g, ctx, dtype));
      const m0 = state.exp_avg;
      const v0 = state.exp_avg_sq;
      const p = s.decay ? op.Mul(param, s.decay) : param;
      // torch's lerp: self + w*(end-self) for w < 0.5, else end - (end-self)*(1-w).
      const w = 1 - b1;
      const diff = op.Sub(grad, m0);
      const m = w < 0.5 ? op.Add(m0, op.Mul(diff, w)) : op.Sub(grad, op.Mul(diff, 1 - w));
      // torch's addcmul: v*b2 + ((1-b2)*g)*g.
      const v = op.Add(op.Mul(v0, b2), op.Mul(op.Mul(grad, 1 - b2), grad));
      const upd = op.Mul(op.Div(m, op.Add(op.Sqrt(v), s.epsHat)), s.stepSize);
      return { param: op.Sub(p, upd), state: { exp_avg: m, exp_avg_sq: v } };
    },
  };
}
