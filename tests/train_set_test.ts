import assert from "node:assert/strict";
import { BatchSource } from "../lib/data/batches.ts";
import { BatchPrefetcher } from "../lib/data/prefetch.ts";
import { sampleInputs } from "../lib/data/inputs.ts";
import { COMPOSE9 } from "../lib/data/targets.ts";
import { passOrder, trainSetKey } from "../lib/data/train_set.ts";
import { key } from "../lib/random/prng.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { checkRunShape, makeExecutor } from "../lib/experiments/executor.ts";
import { validateOverrides } from "../lib/experiments/overrides.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

const N = 96;
const B = 32;
const D = 2;
const spec = { dist: "square" as const, d: D, target: "compose9", key: key(7), trainSamples: N };

/** The rows of a [rows, D] array as strings, sorted (a multiset). */
const rowsOf = (x: Float32Array) =>
  Array.from({ length: x.length / D }, (_, r) => [...x.subarray(r * D, r * D + D)].join(","))
    .sort();

Deno.test("trainSamples: every pass visits the same N rows drawn from the key, in a fresh order", () => {
  // 3 steps of 32 rows = one pass of 96; 9 steps = 3 passes.
  const c = new BatchSource(spec).next(9, B);
  const set = sampleInputs("square", trainSetKey(spec.key), N, D);
  const pass = (p: number) => c.x.subarray(p * N * D, (p + 1) * N * D);
  for (let p = 0; p < 3; p++) assert.deepEqual(rowsOf(pass(p)), rowsOf(set), `pass ${p}`);
  assert.notDeepEqual(pass(0), pass(1));
  assert.notDeepEqual(pass(1), pass(2));
  // Row q of pass p is the set's row passOrder(key, p)[q]; y is the target of x.
  const order = passOrder(spec.key, 1, N);
  assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
  for (const q of [0, 17, 95]) {
    assert.deepEqual(
      pass(1).subarray(q * D, q * D + D),
      set.subarray(order[q] * D, order[q] * D + D),
    );
  }
  assert.deepEqual(c.y, COMPOSE9.evaluate(c.x, D));
});

Deno.test("trainSamples: determined by the key, independent of chunking and seeks, unlike fresh rows", () => {
  const whole = new BatchSource(spec).next(7, B);
  const src = new BatchSource(spec);
  const parts = [src.next(2, B), src.next(4, B), src.next(1, B)];
  assert.deepEqual(Float32Array.from(parts.flatMap((p) => [...p.x])), whole.x);
  assert.deepEqual(Float32Array.from(parts.flatMap((p) => [...p.y!])), whole.y);
  const resumed = new BatchSource({ ...spec, step: 5 });
  assert.deepEqual(resumed.next(2, B).x, whole.x.subarray(5 * B * D));
  // Another key: another set.
  const other = new BatchSource({ ...spec, key: key(8) }).next(3, B).x;
  assert.notDeepEqual(rowsOf(other), rowsOf(whole.x.subarray(0, N * D)));
  // Fresh sampling draws new rows every step: 7 steps hold 224 distinct rows, the set only 96.
  const fresh = new BatchSource({ ...spec, trainSamples: undefined }).next(7, B).x;
  assert.equal(new Set(rowsOf(fresh)).size, 7 * B);
  assert.equal(new Set(rowsOf(whole.x)).size, N);
  // A set larger than what is read: 7 * 32 rows of a 1000-row set are all distinct.
  const big = new BatchSource({ ...spec, trainSamples: 1000 }).next(7, B).x;
  assert.equal(new Set(rowsOf(big)).size, 7 * B);
});

Deno.test("trainSamples: the prefetch worker draws the same chunks", async () => {
  const opts = { ...spec, dtype: "float32" as const };
  const p = new BatchPrefetcher(opts, B);
  try {
    const want = new BatchSource(spec).next(6, B);
    const a = await p.next(4);
    const b = await p.next(2);
    assert.deepEqual(Float32Array.from([...a.x, ...b.x]), want.x);
    assert.deepEqual(Float32Array.from([...a.y!, ...b.y!]), want.y);
  } finally {
    p.close();
  }
});

Deno.test("trainSamples: a run on a fixed set differs from fresh sampling; bad values are one-line errors", async () => {
  const tiny = { widths: [16], epochs: 2, samplesPerEpoch: 512, batch: 256, testSamples: 256 };
  const [fresh] = resolvePreset("paperB-exp2", "quick", tiny).runs;
  const [fixed] = resolvePreset("paperB-exp2", "quick", { ...tiny, trainSamples: 256 }).runs;
  assert.ok(
    !("trainSamples" in fresh.train),
    "runs without a fixed set keep their fields (and ids)",
  );
  assert.ok(!("trainSamples" in resolvePreset("paperB-exp1", "full").runs[0].train));
  assert.equal(fixed.train.trainSamples, 256);
  const run = (cfg: RunConfig) =>
    makeExecutor({ threads: 1 })(cfg, {
      onProgress: () => {},
      signal: new AbortController().signal,
    });
  const [a, b, again] = [await run(fresh), await run(fixed), await run(fixed)];
  assert.equal(b.status, "ok");
  assert.notDeepEqual(b.curves.map((c) => c.train_loss), a.curves.map((c) => c.train_loss));
  assert.deepEqual(again.curves, b.curves);
  // The test set is the same fresh draw either way.
  assert.equal(b.curves[0].zero_loss, a.curves[0].zero_loss);
  assert.throws(
    () => validateOverrides({ trainSamples: 0 }),
    /^Error: trainSamples: must be a positive integer, got 0$/,
  );
  assert.throws(
    () => checkRunShape({ ...fixed, train: { ...fixed.train, trainSamples: 1.5 } }),
    /^Error: train\.trainSamples: must be a positive integer, got 1\.5$/,
  );
});
