/**
 * The floor of a paper-A training step on this machine (`deno task bench --floor`): a measured
 * lower bound on its time for an implementation that runs the step's GEMMs and AdamW through
 * onnxruntime's CPU kernels, as this library does (AdamW in 11 elementwise ops, the fewest found:
 * torch's formulation takes 13).
 *
 * The floor program keeps only the GEMMs and the optimizer update that every implementation of
 * the step must run, and gives them every advantage: the teacher's and the student's expert GEMMs
 * with perfectly balanced loads (B k / m rows per expert: only the active FLOPs, no padding, no
 * row or weight gathers, weights used in place), the router's two GEMMs, and the AdamW update of
 * the student's weight matrices with this library's optimizer (11 standard ONNX elementwise ops
 * per tensor; onnxruntime's inference build has no fused optimizer). No routing, TopK, gathers,
 * activations, biases, loss or data. It runs the executor's steps per call in an ONNX Loop, as
 * training does. Gradients are stand-ins with the right shapes (their values are meaningless;
 * their scale is kept finite and away from denormals).
 *
 * A real step also routes, gathers rows into experts and back, pads tiles and computes
 * activations and the loss: its time minus the floor is what the dispatch costs.
 */
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { adamw } from "../lib/optim/adamw.ts";
import { moeConfig } from "../lib/nn/config.ts";
import { Session } from "../lib/runtime/session.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

/** The shapes the floor needs: batch, dims, student and teacher (m, k, w). */
interface FloorShape {
  batch: number;
  d: number;
  student: { m: number; k: number; w: number };
  teacher: { m: number; k: number; w: number };
}

/** The floor's shapes for a paper-A config (an MoE student of an MoE teacher, dIn = dOut). */
export function floorShape(cfg: RunConfig): FloorShape | undefined {
  if (cfg.model.kind !== "moe" || cfg.target.kind !== "teacher") return undefined;
  const s = moeConfig(cfg.model.layer);
  const t = moeConfig(cfg.target.teacher);
  if (s.dIn !== s.dOut || t.dIn !== s.dIn || t.dOut !== s.dIn) return undefined;
  return {
    batch: cfg.train.batch,
    d: s.dIn,
    student: { m: s.m, k: s.k, w: s.w },
    teacher: { m: t.m, k: t.k, w: t.w },
  };
}

type Part = "all" | "adamw" | "gemm";

/** Deterministic values of magnitude ~`scale` (no RNG needed: only timing matters). */
function filled(dims: number[], scale: number): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = scale * (((i * 2654435761) % 1000) / 500 - 1 || 0.5);
  return tensor("float32", dims, data);
}

function floorProgram(sh: FloorShape, steps: number, part: Part): {
  model: Uint8Array;
  feeds: Record<string, HostTensor>;
} {
  const { batch, d, teacher: t } = sh;
  const { m, k, w } = sh.student;
  // Balanced rows per expert (the load average, rounded up).
  const r = Math.ceil((batch * k) / m);
  const g = new Graph("floor");
  const shapes: Record<string, number[]> = { wr: [d, m], w1: [m, w, d], w2: [m, w, d] };
  const names = Object.keys(shapes);
  const feeds: Record<string, HostTensor> = {};
  const params = names.map((n) => {
    feeds[n] = filled(shapes[n], 0.05);
    return g.input(n, "float32", shapes[n]);
  });
  const states = names.flatMap((n) =>
    ["m", "v"].map((s) => {
      feeds[`${n}.${s}`] = filled(shapes[n], s === "m" ? 1e-3 : 1e-4);
      return g.input(`${n}.${s}`, "float32", shapes[n]);
    })
  );
  feeds.x = filled([batch, d], 1);
  feeds.xe = filled([m, r, d], 1);
  const rT = Math.ceil((batch * t.k) / t.m);
  feeds.xt = filled([t.m, rT, d], 1);
  const x = g.input("x", "float32", [batch, d]);
  const xe = g.input("xe", "float32", [m, r, d]);
  const xt = g.input("xt", "float32", [t.m, rT, d]);
  const fixedGrads = part === "adamw"
    ? names.map((n) => {
      feeds[`${n}.grad`] = filled(shapes[n], 1e-2);
      return g.input(`${n}.grad`, "float32", shapes[n]);
    })
    : [];
  const tw1 = g.initializer("tw1", filled([t.m, d, t.w], 0.06));
  const tw2 = g.initializer("tw2", filled([t.m, t.w, d], 0.04));
  const opt = adamw();
  const lr = g.literal(1e-6, "float32");

  /** The step's GEMMs from weights wr, w1, w2: returns the three weight gradients. */
  const gemms = (b: Graph, wr: Value, w1: Value, w2: Value): Value[] => {
    const { op } = b;
    // Teacher (active experts only) and router: what every step computes on the batch.
    const yT = op.MatMul(op.Relu(op.MatMul(xt, tw1)), tw2); // [mT, rT, d]
    const logits = op.MatMul(x, wr);
    // A stand-in for dlogits that reads the teacher, so nothing is dead code.
    const dlogits = op.Add(logits, op.ReduceMean(yT, { axes: [0, 1, 2], keepdims: 0 }));
    const dWr = op.Gemm(x, dlogits, undefined, { transA: 1 });
    // The five expert GEMMs, balanced and unpadded, weights in place.
    const z = op.MatMul(xe, op.Transpose(w1, { perm: [0, 2, 1] })); // [m, r, w]
    const y = op.MatMul(z, w2); // [m, r, d]; also stands in for the output gradient
    const dW2 = op.MatMul(op.Transpose(z, { perm: [0, 2, 1] }), y); // [m, w, d]
    const dh = op.MatMul(y, op.Transpose(w2, { perm: [0, 2, 1] })); // [m, r, w]
    const dW1 = op.MatMul(op.Transpose(dh, { perm: [0, 2, 1] }), xe); // [m, w, d]
    return [dWr, dW1, dW2];
  };

  let outs: Value[];
  if (part === "gemm") {
    // Weights read from outside the Loop; the gradients are its carried values, so every
    // iteration computes them and nothing else runs.
    const zeros = names.map((n) => {
      feeds[`${n}.acc`] = tensor("float32", shapes[n]);
      return g.input(`${n}.acc`, "float32", shapes[n]);
    });
    outs = g.loop(steps, zeros, (b) => ({ carried: gemms(b, params[0], params[1], params[2]) }));
  } else {
    outs = g.loop(steps, [...params, ...states], (b, iter, carried) => {
      const grads = part === "adamw" ? fixedGrads : gemms(b, carried[0], carried[1], carried[2]);
      const ctx = { lr, step: b.op.Cast(b.op.Add(iter, 1n), "float32") };
      const next: Value[] = [];
      const nextState: Value[] = [];
      names.forEach((_, i) => {
        const st = { exp_avg_scaled: carried[3 + 2 * i], exp_avg_sq_scaled: carried[4 + 2 * i] };
        const u = opt.update(b, carried[i], grads[i], st, ctx);
        next.push(u.param);
        nextState.push(u.state.exp_avg_scaled, u.state.exp_avg_sq_scaled);
      });
      return { carried: [...next, ...nextState] };
    }, "floor");
  }
  outs.forEach((o, i) => g.output(o, `out${i}`));
  return { model: encodeModel(g), feeds };
}

/** Milliseconds per step (median over `reps` calls of `steps` steps) of the floor and its parts. */
export interface Floor {
  /** GEMMs and AdamW: the floor. */
  ms: number;
  /** The AdamW update alone (gradients fed). */
  adamwMs: number;
  /** The GEMMs alone. */
  gemmMs: number;
}

/** Measures the floor of `cfg` (see the module doc), or undefined when it has no floor shape. */
export async function measureFloor(
  cfg: RunConfig,
  steps: number,
  threads: number,
  reps: number,
): Promise<Floor | undefined> {
  const sh = floorShape(cfg);
  if (!sh) return undefined;
  // The three programs take turns within each rep, so a noisy machine affects them alike.
  const parts: Part[] = ["all", "adamw", "gemm"];
  const progs = parts.map((p) => floorProgram(sh, steps, p));
  const sessions: Session[] = [];
  try {
    for (const p of progs) sessions.push(await Session.create(p.model, { threads }));
    for (const [i, s] of sessions.entries()) await s.run(progs[i].feeds); // warm-up
    const times: number[][] = parts.map(() => []);
    for (let r = 0; r < reps; r++) {
      for (const [i, s] of sessions.entries()) {
        const t0 = performance.now();
        await s.run(progs[i].feeds);
        times[i].push((performance.now() - t0) / steps);
      }
    }
    const [ms, adamwMs, gemmMs] = times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
    return { ms, adamwMs, gemmMs };
  } finally {
    for (const s of sessions) await s.release();
  }
}
