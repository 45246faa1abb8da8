/**
 * The routing program of a student: a small evaluation program, separate from the test-loss
 * one (so that program and its numbers stay exactly as they were), that routes a test set
 * through the student's MoE layers as its forward does (the same top-k selection, selection
 * bias included) and returns each layer's selected experts (expert choice: each expert's
 * tokens), counted on the host into loads.
 */
import type { HostTensor } from "../graph/tensor.ts";
import type { SessionOptions } from "../runtime/session.ts";
import { Evaluator } from "../train/evaluator.ts";
import { countExpertChoice, countLoads, type LayerLoad } from "../sweep/router_loads.ts";
import type { Model } from "./models.ts";
import { selection } from "../nn/gates.ts";

/** A student's routing program: parameters and test inputs in, each layer's loads out. */
export class RouterEvaluator {
  private constructor(
    private readonly ev: Evaluator,
    private readonly layers: { m: number; kind: "token" | "expert" }[],
  ) {}

  /** Builds the routing program of `st` for inputs [batch, d] of `dtype`. */
  static async create(
    st: Model,
    dtype: "float32" | "float64",
    d: number,
    opts: SessionOptions = {},
  ): Promise<RouterEvaluator> {
    const layers: { m: number; kind: "token" | "expert" }[] = [];
    const ev = await Evaluator.create({
      dtype,
      params: [...st.params].map(([name, init]) => ({ name, init })),
      batch: [{ name: "x", dtype, dims: ["batch", d] }],
      metrics: (g, p, b) => {
        const routes = st.routes(g, p, b.x);
        layers.length = 0;
        return Object.fromEntries(routes.map((r, l) => {
          const m = r.scores.shape?.[1];
          if (typeof m !== "number") throw new Error(`router: layer ${l} has no static m`);
          layers.push({ m, kind: r.kind });
          return [`route_l${l}`, selection(r)];
        }));
      },
    }, opts);
    return new RouterEvaluator(ev, layers);
  }

  /** Each layer's loads for these parameters on test inputs x. */
  async run(params: Record<string, HostTensor>, x: HostTensor): Promise<LayerLoad[]> {
    const out = await this.ev.run(params, { x });
    return this.layers.map(({ m, kind }, l) => {
      const sel = out[`route_l${l}`].data as BigInt64Array;
      return kind === "token"
        ? { loads: countLoads(sel, m) }
        : countExpertChoice(sel, m, x.dims[0] as number);
    });
  }

  /** Releases the onnxruntime session. */
  async release(): Promise<void> {
    await this.ev.release();
  }
}
