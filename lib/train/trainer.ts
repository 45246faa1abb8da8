/**
 * The training runtime: holds the training state in TypeScript between calls, and runs the
 * compiled program on onnxruntime, N optimizer steps per run(). State round-trips through
 * checkpoints; a reloaded run continues bit-identically on the same execution provider.
 */
import { encodeModel } from "../graph/encode.ts";
import { type HostTensor, scalar } from "../graph/tensor.ts";
import { groupLrsFeed } from "../optim/groups.ts";
import { Session, type SessionOptions } from "../runtime/session.ts";
import { buildingFor } from "../graph/target.ts";
import {
  buildTrainProgram,
  isTrainable,
  type ProgramIO,
  type TrainProgramSpec,
} from "./program.ts";
import { loadCheckpoint, saveCheckpoint, type TrainState } from "./checkpoint.ts";

/** Session options and the base learning rate of each parameter group. */
export interface TrainerOptions extends SessionOptions {
  /** Base learning rate per parameter group (runtime input: no rebuild to change it). */
  lrs: number[];
}

/** A training program (many optimizer steps per onnxruntime run) and its state between runs. */
export class Trainer {
  private constructor(
    readonly spec: TrainProgramSpec,
    readonly io: ProgramIO,
    private readonly session: Session,
    public state: TrainState,
  ) {}

  /** Compiles the program and initializes the state from the parameters' initial values. */
  static async create(spec: TrainProgramSpec, opts: TrainerOptions): Promise<Trainer> {
    const groups = spec.groups ?? 1;
    if (opts.lrs.length !== groups || opts.lrs.some((x) => !(x >= 0 && Number.isFinite(x)))) {
      throw new Error(
        `lrs: need ${groups} finite non-negative learning rate(s), got [${opts.lrs.join(", ")}]`,
      );
    }
    const { graph, io } = buildingFor(opts.ep ?? "cpu", () => buildTrainProgram(spec));
    const session = await Session.create(encodeModel(graph), opts);
    const state: TrainState = { step: 0, lrs: [...opts.lrs], params: {}, opt: {} };
    for (const p of spec.params) {
      state.params[p.name] = p.init;
      if (!isTrainable(p)) continue;
      for (const [k, t] of Object.entries(spec.optimizer.initState(p.init))) {
        state.opt[`${p.name}.${k}`] = t;
      }
    }
    return new Trainer(spec, io, session, state);
  }

  /**
   * Runs `steps` optimizer steps in one call. Fed batches are [steps, ...dims] tensors.
   * Returns the per-step training losses (with a loss of P `parts`: steps x P values, row-major).
   */
  async run(steps: number, batch: Record<string, HostTensor> = {}): Promise<Float64Array> {
    if (!Number.isInteger(steps) || steps < 1) {
      throw new Error(`steps: must be a positive integer, got ${steps}`);
    }
    const feeds: Record<string, HostTensor> = {
      [this.io.steps]: scalar("int64", steps),
      [this.io.step]: scalar("int64", this.state.step),
      [this.io.lrs]: groupLrsFeed(this.spec.dtype, this.state.lrs),
    };
    for (const b of this.io.batch) {
      const t = batch[b.name];
      if (!t) throw new Error(`batch: missing fed tensor '${b.name}'`);
      if (t.dims[0] !== steps) {
        throw new Error(`batch.${b.name}: leading dim must be steps (${steps}), got ${t.dims[0]}`);
      }
      feeds[b.input] = t;
    }
    for (const p of this.io.params) feeds[p.input] = this.state.params[p.name];
    for (const s of this.io.state) feeds[s.input] = this.state.opt[`${s.param}.${s.key}`];
    const out = await this.session.run(feeds);
    const next: TrainState = { ...this.state, params: {}, opt: {} };
    for (const p of this.io.params) next.params[p.name] = out[p.output];
    for (const s of this.io.state) next.opt[`${s.param}.${s.key}`] = out[s.output];
    next.step = Number((out[this.io.stepOut].data as BigInt64Array)[0]);
    this.state = next;
    return Float64Array.from(out[this.io.losses].data as Float32Array | Float64Array);
  }

  /** Replaces the learning rates (e.g. the next run of an lr sweep) without recompiling. */
  setLrs(lrs: number[]): void {
    if (lrs.length !== this.state.lrs.length) {
      throw new Error(`lrs: need ${this.state.lrs.length} values, got ${lrs.length}`);
    }
    this.state = { ...this.state, lrs: [...lrs] };
  }

  /** Writes the current state as a checkpoint (see `load`). */
  async save(path: string, meta?: Record<string, unknown>): Promise<void> {
    await saveCheckpoint(path, { ...this.state, meta: meta ?? this.state.meta });
  }

  /** Restores a state saved by `save` (checking it matches this program's parameters). */
  async load(path: string): Promise<void> {
    const s = await loadCheckpoint(path);
    for (const p of this.spec.params) {
      const t = s.params[p.name];
      if (!t || t.dims.join() !== p.init.dims.join() || t.dtype !== p.init.dtype) {
        throw new Error(`${path}: parameter '${p.name}' is missing or has another shape/dtype`);
      }
    }
    this.state = s;
  }

  /** Writes the onnxruntime profile (sessions created with `profilePrefix`). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  /** Releases the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
