import process from "node:process";
import { Graph, type Value } from "../lib/graph/builder.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { Session } from "../lib/runtime/session.ts";

type Build = (g: Graph, a: Value, b: Value) => Value;
export async function time(name: string, shape: number[], f: Build, iters = 50, shapeB = shape) {
  const g = new Graph("m");
  const a = g.input("a", "float32", shape);
  const b = g.input("b", "float32", shapeB);
  const [out] = g.loop(iters, [a], (body, _i, [x]) => ({ carried: [f(body, x, b)] }));
  g.output(out, "o");
  const s = await Session.create(encodeModel(g), { threads: 2, spinning: false });
  const n = shape.reduce((p, d) => p * d, 1);
  const nb = shapeB.reduce((p, d) => p * d, 1);
  const A = tensor("float32", shape, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
  const B = tensor("float32", shapeB, Float32Array.from({ length: nb }, (_, i) => Math.cos(i)));
  await s.run({ a: A, b: B });
  const ts: number[] = [], cs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await s.run({ a: A, b: B });
    ts.push((performance.now() - t0) / iters);
    const c = process.cpuUsage(c0);
    cs.push((c.user + c.system) / 1000 / iters);
  }
  ts.sort((x, y) => x - y);
  cs.sort((x, y) => x - y);
  console.log(
    `${name.padEnd(40)} wall ${ts[3].toFixed(3)} ms (min ${ts[0].toFixed(3)})  cpu ${
      cs[3].toFixed(3)
    } ms`,
  );
  await s.release();
}
const S = [2048, 640];
const which = Deno.args[0] ?? "relu";
if (which === "relu") {
  await time("add only (baseline)", S, (g, a, b) => g.op.Add(a, b));
  await time("where(greater(a,0), b, 0)", S, (g, a, b) => g.op.Where(g.op.Greater(a, 0), b, 0));
  await time("greater(a,0)->where(c,a,b)", S, (g, a, b) => g.op.Where(g.op.Greater(a, 0), a, b));
  await time("mul(b, sign(a))", S, (g, a, b) => g.op.Mul(b, g.op.Sign(g.op.Relu(a))));
  await time(
    "mul(b, cast(greater(a,0)))",
    S,
    (g, a, b) => g.op.Mul(b, g.op.Cast(g.op.Greater(a, 0), "float32")),
  );
  await time(
    "ceil(clip(a,0,1))*b",
    S,
    (g, a, b) =>
      g.op.Mul(b, g.op.Ceil(g.op.Clip(a, g.literal(0, "float32"), g.literal(1, "float32")))),
  );
  await time("mul(a,b)", S, (g, a, b) => g.op.Mul(a, b));
  await time("relu(a)", S, (g, a, _b) => g.op.Relu(a));
  await time("sign(a)", S, (g, a, _b) => g.op.Sign(a));
  await time("ceil(a)", S, (g, a, _b) => g.op.Ceil(a));
  await time(
    "clip(a,0,1)",
    S,
    (g, a, _b) => g.op.Clip(a, g.literal(0, "float32"), g.literal(1, "float32")),
  );
  await time(
    "greater(a,0)->not->not->where",
    S,
    (g, a, b) => g.op.Where(g.op.Not(g.op.Not(g.op.Greater(a, 0))), a, b),
  );
  await time("reducesum(a,[0]) + b", S, (g, a, b) => g.op.Add(b, g.op.ReduceSum(a, [0], 1)));
  await time("mul(a, scalar)", S, (g, a, _b) => g.op.Mul(a, 0.5));
}
