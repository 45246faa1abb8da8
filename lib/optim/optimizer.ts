/**
 * The optimizer interface the training program drives: per parameter, an optimizer declares
 * its state tensors and appends its update to the (Loop body) graph. Parameters and state are
 * loop-carried values, so `update` is pure: it returns new values instead of mutating.
 */
import type { Graph, Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";

/** Per-step scalars shared by all parameters of one group. */
export interface StepContext {
  /** Learning rate for this step, already scheduled: scalar, the parameter's dtype. */
  lr: Value;
  /** 1-based number of this optimizer step (`t` in torch): scalar, the parameter's dtype. */
  step: Value;
}

/** An optimizer: its per-parameter state and the graph of one update step. */
export interface Optimizer {
  /** Name recorded with results and checkpoints, e.g. "adamw". */
  readonly name: string;
  /**
   * State tensors for one parameter, keyed by name (e.g. momentum_buffer, exp_avg_scaled),
   * all zeros with the parameter's dtype and dims. `{}` when the optimizer keeps no state.
   */
  initState(param: HostTensor): Record<string, HostTensor>;
  /**
   * Appends the update of one parameter to `g` and returns the new parameter and new state
   * (same keys as `initState`). Scalars derived from `ctx` alone are built once per
   * (ctx.lr, ctx.step, dtype) and shared by every parameter updated with that context.
   */
  update(
    g: Graph,
    param: Value,
    grad: Value,
    state: Record<string, Value>,
    ctx: StepContext,
  ): { param: Value; state: Record<string, Value> };
}

/**
 * torch's 1-based optimizer step `t` for a 0-based int64 step counter (scalar): Cast(step0 + 1).
 * Exact in float32 up to 2^24 steps.
 */
export function optimizerStep(g: Graph, step0: Value, dtype: FloatDType): Value {
  if (step0.dtype !== "int64") {
    throw new Error(`optimizerStep: step0 must be an int64 scalar, got ${step0.dtype}`);
  }
  return g.op.Cast(g.op.Add(step0, 1n), dtype);
}

/** Zero tensors with `param`'s dtype and dims, one per name. */
export function zerosState(
  param: HostTensor,
  names: readonly string[],
): Record<string, HostTensor> {
  if (param.dtype !== "float32" && param.dtype !== "float64") {
    throw new Error(
      `param.dtype: optimizers need float32 or float64 parameters, got ${param.dtype}`,
    );
  }
  return Object.fromEntries(names.map((n) => [n, tensor(param.dtype, param.dims)]));
}

/** Throws a one-line error unless the update's inputs agree in dtype and state has `keys`. */
export function checkUpdate(
  who: string,
  param: Value,
  grad: Value,
  state: Record<string, Value>,
  ctx: StepContext,
  keys: readonly string[],
): void {
  const dt = param.dtype;
  if (dt !== "float32" && dt !== "float64") {
    throw new Error(`${who}: param '${param.name}' must be float32 or float64, got ${dt}`);
  }
  const same = (what: string, v: Value) => {
    if (v.dtype !== dt) {
      throw new Error(`${who}: ${what} '${v.name}' is ${v.dtype}, expected ${dt} (param's dtype)`);
    }
  };
  same("grad", grad);
  same("ctx.lr", ctx.lr);
  same("ctx.step", ctx.step);
  for (const v of [ctx.lr, ctx.step]) {
    if (v.shape && v.shape.length !== 0) {
      throw new Error(`${who}: ctx value '${v.name}' must be a scalar, got rank ${v.shape.length}`);
    }
  }
  const got = Object.keys(state).sort().join(", ");
  if (got !== [...keys].sort().join(", ")) {
    throw new Error(
      `${who}: state keys are {${got}}, expected {${keys.join(", ")}} (from initState)`,
    );
  }
  for (const k of keys) same(`state.${k}`, state[k]);
}

/**
 * An optimizer from its name, state keys and update rule: the state starts at zeros, and each
 * update is checked (dtypes, scalar context, state keys) before `rule` appends it.
 */
export function defineOptimizer(
  name: string,
  keys: readonly string[],
  rule: Optimizer["update"],
): Optimizer {
  return {
    name,
    initState: (param: HostTensor) => zerosState(param, keys),
    update(g, param, grad, state, ctx) {
      checkUpdate(`${name}.update`, param, grad, state, ctx, keys);
      return rule(g, param, grad, state, ctx);
    },
  };
}

/**
 * Per-context memo: scalar subgraphs depend only on (lr, step, dtype), so every parameter of
 * a group reuses one copy instead of emitting its own.
 */
export class ScalarCache<T> {
  private readonly byGraph = new WeakMap<Graph, Map<string, T>>();
  get(g: Graph, ctx: StepContext, dtype: string, make: () => T): T {
    let memo = this.byGraph.get(g);
    if (!memo) this.byGraph.set(g, memo = new Map());
    // Value names are unique across a root graph and its subgraphs.
    const key = `${ctx.lr.name}|${ctx.step.name}|${dtype}`;
    let hit = memo.get(key);
    if (hit === undefined) memo.set(key, hit = make());
    return hit;
  }
}

/** `v` as float64 (scalar math runs in float64, as torch does it in Python floats). */
export function asF64(g: Graph, v: Value): Value {
  return v.dtype === "float64" ? v : g.op.Cast(v, "float64");
}

/** `v` cast to `dtype` when it is not already. */
export function asDType(g: Graph, v: Value, dtype: FloatDType): Value {
  return v.dtype === dtype ? v : g.op.Cast(v, dtype);
}
