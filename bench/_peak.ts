import { Graph } from "../lib/graph/builder.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { Session } from "../lib/runtime/session.ts";
const n = Number(Deno.args[0] ?? 2048);
const g = new Graph("peak");
const a = g.input("a", "float32", [n, n]);
const b = g.input("b", "float32", [n, n]);
g.output(g.op.MatMul(a, b), "c");
const s = await Session.create(encodeModel(g), { threads: Number(Deno.args[1] ?? 2) });
const A = tensor("float32", [n, n], new Float32Array(n * n).fill(1));
await s.run({ a: A, b: A });
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await s.run({ a: A, b: A });
  const dt = (performance.now() - t0) / 1000;
  console.log((2 * n ** 3 / dt / 1e9).toFixed(1), "GFLOP/s");
}
