/**
 * The benchmark's accounting: useful FLOPs against a hand count, and the floor program
 * (bench/floor.ts) on a small config.
 */
import assert from "node:assert/strict";
import { floorShape, measureFloor } from "../bench/floor.ts";
import { usefulStepFlops } from "../bench/flops.ts";
import { paperA } from "../bench/throughput.ts";
import { moeSpec } from "../lib/experiments/paper_a.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

Deno.test("useful FLOPs of a 16e8a step: teacher forward, student forward, backward without dx", () => {
  const B = 2048, d = 256;
  const teacher = 2 * B * d * 16 + 2 * B * 8 * 32 * (2 * d); // router + 8 active experts, w = 32
  const routerFwd = 2 * B * d * 16;
  const expertMatmul = 2 * B * 8 * 40 * d; // one of the two expert matmuls (w = 40)
  // Forward: router + 2 expert matmuls; backward: router dW; W2: dW and dh; W1: dW only.
  const student = routerFwd * 2 + expertMatmul * (2 + 3);
  assert.equal(usefulStepFlops(paperA(16, 8, "auto")), teacher + student);
});

Deno.test("floorShape: paper-A configs only, with their batch, dims and (m, k, w)", () => {
  assert.deepEqual(floorShape(paperA(64, 8, "auto")), {
    batch: 2048,
    d: 256,
    student: { m: 64, k: 8, w: 40 },
    teacher: { m: 16, k: 8, w: 32 },
  });
  const deep = resolvePreset("paperB-exp2", "quick", { widths: [16], lrs: [1e-3] }).runs[0];
  assert.equal(floorShape(deep), undefined);
});

Deno.test("measureFloor runs its three programs on a small config", async () => {
  const small: RunConfig = {
    ...paperA(4, 2, "auto"),
    input: { dist: "gaussian", d: 16 },
    target: {
      kind: "teacher",
      teacher: moeSpec(4, 2, 8, 16, false, "auto"),
      seed: 0,
      init: "torch",
    },
    model: { kind: "moe", layer: moeSpec(4, 2, 8, 16, false, "auto"), init: "torch" },
  };
  small.train = { ...small.train, batch: 64 };
  const f = await measureFloor(small, 2, 1, 1);
  assert.ok(f);
  for (const ms of [f.ms, f.adamwMs, f.gemmMs]) assert.ok(Number.isFinite(ms) && ms > 0, `${ms}`);
});
