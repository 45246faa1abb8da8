import assert from "node:assert/strict";
import { OPS } from "../lib/graph/ops.ts";
import { ONNX_DTYPE } from "../lib/graph/dtype.ts";
import { Graph } from "../lib/graph/builder.ts";
import { grad } from "../lib/autodiff/grad.ts";
import { GradError } from "../lib/autodiff/errors.ts";

/** A slot that can hold a float (a type variable, "*", or a dtype taken from an attribute). */
const canBeFloat = (slot: string) => {
  const base = slot.replace(/\.\.\.$|\?$/, "");
  return !(base in ONNX_DTYPE) || base === "float32" || base === "float64";
};

Deno.test("every float op is differentiable or says why not", () => {
  const undecided: string[] = [];
  for (const [name, d] of Object.entries(OPS)) {
    const float = d.inputs.some(canBeFloat) && d.outputs.some(canBeFloat);
    if (d.grad && d.noGrad) assert.fail(`${name}: has a rule and a reason for having none`);
    if (!float) {
      assert.equal(d.grad, undefined, `${name}: a rule on an op without float inputs and outputs`);
    } else if (!d.grad && !d.noGrad) undecided.push(name);
  }
  assert.deepEqual(undecided, [], `neither a rule nor noGrad: ${undecided.join(", ")}`);
});

Deno.test("unbroadcast names existing inputs only", () => {
  for (const [name, d] of Object.entries(OPS)) {
    if (Array.isArray(d.unbroadcast)) {
      const n = d.inputs.length;
      for (const i of d.unbroadcast) assert.ok(i < n, `${name}: unbroadcast input ${i} of ${n}`);
    }
  }
});

/** The gradient of sum(-x) over x: float64[3] with Neg's rule replaced by `rule` meanwhile. */
function gradWithNegRule(rule: NonNullable<typeof OPS.Neg.grad>): () => unknown {
  return () => {
    const right = OPS.Neg.grad;
    OPS.Neg.grad = rule;
    try {
      const g = new Graph("t");
      const x = g.input("x", "float64", [3]);
      return grad(g, g.op.ReduceSum(g.op.Neg(x), undefined, { keepdims: 0 }), [x]);
    } finally {
      OPS.Neg.grad = right;
    }
  };
}

Deno.test("a rule returning more gradients than inputs is a GradError naming the node", () => {
  assert.throws(
    gradWithNegRule((_c, _n, [gy]) => [gy, gy]),
    (e: Error) =>
      e instanceof GradError &&
      /node Neg \(Neg\): its rule returned 2 gradients for 1 inputs/.test(e.message),
  );
});

Deno.test("a rule returning a gradient of the wrong shape is a GradError naming the input", () => {
  assert.throws(
    gradWithNegRule((c, _n, [gy]) => [c.op.ReduceSum(gy!, [0], { keepdims: 1 })]),
    /node Neg \(Neg\): the gradient of input 0 \('x': float64\[3\]\) has shape \[1\]/,
  );
});

Deno.test("an op without a rule says why in the autodiff's error", () => {
  const g = new Graph("t");
  const x = g.input("x", "float64", [3]);
  const loss = g.op.ReduceSum(g.op.Floor(x), undefined, { keepdims: 0 });
  assert.throws(
    () => grad(g, loss, [x]),
    (e: Error) =>
      e instanceof GradError &&
      /no gradient rule for op 'Floor' \(zero almost everywhere/.test(e.message) &&
      e.message.endsWith("\n  Floor: Floor(x: float64[3]) -> Floor_1: float64[3]"),
  );
});
