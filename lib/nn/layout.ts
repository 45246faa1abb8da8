/**
 * The parameter layout of an MoE layer, shared by the dense and the sparse strategy, by the
 * initializers and by the TS reference. Names are relative to a layer prefix such as `moe0.`.
 *
 * Mapping to the paper's notation (expert j = A_j act(B_j^T x + c_j) + e_j, B_j in R^{dIn x w},
 * A_j in R^{dOut x w}, router scores s_j = <r_j, x> + b_j):
 *
 * | name              | shape          | contents                                            |
 * |-------------------|----------------|-----------------------------------------------------|
 * | `router.weight`   | [dIn, m]       | column j = r_j (so s = x @ W, a plain MatMul)       |
 * | `router.bias`     | [m]            | b (only with routerBias)                            |
 * | `router.select_bias` | [m]         | b_sel, selection only, no gradient (selectBias)     |
 * | `experts.w1`      | [dIn, m*w]     | columns j*w .. j*w+w-1 = B_j  (= [B_1 ... B_m])     |
 * | `experts.b1`      | [m*w]          | entries j*w .. j*w+w-1 = c_j (expertBias)           |
 * | `experts.wh<i>`   | [m, w, w]      | hidden layer i of expert j (only when depth > 1)    |
 * | `experts.bh<i>`   | [m, w]         | its bias (expertBias)                               |
 * | `experts.w2`      | [m*w, dOut]    | rows j*w .. j*w+w-1 = A_j^T                         |
 * | `experts.b2`      | [m, dOut]      | row j = e_j (expertBias)                            |
 * | `shared.w1`, `shared.b1`, `shared.w2`, `shared.b2` | as the experts' with n_s, w_s | the |
 * |                   |                | shared experts (sharedExperts; shared.ts)           |
 *
 * With this layout the dense strategy is x @ w1 + b1 -> act -> (scale by gates) -> @ w2 with no
 * transposes; the sparse strategy views w1 as [m, dIn, w] (one Reshape and one Transpose of the
 * weight per forward) and w2 as [m, w, dOut] (a Reshape only), then gathers each tile's expert.
 *
 * A deep MoE (paper B, arXiv 2505.24205) is a sequence of blocks (`deepBlocks`): MoE layer l
 * under `moe<l>.`, and with `denseBetween` the dense layer after it (all but the last) under
 * `dense<l>.`: `weight` [hiddenDim, hiddenDim] (used as h @ W) and `bias` [hiddenDim].
 */
import { deepLayerSpec, type DeepMoeConfig, type MoeLayerSpec } from "./config.ts";

/** What a tensor is, for initialization (`state`: no gradient, initialized to 0). */
export type ParamRole = "router.weight" | "router.bias" | "weight" | "bias" | "state";

/** One tensor of a layout: name, dims and what initialization needs to know. */
export interface ParamShape {
  /** Name relative to the layer prefix (full names from deepParamShapes, moeModelParamShapes). */
  name: string;
  /** Its dims. */
  dims: number[];
  /** Inputs feeding one output unit (nn.Linear's fan_in). */
  fanIn: number;
  /** What it is, for initialization. */
  role: ParamRole;
  /** Which expert matrix: 1 (B), "h" (hidden), 2 (A); undefined for the router. */
  layer?: 1 | "h" | 2;
}

/** The tensors of one MoE layer, in a fixed order. */
export function moeParamShapes(s: MoeLayerSpec): ParamShape[] {
  const { m, w, dIn, dOut } = s;
  const out: ParamShape[] = [
    { name: "router.weight", dims: [dIn, m], fanIn: dIn, role: "router.weight" },
  ];
  if (s.routerBias) out.push({ name: "router.bias", dims: [m], fanIn: dIn, role: "router.bias" });
  if (s.selectBias) {
    out.push({ name: "router.select_bias", dims: [m], fanIn: dIn, role: "state" });
  }
  out.push({ name: "experts.w1", dims: [dIn, m * w], fanIn: dIn, role: "weight", layer: 1 });
  if (s.expertBias) {
    out.push({ name: "experts.b1", dims: [m * w], fanIn: dIn, role: "bias", layer: 1 });
  }
  for (let i = 1; i < s.depth; i++) {
    out.push({ name: `experts.wh${i}`, dims: [m, w, w], fanIn: w, role: "weight", layer: "h" });
    if (s.expertBias) {
      out.push({ name: `experts.bh${i}`, dims: [m, w], fanIn: w, role: "bias", layer: "h" });
    }
  }
  out.push({ name: "experts.w2", dims: [m * w, dOut], fanIn: w, role: "weight", layer: 2 });
  if (s.expertBias) {
    out.push({ name: "experts.b2", dims: [m, dOut], fanIn: w, role: "bias", layer: 2 });
  }
  if (s.sharedExperts) {
    const [n, ws] = [s.sharedExperts, s.sharedWidth ?? w];
    out.push({ name: "shared.w1", dims: [dIn, n * ws], fanIn: dIn, role: "weight", layer: 1 });
    if (s.expertBias) {
      out.push({ name: "shared.b1", dims: [n * ws], fanIn: dIn, role: "bias", layer: 1 });
    }
    out.push({ name: "shared.w2", dims: [n * ws, dOut], fanIn: ws, role: "weight", layer: 2 });
    if (s.expertBias) {
      out.push({ name: "shared.b2", dims: [n, dOut], fanIn: ws, role: "bias", layer: 2 });
    }
  }
  return out;
}

/** The tensors of a single-layer MoE model, named under its prefix `moe0.`, in layout order. */
export function moeModelParamShapes(s: Omit<MoeLayerSpec, "depth">): ParamShape[] {
  return moeParamShapes({ ...s, depth: 1 }).map((p) => ({ ...p, name: `moe0.${p.name}` }));
}

/** One block of a deep MoE, in forward order (see the module doc). */
export type DeepBlock =
  | { kind: "moe"; index: number; name: string; prefix: string; spec: MoeLayerSpec }
  | { kind: "dense"; index: number; name: string; prefix: string; dim: number };

/** The blocks of a deep MoE: `moe0`, `dense0`, `moe1`, ... (`name` = prefix without the dot). */
export function deepBlocks(c: DeepMoeConfig): DeepBlock[] {
  const out: DeepBlock[] = [];
  for (let l = 0; l < c.layers; l++) {
    out.push({
      kind: "moe",
      index: l,
      name: `moe${l}`,
      prefix: `moe${l}.`,
      spec: deepLayerSpec(c, l),
    });
    if (c.denseBetween && l < c.layers - 1) {
      out.push({
        kind: "dense",
        index: l,
        name: `dense${l}`,
        prefix: `dense${l}.`,
        dim: c.hiddenDim,
      });
    }
  }
  return out;
}

/** The tensors of one deep block, named relative to its prefix. */
export function blockParamShapes(b: DeepBlock): ParamShape[] {
  if (b.kind === "moe") return moeParamShapes(b.spec);
  return [
    { name: "weight", dims: [b.dim, b.dim], fanIn: b.dim, role: "weight" },
    { name: "bias", dims: [b.dim], fanIn: b.dim, role: "bias" },
  ];
}

/** The tensors of a deep MoE with their full names (`moe0.router.weight`, `dense0.bias`, ...). */
export function deepParamShapes(c: DeepMoeConfig): ParamShape[] {
  return deepBlocks(c).flatMap((b) =>
    blockParamShapes(b).map((p) => ({ ...p, name: b.prefix + p.name }))
  );
}
