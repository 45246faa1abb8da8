/**
 * SGD exactly as torch.optim.SGD (maximize=False, single-tensor path):
 *   d = g + wd*p
 *   buf = d at t = 1, else momentum*buf + (1-dampening)*d      (when momentum != 0)
 *   d = d + momentum*buf if nesterov else buf                  (when momentum != 0)
 *   p -= lr*d
 * "buf = d at t = 1" is done with scalars, not a full-size Where: the buffer is scaled by
 * Where(t == 1, 0, momentum) and d by Where(t == 1, 1, 1 - dampening), which gives d exactly
 * at t = 1 for any finite incoming buffer (initState's zeros in particular).
 */
import type { Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { defineOptimizer, type Optimizer, ScalarCache } from "./optimizer.ts";
import { checkKeys, checkNumber, nonNegative, show } from "../validate.ts";

/** Options of `sgd` (torch.optim.SGD's, with its defaults). */
export interface SgdOptions {
  /** Momentum factor >= 0. Default 0 (no momentum buffer). */
  momentum?: number;
  /** Dampening of the gradient in the momentum buffer, >= 0. Default 0. */
  dampening?: number;
  /** L2 penalty added to the gradient, >= 0. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening = 0. Default false. */
  nesterov?: boolean;
}

export type ResolvedSgd = Required<SgdOptions>;

const KEYS = ["momentum", "dampening", "weightDecay", "nesterov"] as const;

/** Fills in defaults and validates (one-line errors naming the field and its allowed values). */
export function resolveSgd(opts: SgdOptions = {}): ResolvedSgd {
  checkKeys("sgd", opts, KEYS);
  const r: ResolvedSgd = {
    momentum: checkNumber("sgd.momentum", opts.momentum ?? 0, "a number >= 0", nonNegative),
    dampening: checkNumber("sgd.dampening", opts.dampening ?? 0, "a number >= 0", nonNegative),
    weightDecay: checkNumber(
      "sgd.weightDecay",
      opts.weightDecay ?? 0,
      "a number >= 0",
      nonNegative,
    ),
    nesterov: opts.nesterov ?? false,
  };
  if (typeof r.nesterov !== "boolean") {
    throw new Error(`sgd.nesterov: must be true or false, got ${show(r.nesterov)}`);
  }
  if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
    throw new Error(
      `sgd.nesterov: needs momentum > 0 and dampening = 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
    );
  }
  return r;
}

/** State keys: ["momentum_buffer"] with momentum, else none. */
export function sgdStateKeys(opts: ResolvedSgd): string[] {
  return opts.momentum === 0 ? [] : ["momentum_buffer"];
}

interface Scalars {
  /** Where(t == 1, 0, momentum). */
  bufScale: Value;
  /** Where(t == 1, 1, 1 - dampening); undefined when dampening = 0 (always 1). */
  gradScale?: Value;
}

/** torch.optim.SGD's update rule as an `Optimizer`. */
export function sgd(opts: SgdOptions = {}): Optimizer {
  const o = resolveSgd(opts);
  const keys = sgdStateKeys(o);
  const cache = new ScalarCache<Scalars>();
  return defineOptimizer("sgd", keys, (g, param, grad, state, ctx) => {
    const { op } = g;
    let d = o.weightDecay === 0 ? grad : op.Add(grad, op.Mul(param, o.weightDecay));
    const newState: Record<string, Value> = {};
    if (o.momentum !== 0) {
      const dt = param.dtype as FloatDType;
      const s = cache.get(g, ctx, dt, () => {
        const first = op.Equal(ctx.step, 1);
        return {
          bufScale: op.Where(first, g.literal(0, dt), o.momentum),
          gradScale: o.dampening === 0
            ? undefined
            : op.Where(first, g.literal(1, dt), 1 - o.dampening),
        };
      });
      const scaled = s.gradScale ? op.Mul(d, s.gradScale) : d;
      const buf = op.Add(op.Mul(state.momentum_buffer, s.bufScale), scaled);
      newState.momentum_buffer = buf;
      d = o.nesterov ? op.Add(d, op.Mul(buf, o.momentum)) : buf;
    }
    return { param: op.Sub(param, op.Mul(d, ctx.lr)), state: newState };
  });
}
