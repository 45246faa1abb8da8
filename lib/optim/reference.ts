/**
 * Plain-TypeScript (float64, in-place) transcriptions of torch's single-tensor AdamW and SGD
 * steps, operation for operation, as an independent reference for the graph optimizers (which
 * fold scalars differently). Used by tests; handy for any check against torch semantics.
 */
import { type AdamWOptions, resolveAdamW } from "./adamw.ts";
import { resolveSgd, type SgdOptions } from "./sgd.ts";

/** torch's per-parameter AdamW state; `step` counts completed steps (starts at 0). */
export interface AdamWRefState {
  step: number;
  exp_avg: Float64Array;
  exp_avg_sq: Float64Array;
}

export function adamwInitRef(n: number): AdamWRefState {
  return { step: 0, exp_avg: new Float64Array(n), exp_avg_sq: new Float64Array(n) };
}

/** One torch.optim.AdamW step (amsgrad=False): updates `param` and `state` in place. */
export function adamwStepRef(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: AdamWRefState,
  lr: number,
  opts: AdamWOptions = {},
): void {
  const { betas: [b1, b2], eps, weightDecay } = resolveAdamW(opts);
  const { exp_avg: m, exp_avg_sq: v } = state;
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - b1 ** t;
  const bc2 = 1 - b2 ** t;
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  const w = 1 - b1;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i];
    param[i] *= 1 - lr * weightDecay;
    // exp_avg.lerp_(grad, 1 - beta1), with torch's two-sided lerp formula.
    m[i] = Math.abs(w) < 0.5 ? m[i] + w * (g - m[i]) : g - (g - m[i]) * (1 - w);
    v[i] = v[i] * b2 + (1 - b2) * g * g;
    const denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
    param[i] += -stepSize * (m[i] / denom);
  }
}

/** torch's per-parameter SGD state: no momentum buffer until the first step. */
export interface SgdRefState {
  momentum_buffer: Float64Array | null;
}

export function sgdInitRef(): SgdRefState {
  return { momentum_buffer: null };
}

/** One torch.optim.SGD step (maximize=False): updates `param` and `state` in place. */
export function sgdStepRef(
  param: Float64Array,
  grad: ArrayLike<number>,
  state: SgdRefState,
  lr: number,
  opts: SgdOptions = {},
): void {
  const { momentum, dampening, weightDecay, nesterov } = resolveSgd(opts);
  const d = Float64Array.from(grad);
  if (weightDecay !== 0) { for (let i = 0; i < d.length; i++) d[i] += weightDecay * param[i]; }
  if (momentum !== 0) {
    let buf = state.momentum_buffer;
    if (buf === null) buf = state.momentum_buffer = Float64Array.from(d);
    else for (let i = 0; i < d.length; i++) buf[i] = buf[i] * momentum + (1 - dampening) * d[i];
    for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i] + momentum * buf[i] : buf[i];
  }
  for (let i = 0; i < param.length; i++) param[i] += -lr * d[i];
}
