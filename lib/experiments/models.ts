/**
 * What a run trains and against what: the student model of a RunConfig (its parameters and a
 * graph builder for its forward) and its target (a frozen teacher computed in the graph, or a
 * closed-form function fed as y).
 */
import type { Graph, Value } from "../graph/builder.ts";
import { foldIn, key } from "../random/prng.ts";
import { targetByName } from "../data/targets.ts";
import { type DeepMoeConfig, deepMoeConfig, moeConfig } from "../nn/config.ts";
import { initDeepMoe, initMoe } from "../nn/init.ts";
import { deepBlocks, deepParamShapes, moeModelParamShapes, type ParamShape } from "../nn/layout.ts";
import { moeForward } from "../nn/moe.ts";
import type { MoeRoute } from "../nn/gates.ts";
import { balanceTerms } from "../nn/balance.ts";
import { deepMoeForward } from "../nn/deep.ts";
import type { ParamSet, ParamValues } from "../nn/params.ts";
import type { ModelSpec } from "../export/onnx_export.ts";
import type { RunConfig } from "../sweep/types.ts";
import { loadTeacher } from "./teacher_file.ts";

/** What a student's forward builds. */
export interface ModelOutput {
  y: Value;
  /** The compute strategy built ("dense", "sparse", "dense+sparse", ...). */
  strategy: string;
  /** An extra term of the training loss (e.g. a load-balancing loss), added to the MSE. */
  loss?: Value;
  /** Next values of the model's carried tensors (`Model.carried`), from this step's values. */
  updates?: ParamValues;
}

/** A model as the executor sees it: its parameters and a graph builder for its forward. */
export interface Model {
  params: ParamSet;
  /** Names in `params` that are carried state, not trained (no gradient, no optimizer). */
  carried?: ReadonlySet<string>;
  outDim: number;
  forward(g: Graph, p: ParamValues, x: Value): ModelOutput;
  /** Each MoE layer's routing on x as the forward routes (top-k indices and router scores). */
  routes(g: Graph, p: ParamValues, x: Value): MoeRoute[];
}

/** The deep model's config of a run with `model.kind` "deep". */
export function deepConfigOf(cfg: RunConfig): DeepMoeConfig {
  if (cfg.model.kind !== "deep") {
    throw new Error(`model.kind: expected deep, got ${cfg.model.kind}`);
  }
  return deepMoeConfig(cfg.model.deep as Parameters<typeof deepMoeConfig>[0]);
}

/** The student as the export format names it (kind and full config). */
export function studentSpec(cfg: RunConfig): ModelSpec {
  return cfg.model.kind === "moe"
    ? { kind: "moe", config: moeConfig(cfg.model.layer) }
    : { kind: "deep", config: deepConfigOf(cfg) };
}

/** The student's tensors (full names, dims), in layout order, without initializing them. */
export function studentParamShapes(cfg: RunConfig): ParamShape[] {
  const spec = studentSpec(cfg);
  return spec.kind === "moe" ? moeModelParamShapes(spec.config) : deepParamShapes(spec.config);
}

/** The student of `cfg`, initialized from foldIn(key(seed), "student"). */
export function studentModel(cfg: RunConfig): Model {
  const model = studentForward(cfg);
  // Tensors of role "state" (e.g. a selection bias) are carried, never trained.
  const state = studentParamShapes(cfg).filter((p) => p.role === "state").map((p) => p.name);
  return state.length ? { ...model, carried: new Set(state) } : model;
}

function studentForward(cfg: RunConfig): Model {
  const dtype = cfg.dtype;
  const k = foldIn(key(cfg.seed), "student");
  // `auto` picks the strategy for training at this batch; the evaluator builds the same one.
  const cost = { training: true, batch: cfg.train.batch };
  if (cfg.model.kind === "moe") {
    const c = moeConfig(cfg.model.layer);
    const params = initMoe(c, k, { scheme: cfg.model.init, dtype });
    const balance = cfg.model.balance ?? {};
    return {
      params,
      outDim: c.dOut,
      forward: (g, p, x) => {
        const out = moeForward(g, c, p, x, { cost });
        const bias = c.selectBias ? "moe0.router.select_bias" : undefined;
        const terms = balanceTerms(g, c, out.route, balance, bias ? p[bias] : undefined);
        return {
          y: out.y,
          strategy: out.strategy,
          ...(terms.loss ? { loss: terms.loss } : {}),
          ...(terms.bias && bias ? { updates: { [bias]: terms.bias } } : {}),
        };
      },
      routes: (g, p, x) => [moeForward(g, c, p, x, { cost }).route],
    };
  }
  const c = deepConfigOf(cfg);
  const params = initDeepMoe(c, k, { dtype });
  const balance = cfg.model.balance ?? {};
  const specs = deepBlocks(c).flatMap((b) => (b.kind === "moe" ? [b.spec] : []));
  return {
    params,
    outDim: c.dOut,
    forward: (g, p, x) => {
      const r = deepMoeForward(g, c, p, x, cost);
      // Every MoE layer's balancing terms, summed into one extra loss.
      const losses = r.routes.flatMap((route, l) => {
        const t = balanceTerms(g, specs[l], route, balance);
        return t.loss ? [t.loss] : [];
      });
      const loss = losses.reduce<Value | undefined>((a, t) => (a ? g.op.Add(a, t) : t), undefined);
      return {
        y: r.y,
        strategy: [...new Set(r.strategies)].join("+"),
        ...(loss ? { loss } : {}),
      };
    },
    routes: (g, p, x) => deepMoeForward(g, c, p, x, cost).routes,
  };
}

/** The target: a frozen teacher computed in the graph, or a closed-form function fed as y. */
export type Target =
  | { kind: "graph"; outDim: number; forward(g: Graph, x: Value): Value }
  | { kind: "fed"; outDim: number; name: string };

/** The target of `cfg` (a teacher file is read and checked against its sha256). */
export async function target(cfg: RunConfig): Promise<Target> {
  const t = cfg.target;
  if (t.kind === "function") {
    return { kind: "fed", outDim: targetByName(t.name).outDim, name: t.name };
  }
  const teacher = t.kind === "teacher"
    ? (() => {
      const c = moeConfig(t.teacher);
      return { config: c, params: initMoe(c, key(t.seed), { scheme: t.init, dtype: cfg.dtype }) };
    })()
    : await loadTeacher(t.path, t.sha256, cfg.dtype);
  // Teacher weights become initializers of the root graph (visible inside the Loop body),
  // created once per graph.
  const made = new WeakMap<Graph, ParamValues>();
  const values = (g: Graph): ParamValues => {
    const root = g.root;
    let v = made.get(root);
    if (!v) {
      v = {};
      for (const [name, tt] of teacher.params) v[name] = root.initializer(`teacher.${name}`, tt);
      made.set(root, v);
    }
    return v;
  };
  return {
    kind: "graph",
    outDim: teacher.config.dOut,
    forward: (g, x) => moeForward(g, teacher.config, values(g), x).y,
  };
}
