/** Runs one MoE layer graph (parameters as graph inputs) on onnxruntime, for the layer tests. */
import { Graph } from "../../lib/graph/builder.ts";
import type { FloatDType } from "../../lib/graph/dtype.ts";
import { encodeModel } from "../../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../../lib/graph/tensor.ts";
import { Session } from "../../lib/runtime/session.ts";
import {
  moeForward,
  type MoeLayerConfig,
  paramFeeds,
  paramInputs,
  type ParamSet,
  selection,
} from "../../lib/nn/mod.ts";

/** A tensor's entries as numbers (int64 included). */
export const nums = (t: HostTensor): number[] =>
  Array.from(t.data as ArrayLike<number | bigint>, Number);

/** What `runLayer` returns: the output, the selection (see `selection`), gates and scores. */
export interface LayerRun {
  y: number[];
  idx: number[];
  /** Dims of the selection: [B, k], or [m, c] for expert choice. */
  idxDims: readonly number[];
  gates: number[];
  scores: number[];
  /** The strategy built. */
  strategy: string;
}

/**
 * Runs one layer on xs ([B, dIn] row-major). `batch` fixes the batch dimension in the graph
 * (default symbolic); `strategy` overrides the config's.
 */
export async function runLayer(
  cfg: MoeLayerConfig,
  ps: ParamSet,
  xs: Float64Array,
  opts: { dtype?: FloatDType; strategy?: "dense" | "sparse"; batch?: number } = {},
): Promise<LayerRun> {
  const dtype = opts.dtype ?? "float64";
  const g = new Graph("moe");
  const x = g.input("x", dtype, [opts.batch ?? "batch", cfg.dIn]);
  const r = moeForward(g, cfg, paramInputs(g, ps), x, { strategy: opts.strategy });
  g.output(r.y, "y");
  g.output(selection(r.route), "idx");
  g.output(r.route.gates, "gates");
  g.output(r.route.scores, "scores");
  const s = await Session.create(encodeModel(g), { threads: 1 });
  try {
    const out = await s.run({
      x: tensor(dtype, [xs.length / cfg.dIn, cfg.dIn], xs),
      ...paramFeeds(ps),
    });
    return {
      y: nums(out.y),
      idx: nums(out.idx),
      idxDims: out.idx.dims,
      gates: nums(out.gates),
      scores: nums(out.scores),
      strategy: r.strategy,
    };
  } finally {
    await s.release();
  }
}
