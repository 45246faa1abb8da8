import { prepareRun } from "../lib/experiments/executor.ts";
import { moeSpec } from "../lib/experiments/paper_a.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

function cfg(m: number, k: number, strategy: "dense" | "sparse" | "auto"): RunConfig {
  return {
    experiment: "bench",
    scale: "custom",
    seed: 0,
    dtype: "float32",
    input: { dist: "gaussian", d: 256 },
    target: {
      kind: "teacher",
      teacher: moeSpec(16, 8, 256, 256, false, "auto"),
      seed: 0,
      init: "torch",
    },
    model: { kind: "moe", layer: { ...moeSpec(m, k, 320, 256, false, strategy) }, init: "torch" },
    train: {
      optimizer: "adamw",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.01,
      schedule: "cosine-epoch",
      warmupSteps: 0,
      epochs: 100,
      samplesPerEpoch: 2 ** 18,
      batch: 2048,
      testSamples: 4096,
    },
    labels: {},
  };
}
const [m, k, strat, nArg, prof] = Deno.args;
const n = Number(nArg ?? 8);
const run = await prepareRun(
  cfg(Number(m), Number(k), strat as "dense"),
  { threads: 2, ...(prof ? { profilePrefix: prof } : {}) } as never,
);
console.log("strategy", run.strategy, "chunk", run.chunk);
await run.trainer.run(n, run.nextBatch(n));
const times: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  const b = run.nextBatch(n);
  const t1 = performance.now();
  await run.trainer.run(n, b);
  const t2 = performance.now();
  times.push((t2 - t0) / n);
  console.log(
    `data ${((t1 - t0) / n).toFixed(2)} ms/step, run ${((t2 - t1) / n).toFixed(2)} ms/step -> ${
      (1000 * n / (t2 - t0)).toFixed(2)
    } steps/s`,
  );
}
times.sort((a, b) => a - b);
console.log("median steps/s", (1000 / times[2]).toFixed(2));
if (prof) run.trainer.endProfiling();
await run.release();
