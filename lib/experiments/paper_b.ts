/**
 * Paper B ("On the expressive power of MoE for structured complex tasks", arXiv 2505.24205)
 * experiments. The paper gives architectures and findings but not its training details; the
 * choices below are ours (stated in each description and overridable):
 * - deep MoEs "L-E-MoE": L MoE layers, E experts each, top-1 routing, ReLU experts of width m:
 *   in Exp. II 3-layer experts (two hidden layers, as in the paper's theorems; `expertDepth` 2),
 *   in Exp. I 2-layer experts (one hidden layer; it already matches the paper's errors); gate
 *   `softmax-all` (Switch style) so the router gets a gradient (top-1 `softmax-topk` would give
 *   every gate weight 1 and the router no gradient); width m between a deep model's layers and no
 *   residual connection (`hiddenDim`, `residual`); no load balancing (`auxLoss`, `zLoss`);
 * - Exp. II's target is `compose9` (lib/data/targets.ts): 9 smooth, curved pieces joined
 *   continuously (kinks, no jumps); the earlier `piecewise9` (jumps at every boundary, sines up
 *   to sin(9 t)) stays selectable with `target`;
 * - AdamW (betas 0.9/0.999, eps 1e-8, no weight decay: the targets are fitted to ~1e-5),
 *   lr in {1e-3, 3e-3}, cosine annealing per epoch, batch 256, fresh samples every epoch
 *   (`trainSamples` fixes a finite training set instead), 2^12 test samples; full scale 200
 *   epochs x 2^14 samples (12,800 steps), quick 100 x 2^13 (3,200 steps).
 */
import type { RunConfig } from "../sweep/types.ts";
import type { Overrides, Scale, Setting } from "./overrides.ts";
import { protocol, TRAINING_SETTINGS } from "./overrides.ts";
import { balanceOf } from "./router_settings.ts";

interface BScale {
  epochs: number;
  samplesPerEpoch: number;
  batch: number;
  testSamples: number;
  lrs: number[];
}

function scaleOf(scale: Scale): BScale {
  return scale === "full"
    ? { epochs: 200, samplesPerEpoch: 2 ** 14, batch: 256, testSamples: 2 ** 12, lrs: [1e-3, 3e-3] }
    : { epochs: 100, samplesPerEpoch: 2 ** 13, batch: 256, testSamples: 2 ** 12, lrs: [3e-3] };
}

function deep(
  dIn: number,
  layers: number,
  experts: number,
  width: number,
  depth: number,
  o: Overrides,
) {
  return {
    dIn,
    dOut: 1,
    layers,
    experts,
    k: 1,
    expertDepth: o.expertDepth ?? depth,
    expertWidth: width,
    // Both archs get them (one configuration per sweep); a 1-layer model has no use for them.
    hiddenDim: o.hiddenDim ?? width,
    residual: o.residual === "on",
    denseBetween: false,
    gate: o.gate ?? "softmax-all",
    activation: "relu",
    routerBias: true,
    expertBias: true,
    strategy: o.strategy ?? "auto",
  };
}

function expand(
  experiment: string,
  scale: Scale,
  o: Overrides,
  defaultSeeds: number[],
  cells: {
    d: number;
    dist: RunConfig["input"]["dist"];
    fn: string;
    model: ReturnType<typeof deep>;
    labels: RunConfig["labels"];
  }[],
): RunConfig[] {
  const s = scaleOf(scale);
  return cells.flatMap((c) =>
    (o.lrs ?? s.lrs).flatMap((lr) =>
      (o.seeds ?? defaultSeeds).map((seed): RunConfig => ({
        experiment,
        scale: o.custom ? "custom" : scale,
        seed,
        dtype: o.dtype ?? "float32",
        input: { dist: c.dist, d: c.d },
        target: { kind: "function", name: o.target ?? c.fn },
        model: { kind: "deep", deep: c.model, ...balanceOf(o) },
        train: protocol({ ...s, weightDecay: 0 }, lr, o),
        labels: c.labels,
      }))
    )
  );
}

/** What both paper B presets read: the protocol, the model's experts and router, the target. */
const PAPER_B_SETTINGS = [
  ...TRAINING_SETTINGS,
  "widths",
  "expertDepth",
  "target",
  "gate",
  "auxLoss",
  "zLoss",
] as const satisfies readonly Setting[];

export const PAPER_B = {
  "paperB-exp1": {
    description:
      "Paper B Exp. I: f(x) = sin(5 x1) + cos(3 x2) on the unit circle embedded in R^D, D in {16, 32, 64, 128}; a 1-4-MoE (top-1 softmax-all, 2-layer ReLU experts of width 32), 3 seeds; AdamW lr {1e-3, 3e-3} (best per seed), no weight decay, cosine per epoch, batch 256, 200 x 2^14 fresh samples (quick 100 x 2^13, lr 3e-3), float32; test error should be flat in D.",
    figure: "error-vs-D",
    settings: [...PAPER_B_SETTINGS, "dims"],
    runs: (scale: Scale, o: Overrides) =>
      expand(
        "paperB-exp1",
        scale,
        o,
        [0, 1, 2],
        (o.dims ?? [16, 32, 64, 128]).map((D) => ({
          d: D,
          dist: "circle" as const,
          fn: "sincos",
          model: deep(D, 1, 4, (o.widths ?? [32])[0], 1, o),
          labels: { arch: "1-4-MoE", D },
        })),
      ),
  },
  "paperB-exp2": {
    description:
      "Paper B Exp. II: the 9-piece compositional target compose9 (f = g_i(x1) + h_j(x2), x1, x2 uniform on [-1,1]^2, 3 regions each, pieces sin(w t) + level joined continuously) fitted by a deep 2-3-MoE and a shallow 1-6-MoE, top-1 softmax-all gates, 3-layer ReLU experts (two hidden layers) at widths {16, 32, 64, 128}; AdamW lr {1e-3, 3e-3} (best per cell), no weight decay, cosine per epoch, batch 256, 200 x 2^14 fresh samples (12,800 steps; quick 100 x 2^13, lr 3e-3; trainSamples N trains on a fixed set of N samples instead), float32; the paper finds deep keeps improving with width, shallow plateaus from width 32 (ours does not at this protocol; the protocols tried are in docs/reproduction/paperB-exp2-explore.md).",
    figure: "error-vs-width",
    settings: [...PAPER_B_SETTINGS, "hiddenDim", "residual"],
    runs: (scale: Scale, o: Overrides) =>
      expand(
        "paperB-exp2",
        scale,
        o,
        [0],
        (o.widths ?? [16, 32, 64, 128]).flatMap((w) =>
          [
            { arch: "2-3-MoE", layers: 2, experts: 3 },
            { arch: "1-6-MoE", layers: 1, experts: 6 },
          ].map((a) => ({
            d: 2,
            dist: "square" as const,
            fn: "compose9",
            model: deep(2, a.layers, a.experts, w, 2, o),
            labels: { arch: a.arch, width: w },
          }))
        ),
      ),
  },
} as const;
