import * as ort from "onnxruntime-node";
import process from "node:process";
import { Graph } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
const g = new Graph("m");
const a = g.input("a", "float32", [64]);
const big = g.input("big", "float32", [512, 512]);
const [out, o2] = g.loop(200, [a, big], (body, _i, [x, bb]) => {
  let y = x;
  for (let i = 0; i < 50; i++) y = body.op.Mul(body.op.Add(y, 1), 0.5);
  return { carried: [y, body.op.MatMul(bb, bb)] };
});
g.output(out, "o");
g.output(o2, "o2");
for (const spin of ["1", "0", "1", "0"]) {
  const s = await ort.InferenceSession.create(encodeModel(g), {
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: spin } } },
  });
  const feeds = {
    a: new ort.Tensor("float32", new Float32Array(64), [64]),
    big: new ort.Tensor("float32", new Float32Array(512 * 512).fill(0.001), [512, 512]),
  };
  await s.run(feeds);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await s.run(feeds);
  const c1 = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  console.log(
    `spin=${spin} wall ${wall.toFixed(1)} ms cpu ${((c1.user + c1.system) / 1000).toFixed(1)} ms`,
  );
}
