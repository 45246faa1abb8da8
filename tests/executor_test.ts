import assert from "node:assert/strict";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { checkRunShape, makeExecutor, prepareRun } from "../lib/experiments/executor.ts";
import type { RunConfig, RunProgress } from "../lib/sweep/types.ts";

const TINY = { d: 64, epochs: 2, samplesPerEpoch: 1024, batch: 256, testSamples: 256 };

async function execute(cfg: RunConfig) {
  const progress: RunProgress[] = [];
  const result = await makeExecutor({ threads: 1 })(cfg, {
    onProgress: (p) => progress.push(p),
    signal: new AbortController().signal,
  });
  return { result, progress };
}

Deno.test("a teacher loaded from models/ trains exactly like the same teacher built in process", async () => {
  const [inProcess] = resolvePreset("fig2", "quick", { ...TINY, archs: ["16e8a"] }).runs;
  const fromFile = resolvePreset("fig2", "quick", {
    ...TINY,
    archs: ["16e8a"],
    teacherFile: "models/teacher-16e8a-d64-seed0.onnx",
  }).runs;
  assert.equal(fromFile.length, 1);
  assert.equal(fromFile[0].target.kind, "teacher-file");
  assert.equal(fromFile[0].labels.teacher, "16e8a");
  const a = await execute(inProcess);
  const b = await execute(fromFile[0]);
  assert.equal(a.result.status, "ok");
  assert.deepEqual(b.result.curves, a.result.curves);
  assert.equal(a.result.steps, 8);
  assert.deepEqual(a.progress.map((p) => p.step), [4, 8]);
  // The score is the min over epochs of test / zero loss.
  assert.equal(a.result.score, Math.min(...a.result.curves.map((c) => c.test_loss / c.zero_loss)));
});

Deno.test("divergence is recorded as status 'diverged', not thrown", async () => {
  const [cfg] = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a"], lrs: [1e38] }).runs;
  const { result } = await execute(cfg);
  assert.equal(result.status, "diverged");
});

Deno.test("a teacher file of the wrong dimension or kind is a one-line error", () => {
  assert.throws(
    () => resolvePreset("fig2", "quick", { teacherFile: "models/teacher-16e8a-d256-seed0.onnx" }),
    /^Error: teacherFile: .* takes inputs of dimension 256, but the experiment's d is 64/,
  );
  assert.throws(
    () => resolvePreset("fig2", "quick", { teacherFile: "models/nope.onnx" }),
    /teacherFile: cannot read 'models\/nope.onnx'/,
  );
  assert.throws(
    () =>
      resolvePreset("paperB-exp1", "quick", { teacherFile: "models/teacher-16e8a-d64-seed0.onnx" }),
    /^Error: teacherFile: not a setting of paperB-exp1 \(its settings: /,
  );
});

Deno.test("train.optimizer names a registry entry: sgd trains, unknown names and misplaced fields are one-line errors", async () => {
  const [cfg] = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a"] }).runs;
  const sgdRun: RunConfig = { ...cfg, train: { ...cfg.train, optimizer: "sgd", momentum: 0.9 } };
  const adam = await execute(cfg);
  const sgd = await execute(sgdRun);
  assert.equal(sgd.result.status, "ok");
  assert.notDeepEqual(sgd.result.curves, adam.result.curves);
  assert.ok(sgd.result.curves.every((c) => Number.isFinite(c.test_loss)));
  assert.ok(!("momentum" in cfg.train), "adamw runs keep their fields (and run ids)");
  const bad = (train: Record<string, unknown>) => ({ ...cfg, train: { ...cfg.train, ...train } });
  assert.throws(
    () => checkRunShape(bad({ optimizer: "lion" }) as RunConfig),
    /^Error: train\.optimizer: unknown optimizer 'lion' \(allowed: adamw, sgd\)$/,
  );
  assert.throws(
    () => checkRunShape(bad({ momentum: 0.9 }) as RunConfig),
    /^Error: train\.momentum: not used by optimizer 'adamw' \(only by: sgd\)$/,
  );
});

Deno.test("a student's state tensors (selection bias) are carried, not trained", async () => {
  const [cfg] = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a"] }).runs;
  if (cfg.model.kind !== "moe") throw new Error("expected an moe student");
  const run = await prepareRun({
    ...cfg,
    model: { ...cfg.model, layer: { ...cfg.model.layer, selectBias: true } },
  }, { threads: 1 });
  try {
    const carried = run.trainer.spec.params.filter((p) => p.trainable === false);
    assert.deepEqual(carried.map((p) => p.name), ["moe0.router.select_bias"]);
    assert.ok(!Object.keys(run.trainer.state.opt).some((k) => k.startsWith("moe0.router.select")));
    const before = run.trainer.state.params["moe0.router.select_bias"];
    await run.trainer.run(2, run.nextBatch(2));
    assert.deepEqual(run.trainer.state.params["moe0.router.select_bias"].data, before.data);
  } finally {
    await run.release();
  }
});
