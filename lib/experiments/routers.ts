/**
 * Experiment `routers`: paper A's Fig. 2 question (arXiv 2505.06839: does a finer-grained
 * student learn a teacher better at matched active parameters?) under the router families of
 * production MoEs. Teachers 8e4a and 16e8a (the paper's, softmax-topk); students 4e2a, 8e4a,
 * 16e8a, 32e16a (granularity 2, 4, 8, 16 at sparsity 1/2, kw = the preset's active neurons),
 * each trained with every family:
 *
 * - `paper`: softmax over the selected k (the authors');
 * - `aux`: the same plus the Switch / GShard auxiliary loss, alpha = 0.01 (arXiv 2101.03961);
 * - `sigmoid-bias`: DeepSeek-V3's sigmoid gate with aux-loss-free bias balancing,
 *   gamma = 0.001 (arXiv 2412.19437);
 * - `shared`: `paper` plus one always-active shared expert; the k routed and the shared expert
 *   have width floor(kw / (k + 1)), so the active neurons stay matched;
 * - `expert-choice`: each expert takes the c = k B / m tokens of its batch with the largest
 *   softmax probability (arXiv 2202.09368), so B k token-slots as with top-k; a token no expert
 *   takes gets 0.
 *
 * One figure: normalized test loss vs student granularity, a line per teacher and family.
 */
import type { MoeSpec, RunConfig } from "../sweep/types.ts";
import { type Overrides, type Scale, TRAINING_SETTINGS } from "./overrides.ts";
import { type Pair, runsFor } from "./paper_a.ts";
import type { RouterSettings } from "./router_settings.ts";
import { shorthand } from "../nn/config.ts";

/** The router families compared, with their settings. */
export const ROUTER_FAMILIES: Record<string, RouterSettings & { shared?: true }> = {
  paper: {},
  aux: { auxLoss: 0.01 },
  "sigmoid-bias": { gate: "sigmoid-topk", biasRate: 0.001 },
  shared: { shared: true },
  "expert-choice": { gate: "expert-choice" },
};

const TEACHERS = [{ m: 8, k: 4 }, { m: 16, k: 8 }];
const GRANULARITIES = [2, 4, 8, 16];

/** `layer` with one shared expert: k routed + 1 shared of one width, k w active neurons kept. */
export function withSharedExpert(layer: MoeSpec): MoeSpec {
  return { ...layer, w: Math.floor((layer.k * layer.w) / (layer.k + 1)), sharedExperts: 1 };
}

/** The runs of `routers` (quick: 10 epochs; full: the paper's protocol). */
export function routerRuns(scale: Scale, o: Overrides): RunConfig[] {
  const oo: Overrides = { ...o, epochs: o.epochs ?? (scale === "full" ? 100 : 10) };
  const runs: RunConfig[] = [];
  for (const [family, settings] of Object.entries(ROUTER_FAMILIES)) {
    const { shared, ...router } = settings;
    const pairs: Pair[] = [];
    for (const t of TEACHERS) {
      for (const g of o.granularities ?? GRANULARITIES) {
        const teacher = shorthand(t.m, t.k);
        pairs.push({
          teacher: t,
          student: { m: 2 * g, k: g },
          labels: {
            teacher,
            student: shorthand(2 * g, g),
            granularity: g,
            family,
            series: `${teacher} ${family}`,
          },
        });
      }
    }
    const rs = runsFor("routers", scale, { ...oo, ...router }, pairs, {
      kwOverD: 1,
      studentRouterBias: false,
    });
    for (const r of rs) {
      if (shared && r.model.kind === "moe") {
        r.model = { ...r.model, layer: withSharedExpert(r.model.layer) };
      }
      runs.push(r);
    }
  }
  return runs;
}

export const ROUTERS = {
  routers: {
    description:
      "Fig. 2's question under production router families: teachers 8e4a, 16e8a; students of granularity 2-16 at matched active neurons, each with softmax-topk, + aux loss, sigmoid + bias balancing, + 1 shared expert, expert choice; loss vs granularity.",
    figure: "family-lines",
    // The families set the router: its settings would be overwritten, so they are refused.
    settings: [...TRAINING_SETTINGS, "d", "teacherSeed", "teacherFile", "granularities"],
    runs: routerRuns,
  },
} as const;
