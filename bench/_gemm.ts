import { time } from "./_micro.ts";
const B = 2048, D = 256, H = 640;
const fl = (m: number, n: number, k: number) => 2 * m * n * k / 1e6;
const rep = async (
  name: string,
  flops: number,
  shapeA: number[],
  shapeB: number[],
  f: Parameters<typeof time>[2],
) => {
  console.log(`-- ${name}: ${flops.toFixed(0)} MFLOP`);
  await time(name, shapeA, f, 20, shapeB);
};
await rep(
  "peak 2048^3",
  fl(2048, 2048, 2048),
  [2048, 2048],
  [2048, 2048],
  (g, a, b) => g.op.Mul(g.op.MatMul(a, b), 1e-3),
);
await rep(
  "fwd x@W1 [2048,256]x[256,640]",
  fl(B, H, D),
  [B, D],
  [D, H],
  (g, a, b) => g.op.Slice(g.op.MatMul(a, b), [0], [D], [1]),
);
await rep(
  "fwd2 h@W2 [2048,640]x[640,256]",
  fl(B, D, H),
  [B, H],
  [H, D],
  (g, a, b) =>
    g.op.Concat([g.op.MatMul(a, b), g.op.MatMul(a, b), g.op.Slice(a, [0], [128], [1])], 1),
);
await rep(
  "dW2 hg^T dy [640,2048]x[2048,256]",
  fl(H, D, B),
  [B, H],
  [B, D],
  (g, a, b) => g.op.Add(a, g.op.ReduceSum(g.op.Gemm(a, b, undefined, { transA: 1 }), [1], 0)),
);
await rep(
  "dW1 x^T dpre [256,2048]x[2048,640]",
  fl(D, H, B),
  [B, D],
  [B, H],
  (g, a, b) => g.op.Add(a, g.op.ReduceSum(g.op.Gemm(a, b, undefined, { transA: 1 }), [1], 1)),
);
await rep(
  "dhg dy W2^T [2048,256]x[256,640]",
  fl(B, H, D),
  [B, D],
  [H, D],
  (g, a, b) => g.op.Slice(g.op.Gemm(a, b, undefined, { transB: 1 }), [0], [D], [1]),
);
await rep(
  "peak 2048^3",
  fl(2048, 2048, 2048),
  [2048, 2048],
  [2048, 2048],
  (g, a, b) => g.op.Mul(g.op.MatMul(a, b), 1e-3),
);
