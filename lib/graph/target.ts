/**
 * The execution provider a graph is being built for. Model code reads it to pick formulations
 * that are deterministic on that provider: onnxruntime's CUDA kernels apply ScatterElements /
 * ScatterND reductions through atomics (see lib/cuda/kernels.ts), its CPU kernels in index
 * order. CPU graphs never change with it. Set for the duration of one synchronous build.
 */
export type BuildTarget = "cpu" | "cuda";

let current: BuildTarget = "cpu";

/** Runs the synchronous `build` with `target` as the build target. */
export function buildingFor<T>(target: BuildTarget, build: () => T): T {
  const prev = current;
  current = target;
  try {
    return build();
  } finally {
    current = prev;
  }
}

/** The build target of the graph under construction ("cpu" outside `buildingFor`). */
export function buildTarget(): BuildTarget {
  return current;
}
