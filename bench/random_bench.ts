/**
 * Data-generation throughput: one training step of paper A's setup draws 2048 x 256 = 524,288
 * float32 inputs. Run: deno bench bench/random_bench.ts
 */
import { BatchSource, fillInputs } from "../lib/data/mod.ts";
import { fillNormal } from "../lib/random/bulk.ts";
import { key, normal } from "../lib/random/prng.ts";

const B = 2048, D = 256, SIZE = B * D;
const f32 = new Float32Array(SIZE);
const k = key(1);

Deno.bench(
  "prng.normal (Box-Muller), 524,288 float32",
  { group: "normals", baseline: true },
  () => {
    normal(k, f32);
  },
);

Deno.bench("bulk.fillNormal (ziggurat), 524,288 float32", { group: "normals" }, () => {
  fillNormal(k, f32);
});

Deno.bench("bulk.fillNormal (ziggurat), 524,288 float64", { group: "normals" }, () => {
  fillNormal(k, new Float64Array(SIZE));
});

for (const dist of ["gaussian", "gaussian-scaled", "ball", "circle", "cube"] as const) {
  Deno.bench(`fillInputs ${dist}, [2048, 256] float32`, { group: "inputs" }, () => {
    fillInputs(dist, k, B, D, f32);
  });
}

const src = new BatchSource({ dist: "gaussian", d: D, key: k });
const chunk = new Float32Array(8 * SIZE);
Deno.bench("BatchSource.next(8, 2048), d = 256, reused buffer (per 8 steps)", () => {
  src.next(8, B, { x: chunk });
});
