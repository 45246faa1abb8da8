/**
 * The evaluation program: the same model code as training, without gradients, with the
 * parameters as inputs. Computes named metrics (e.g. test loss and zero loss) on a batch.
 */
import { Graph, type Value } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { encodeModel } from "../graph/encode.ts";
import type { HostTensor } from "../graph/tensor.ts";
import { Session, type SessionOptions } from "../runtime/session.ts";
import { buildingFor } from "../graph/target.ts";
import { paramInput, type ParamSpec } from "./program.ts";

/** An evaluation program: parameters and batch inputs in, named metrics out. */
export interface EvalSpec {
  /** Element type of parameters and batch. */
  dtype: FloatDType;
  /** The parameters fed to every run. */
  params: readonly ParamSpec[];
  /** Batch inputs with their full dims (symbolic dims allowed, e.g. "batch"). */
  batch: readonly { name: string; dtype: FloatDType; dims: readonly (number | string)[] }[];
  /** Builds the metric outputs from the parameter and batch values. */
  metrics: (
    g: Graph,
    params: Record<string, Value>,
    batch: Record<string, Value>,
  ) => Record<string, Value>;
}

/** An evaluation program compiled once into an onnxruntime session, run on any parameters. */
export class Evaluator {
  private constructor(private readonly session: Session, private readonly spec: EvalSpec) {}

  /** Builds the graph of `spec` and opens its session. */
  static async create(spec: EvalSpec, opts: SessionOptions = {}): Promise<Evaluator> {
    const g = new Graph("eval");
    const params = Object.fromEntries(
      spec.params.map((p) => [p.name, g.input(paramInput(p.name), spec.dtype, p.init.dims)]),
    );
    const batch = Object.fromEntries(
      spec.batch.map((b) => [b.name, g.input(`batch.${b.name}`, b.dtype, b.dims)]),
    );
    const metrics = buildingFor(opts.ep ?? "cpu", () => spec.metrics(g, params, batch));
    for (const [name, v] of Object.entries(metrics)) g.output(v, name);
    return new Evaluator(await Session.create(encodeModel(g), opts), spec);
  }

  /** The metrics for these parameters and batch. */
  async run(
    params: Record<string, HostTensor>,
    batch: Record<string, HostTensor>,
  ): Promise<Record<string, HostTensor>> {
    const feeds: Record<string, HostTensor> = {};
    for (const p of this.spec.params) feeds[paramInput(p.name)] = params[p.name];
    for (const b of this.spec.batch) feeds[`batch.${b.name}`] = batch[b.name];
    return await this.session.run(feeds);
  }

  /** Releases the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
