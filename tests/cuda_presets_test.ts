/**
 * `--ep cuda` without a GPU: every preset's programs pass the CUDA audit, the CUDA formulations
 * compute what the CPU ones do, CUDA sessions refuse models that would not run as intended,
 * and `deno task audit` / `deno task sweep --ep cuda` report it.
 */
import assert from "node:assert/strict";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { type HostTensor, tensor } from "../lib/graph/tensor.ts";
import { buildingFor } from "../lib/graph/target.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { type Gate, GATES, initMoe, moeConfig, moeForward } from "../lib/nn/mod.ts";
import { paramInputs } from "../lib/nn/params.ts";
import { key, normal } from "../lib/random/prng.ts";
import { EXPERIMENTS, resolvePreset } from "../lib/experiments/registry.ts";
import { auditRuns } from "../lib/cuda/programs.ts";
import { auditModel, formatFindings, isError } from "../lib/cuda/audit.ts";
import { CudaAuditError } from "../lib/cuda/gate.ts";
import { ExecutionProviderError, Session } from "../lib/runtime/session.ts";
import { task } from "./support/task.ts";

for (const scale of ["quick", "full"]) {
  Deno.test(`cuda audit: every preset's programs at ${scale} scale are free of errors`, async () => {
    for (const name of Object.keys(EXPERIMENTS)) {
      const { runs } = resolvePreset(name, scale);
      const { programs, findings } = await auditRuns(runs, "cuda");
      assert.ok(programs >= 2, `${name}: built ${programs} programs`);
      const errors = findings.filter(isError);
      assert.deepEqual(formatFindings(errors), [], `${name} (${scale})`);
    }
  });
}

Deno.test("cuda audit: every gate and router setting, dense and sparse, is free of errors", async () => {
  for (const gate of GATES) {
    for (const strategy of ["dense", "sparse"] as const) {
      // Expert choice balances by construction: no aux loss, no bias balancing.
      const balancing = gate === "expert-choice" ? {} : { auxLoss: 0.01, biasRate: 0.001 };
      const o = { gate, strategy, ...balancing, zLoss: 0.001, routedScale: 2.5, sharedExperts: 1 };
      const { runs } = resolvePreset("fig3", "quick", o);
      const { findings } = await auditRuns(runs.slice(0, 2), "cuda");
      assert.deepEqual(formatFindings(findings.filter(isError)), [], `${gate}/${strategy}`);
    }
  }
});

Deno.test("cuda audit: the CPU programs keep their CPU formulations (atomics on CUDA)", async () => {
  const { runs } = resolvePreset("paperB-exp1", "quick");
  const { findings } = await auditRuns(runs, "cpu");
  assert.ok(findings.some((f) => f.kind === "nondeterministic" && f.op === "ScatterElements"));
});

/**
 * Sparse softmax-all MoEs: few experts (ranks by a CumSum of the selection mask) and many
 * (ranks by a stable sort, with its own expert loads).
 */
const SHAPES = [
  { m: 6, k: 2, gate: "softmax-all" },
  { m: 32, k: 1, gate: "softmax-all" },
] as const;

/** The MoE's loss and gradients (parameters and x), built for `target`. */
function moeGrads(target: "cpu" | "cuda", m: number, k: number, gate: Gate): Graph {
  return buildingFor(target, () => {
    const c = moeConfig({ m, k, w: 3, dIn: 5, dOut: 2, gate, strategy: "sparse" });
    const g = new Graph("main");
    const p = paramInputs(g, initMoe(c, key(0), { dtype: "float32" }));
    const x = g.input("x", "float32", [9, 5]);
    const y = moeForward(g, c, p, x).y;
    const loss = g.op.ReduceSum(g.op.Mul(y, y), undefined, { keepdims: 0 });
    const wrt: Value[] = [...Object.values(p), x];
    g.output(loss, "loss");
    grad(g, loss, wrt).forEach((d, i) => g.output(d, `d${i}`));
    return g;
  });
}

Deno.test("cuda formulations compute the CPU ones' values (run here on the CPU EP)", async () => {
  for (const { m, k, gate } of SHAPES) {
    const cpuModel = encodeModel(moeGrads("cpu", m, k, gate));
    const cudaModel = encodeModel(moeGrads("cuda", m, k, gate));
    // The CPU graph has the atomics-based reductions, the CUDA graph none of them.
    assert.ok(auditModel(cpuModel).some(isError));
    assert.deepEqual(formatFindings(auditModel(cudaModel).filter(isError)), []);
    const c = moeConfig({ m, k, w: 3, dIn: 5, dOut: 2, gate });
    const feeds: Record<string, HostTensor> = Object.fromEntries(
      initMoe(c, key(0), { dtype: "float32" }),
    );
    feeds.x = tensor("float32", [9, 5], normal(key(1), new Float32Array(45)));
    const run = async (model: Uint8Array) => {
      const s = await Session.create(model);
      const out = await s.run(feeds);
      await s.release();
      return out;
    };
    const a = await run(cpuModel);
    const b = await run(cudaModel);
    assert.ok(Object.keys(a).length > 3);
    for (const o of Object.keys(a)) {
      const x = Array.from(a[o].data as Float32Array);
      const y = Array.from(b[o].data as Float32Array);
      // Equal values (a scatter without reduction may keep a -0 that 0 + -0 turns into +0).
      assert.ok(x.length > 0 && x.every((v, i) => v === y[i]), `m=${m} ${o}: ${x} vs ${y}`);
    }
  }
});

Deno.test("cuda sessions audit their model first and refuse what would not run as intended", async () => {
  const g = new Graph("main");
  const i = g.input("i", "int64", [4]);
  g.output(g.op.Sum(i, i), "s");
  const sumNode = g.nodes.find((n) => n.opType === "Sum")!.name;
  const model = encodeModel(g);
  await assert.rejects(Session.create(model, { ep: "cuda" }), (e: Error) => {
    assert.ok(e instanceof CudaAuditError);
    assert.match(e.message, new RegExp(`${sumNode} \\(Sum\\)`));
    assert.match(e.message, /--allow-cpu-fallback/);
    return true;
  });
  // Allowed to fall back, it reaches the CUDA library check (none installed here).
  await assert.rejects(
    Session.create(model, { ep: "cuda", allowCpuFallback: true }),
    (e: Error) => e instanceof ExecutionProviderError && /CUDA 12/.test(e.message),
  );
  // Nondeterministic kernels are refused even then.
  const h = new Graph("main");
  const x = h.input("x", "float32", [4, 2]);
  const idx = h.constant(tensor("int64", [4, 2], [0, 0, 0, 0, 0, 0, 0, 0]));
  h.output(h.op.ScatterElements(x, idx, x, { axis: 0, reduction: "add" }), "y");
  await assert.rejects(
    Session.create(encodeModel(h), { ep: "cuda", allowCpuFallback: true }),
    (e: Error) => e instanceof CudaAuditError && /nondeterministic|atomics/.test(e.message),
  );
});

Deno.test("deno task audit: exit 0 for a preset built for CUDA, 1 with the CPU atomics", async () => {
  const ok = await task("audit", ["paperB-exp1"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /paperB-exp1: 12 runs, \d+ programs built for --ep cuda: .*no errors/);
  const bad = await task("audit", ["paperB-exp1", "--ep", "cpu"]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(
    bad.stdout,
    /^error nondeterministic +Loop\/body\/\S*ScatterElements\S* \(ScatterElements\)/m,
  );
  const usage = await task("audit", ["fig2", "--shard", "0/2"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--shard: not an audit flag/);
});

Deno.test("deno task sweep --ep cuda: audits, then fails clearly without CUDA libraries", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await task("sweep", ["paperB-exp1", "--ep", "cuda", "--out", out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /CUDA 12/);
    assert.match(r.stderr, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assert.deepEqual([...Deno.readDirSync(out)], []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
