import { Graph } from "../lib/graph/builder.ts";
import { prepareRun } from "../lib/experiments/executor.ts";
import { moeSpec } from "../lib/experiments/paper_a.ts";
import type { RunConfig } from "../lib/sweep/types.ts";
const orig = Graph.prototype.loop;
let body: Graph | undefined;
Graph.prototype.loop = function (this: Graph, ...a: Parameters<typeof orig>) {
  const r = orig.apply(this, a);
  const n = this.nodes[this.nodes.length - 1];
  body = n.attrs.get("body")!.value as Graph;
  return r;
};
const [m, k, strat, tstrat] = Deno.args;
const cfg: RunConfig = {
  experiment: "bench",
  scale: "custom",
  seed: 0,
  dtype: "float32",
  input: { dist: "gaussian", d: 256 },
  target: {
    kind: "teacher",
    teacher: moeSpec(16, 8, 256, 256, false, (tstrat ?? "auto") as "auto"),
    seed: 0,
    init: "torch",
  },
  model: {
    kind: "moe",
    layer: moeSpec(Number(m), Number(k), 320, 256, false, strat as "auto"),
    init: "torch",
  },
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
const run = await prepareRun(cfg, { threads: 2 });
for (const n of body!.nodes) {
  const sh = (v: { name: string; shape?: unknown } | undefined) =>
    v ? `${v.name}${JSON.stringify(v.shape ?? "?")}` : "-";
  const attrs = [...n.attrs].filter(([k]) => k !== "body").map(([k, v]) =>
    `${k}=${
      JSON.stringify((v as { value: unknown }).value, (_k, x) =>
        typeof x === "bigint" ? Number(x) : x)
    }`
  ).join(" ");
  console.log(
    `${n.opType.padEnd(16)} ${n.outputs.map(sh).join(",")} <- ${
      n.inputs.map(sh).join(", ")
    } ${attrs}`,
  );
}
await run.release();
