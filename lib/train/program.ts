/**
 * Compiles a training program: ONE ONNX model whose single run() performs N optimizer steps
 * inside an ONNX Loop. Parameters, optimizer state and the step counter are loop-carried; the
 * batch is either fed as an [N, ...] tensor (host-generated, deterministic everywhere) or drawn
 * in the graph by RandomNormal. Returns the new state and the N per-step losses.
 *
 * As torch's optimizers: a parameter the loss does not depend on (its gradient would be None,
 * e.g. the router under the `equal` gate) is not updated at all, weight decay included, and
 * its optimizer state stays as it is.
 */
import { Graph, type Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import type { HostTensor } from "../graph/tensor.ts";
import { grad } from "../autodiff/grad.ts";
import { type Optimizer, optimizerStep, type StepContext } from "../optim/optimizer.ts";
import { groupLr } from "../optim/groups.ts";
import { scheduledLr, type ScheduleSpec } from "../optim/schedule.ts";

/**
 * A trainable tensor and its parameter group (index into the runtime `lrs` input). With
 * `trainable: false` it is carried state instead: no gradient, no optimizer state; each step
 * sets it to the loss's `updates[name]` (or keeps it), e.g. a router's balancing bias.
 */
export interface ParamSpec {
  /** Unique name; the program's input is `param.<name>`. */
  name: string;
  /** Initial value; its dtype must be the program's. */
  init: HostTensor;
  /** Parameter group (default 0). */
  group?: number;
  /** false: carried state, not trained (see above). */
  trainable?: false;
}

/** A per-step batch tensor, fed by the caller as [N, ...dims]. */
export interface FedBatch {
  /** Fed by the caller. */
  kind: "fed";
  /** The name the loss reads it by (`batch.<name>` is the program's input). */
  name: string;
  /** Its float type. */
  dtype: FloatDType;
  /** One step's dims (the input is [N, ...dims]). */
  dims: readonly number[];
}

/**
 * A per-step batch tensor drawn inside the graph (onnxruntime's RandomNormal). Fast, but its
 * stream depends on the session's history: use "fed" where bit-exact resumption matters.
 */
export interface RandomBatch {
  /** Drawn from a normal distribution. */
  kind: "normal";
  /** The name the loss reads it by. */
  name: string;
  /** One step's dims. */
  dims: readonly number[];
  /** RandomNormal's seed. */
  seed: number;
  /** Standard deviation (default 1). */
  std?: number;
}

/** A per-step batch tensor, fed or drawn in the graph. */
export type BatchInput = FedBatch | RandomBatch;

/**
 * Builds the scalar loss of one step from the current parameters and this step's batch, or the
 * loss and a vector of `parts` (e.g. the losses of several models trained together, whose sum
 * is the loss): then `parts` is what the program reports per step instead of the loss.
 * `updates` gives the next values of non-trainable parameters (applied after the step).
 */
export type LossFn = (
  g: Graph,
  params: Record<string, Value>,
  batch: Record<string, Value>,
) => Value | { loss: Value; parts?: Value; updates?: Record<string, Value> };

/** Whether a parameter gets gradients and optimizer state. */
export const isTrainable = (p: ParamSpec): boolean => p.trainable !== false;

/** Everything a training program is built from. */
export interface TrainProgramSpec {
  /** Float type of the parameters, the loss and the optimizer state. */
  dtype: FloatDType;
  /** The tensors carried from step to step, in order. */
  params: readonly ParamSpec[];
  /** The per-step batch tensors. */
  batch: readonly BatchInput[];
  /** One step's loss. */
  loss: LossFn;
  /** Updates every trainable parameter that has a gradient. */
  optimizer: Optimizer;
  /** Learning-rate schedule, applied to each group's base lr. */
  schedule: ScheduleSpec;
  /** Number of parameter groups, i.e. the length of the `lrs` input (default 1). */
  groups?: number;
}

/** Names of the program's inputs and outputs, so the runtime can feed and read state. */
export interface ProgramIO {
  /** Input: the number of steps of this run(). */
  steps: string;
  /** Input: the global step before this run(). */
  step: string;
  /** Input: base learning rate per group. */
  lrs: string;
  /** Each parameter's state input and output. */
  params: { name: string; input: string; output: string }[];
  /** Each optimizer state tensor's input and output. */
  state: { param: string; key: string; input: string; output: string }[];
  /** Each fed batch tensor's input. */
  batch: { name: string; input: string }[];
  /** Output: the global step after this run(). */
  stepOut: string;
  /** Output: the per-step losses. */
  losses: string;
}

export const paramInput = (n: string) => `param.${n}`;
const stateInput = (p: string, k: string) => `opt.${p}.${k}`;

export function buildTrainProgram(spec: TrainProgramSpec): { graph: Graph; io: ProgramIO } {
  validate(spec);
  const g = new Graph("train");
  const dt = spec.dtype;
  const steps = g.input("steps", "int64", []);
  const step0 = g.input("step", "int64", []);
  const lrs = g.input("lrs", dt, [spec.groups ?? 1]);
  const params = spec.params.map((p) => g.input(paramInput(p.name), dt, p.init.dims));
  const stateKeys = spec.params.map((p) =>
    isTrainable(p) ? Object.keys(spec.optimizer.initState(p.init)) : []
  );
  const states = spec.params.flatMap((p, i) =>
    stateKeys[i].map((k) => g.input(stateInput(p.name, k), dt, p.init.dims))
  );
  const fed = spec.batch.filter((b): b is FedBatch => b.kind === "fed");
  const fedInputs = fed.map((b) => g.input(`batch.${b.name}`, b.dtype, ["steps", ...b.dims]));

  const outs = g.loop(steps, [step0, ...params, ...states], (body, iter, carried) => {
    const [step, ...rest] = carried;
    const pVals = rest.slice(0, params.length);
    const sVals = rest.slice(params.length);
    const batch: Record<string, Value> = {};
    fed.forEach((b, i) => (batch[b.name] = body.op.Gather(fedInputs[i], iter, { axis: 0 })));
    for (const b of spec.batch) {
      if (b.kind === "normal") {
        batch[b.name] = body.op.RandomNormal([...b.dims], {
          dtype: dt,
          seed: b.seed,
          scale: b.std,
        });
      }
    }
    const named = Object.fromEntries(spec.params.map((p, i) => [p.name, pVals[i]]));
    const built = spec.loss(body, named, batch);
    const [loss, reported, updates] = "loss" in built
      ? [built.loss, built.parts ?? built.loss, built.updates ?? {}]
      : [built, built, {}];
    if (loss.dtype !== dt) {
      throw new Error(`loss: dtype ${loss.dtype} differs from program dtype ${dt}`);
    }
    for (const name of Object.keys(updates)) {
      const p = spec.params.find((q) => q.name === name);
      if (!p || isTrainable(p)) {
        throw new Error(`updates.${name}: not a non-trainable parameter of the program`);
      }
    }
    const trainable = spec.params.flatMap((p, i) => (isTrainable(p) ? [i] : []));
    const grads: (Value | undefined)[] = [];
    grad(body, loss, trainable.map((i) => pVals[i]), { unused: "undefined" }).forEach((gv, j) => {
      grads[trainable[j]] = gv;
    });
    const t = optimizerStep(body, step, dt);
    // Schedule all group lrs at once, and share one context per group so the optimizer's
    // per-step scalars are built once per group, not once per parameter.
    const now = scheduledLr(body, spec.schedule, lrs, step);
    const ctxs = new Map<number, StepContext>();
    const ctxOf = (gi: number) => {
      if (!ctxs.has(gi)) ctxs.set(gi, { lr: groupLr(body, now, gi), step: t });
      return ctxs.get(gi)!;
    };
    const newParams: Value[] = [];
    const newStates: Value[] = [];
    let si = 0;
    spec.params.forEach((p, i) => {
      if (!isTrainable(p)) {
        newParams.push(updates[p.name] ?? pVals[i]);
        return;
      }
      const st = Object.fromEntries(stateKeys[i].map((k) => [k, sVals[si++]]));
      const gi = grads[i];
      // No gradient (torch's None): the parameter and its state are carried unchanged.
      const res = gi
        ? body.scope(
          "optim",
          () => spec.optimizer.update(body, pVals[i], gi, st, ctxOf(p.group ?? 0)),
        )
        : { param: pVals[i], state: st };
      newParams.push(res.param);
      for (const k of stateKeys[i]) newStates.push(res.state[k]);
    });
    return { carried: [body.op.Add(step, 1n), ...newParams, ...newStates], scans: [reported] };
  }, "train");

  const stepOut = g.output(outs[0], "step_out");
  const paramOuts = params.map((_, i) =>
    g.output(outs[1 + i], `${paramInput(spec.params[i].name)}.out`)
  );
  const stateOuts = states.map((s, i) => g.output(outs[1 + params.length + i], `${s.name}.out`));
  const losses = g.output(outs[outs.length - 1], "losses");

  const io: ProgramIO = {
    steps: steps.name,
    step: step0.name,
    lrs: lrs.name,
    params: spec.params.map((p, i) => ({
      name: p.name,
      input: params[i].name,
      output: paramOuts[i].name,
    })),
    state: spec.params.flatMap((p, i) =>
      stateKeys[i].map((k) => ({ param: p.name, key: k, input: stateInput(p.name, k), output: "" }))
    ),
    batch: fed.map((b, i) => ({ name: b.name, input: fedInputs[i].name })),
    stepOut: stepOut.name,
    losses: losses.name,
  };
  io.state.forEach((s, i) => (s.output = stateOuts[i].name));
  return { graph: g, io };
}

function validate(spec: TrainProgramSpec): void {
  const seen = new Set<string>();
  const groups = spec.groups ?? 1;
  for (const p of spec.params) {
    if (seen.has(p.name)) throw new Error(`params: duplicate parameter name '${p.name}'`);
    seen.add(p.name);
    if (p.init.dtype !== spec.dtype) {
      throw new Error(
        `params.${p.name}: dtype ${p.init.dtype} differs from program dtype ${spec.dtype}`,
      );
    }
    const gi = p.group ?? 0;
    if (!Number.isInteger(gi) || gi < 0 || gi >= groups) {
      throw new Error(
        `params.${p.name}.group: must be an integer in [0, ${groups - 1}], got ${gi}`,
      );
    }
  }
  if (spec.params.length === 0) throw new Error("params: at least one parameter is required");
}
