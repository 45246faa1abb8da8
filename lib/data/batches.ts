/**
 * Deterministic training batches and per-epoch test sets. The data of global step s depends only
 * on (key, s, batch): it is drawn from `stepKey(key, s)` (or, with `trainSamples`, taken from a
 * fixed set in a per-pass order), never from a running stream. So N steps
 * fetched as one [N, B, d] chunk equal N single-step chunks, and a run resumed from a checkpoint
 * at step s sees exactly the data it would have seen.
 */
import type { FloatDType, TypedArrayOf } from "../graph/dtype.ts";
import { foldIn, type Key } from "../random/prng.ts";
import { checkInputDim, fillInputs, type InputDist } from "./inputs.ts";
import { type Target, targetByName } from "./targets.ts";
import { TrainSet } from "./train_set.ts";

/** What to sample: the input distribution in R^d and an optional closed-form target. */
export interface DataSpec {
  /** Input distribution. */
  dist: InputDist;
  /** Input dimension. */
  d: number;
  /**
   * A closed-form target (paper B), by registry name or object; omitted when the target is
   * computed in the graph (a teacher MoE), in which case chunks carry x only.
   */
  target?: Target | string;
}

/** A BatchSource's configuration: the spec, the data key, element type and first step. */
export interface BatchSourceOptions<D extends FloatDType> extends DataSpec {
  /** The run's data key; training and test data are drawn from disjoint children of it. */
  key: Key;
  /** Element type of the chunks. Default "float32". */
  dtype?: D;
  /** The global step the first `next` starts at (a checkpoint's step). Default 0. */
  step?: number;
  /**
   * A fixed training set of this many rows, drawn once and reshuffled every pass
   * (lib/data/train_set.ts). Omitted: fresh rows for every step.
   */
  trainSamples?: number;
}

/** Steps [step, step + nSteps) of training data. */
export interface Chunk<D extends FloatDType> {
  /** Inputs, row-major [nSteps, batch, d]. */
  x: TypedArrayOf<D>;
  /** Closed-form targets, row-major [nSteps, batch, outDim]; absent without a target. */
  y?: TypedArrayOf<D>;
  /** The global step of the chunk's first slice. */
  step: number;
  /** Number of steps in the chunk. */
  nSteps: number;
  /** Rows per step. */
  batch: number;
  /** Dims of `x`: [nSteps, batch, d]. */
  xDims: [number, number, number];
  /** Dims of `y`: [nSteps, batch, outDim]. */
  yDims?: [number, number, number];
}

/** A fixed-size test set: x [n, d] and, with a closed-form target, y [n, outDim]. */
export interface TestSet<D extends FloatDType> {
  /** Inputs, row-major [n, d]. */
  x: TypedArrayOf<D>;
  /** Closed-form targets, row-major [n, outDim]; absent without a target. */
  y?: TypedArrayOf<D>;
  /** Dims of `x`. */
  xDims: [number, number];
  /** Dims of `y`. */
  yDims?: [number, number];
}

/** The key of global training step `step`: foldIn(foldIn(key, "train"), step). */
export function stepKey(key: Key, step: number): Key {
  checkStep("step", step);
  return foldIn(foldIn(key, "train"), step);
}

/** The key of epoch `epoch`'s test set: foldIn(foldIn(key, "test"), epoch). */
export function testKey(key: Key, epoch: number): Key {
  checkStep("epoch", epoch);
  return foldIn(foldIn(key, "test"), epoch);
}

/** foldIn takes labels mod 2^32, so larger step numbers would repeat data. */
function checkStep(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 4294967296) {
    throw new Error(`${field}: must be an integer in [0, 2^32), got ${v}`);
  }
}

function checkPositive(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${field}: must be a positive integer, got ${v}`);
  }
}

function resolveTarget(spec: DataSpec): Target | undefined {
  const t = typeof spec.target === "string" ? targetByName(spec.target) : spec.target;
  if (t && spec.d < t.minDim) {
    throw new Error(`d: target "${t.name}" needs d >= ${t.minDim}, got d = ${spec.d}`);
  }
  return t;
}

function allocate<D extends FloatDType>(dtype: D, n: number): TypedArrayOf<D> {
  return (dtype === "float64" ? new Float64Array(n) : new Float32Array(n)) as TypedArrayOf<D>;
}

function checkDType(dtype: string): void {
  if (dtype !== "float32" && dtype !== "float64") {
    throw new Error(`dtype: unknown "${dtype}"; allowed: float32, float64`);
  }
}

/**
 * Epoch `epoch`'s test set of `n` fresh rows, drawn from `testKey(key, epoch)`: the same rows for
 * the same (spec, key, epoch, n) on every machine, disjoint from the training stream.
 */
export function testSet<D extends FloatDType = "float32">(
  spec: DataSpec,
  key: Key,
  epoch: number,
  n: number,
  dtype: D = "float32" as D,
): TestSet<D> {
  checkDType(dtype);
  const dist = checkInputDim(spec.dist, spec.d);
  const target = resolveTarget(spec);
  checkPositive("n", n);
  const x = allocate(dtype, n * spec.d);
  fillInputs(dist, testKey(key, epoch), n, spec.d, x);
  if (!target) return { x, xDims: [n, spec.d] };
  const y = target.evaluate(x, spec.d) as TypedArrayOf<D>;
  return { x, y, xDims: [n, spec.d], yDims: [n, target.outDim] };
}

/**
 * Training data in chunks of steps. `next(N, B)` returns steps [step, step + N) as [N, B, d]
 * inputs (and [N, B, outDim] closed-form targets) and advances the step counter; slice s of a
 * chunk is `fillInputs(dist, stepKey(key, step + s), B, d)`, whatever the chunking. With
 * `trainSamples` the rows come instead from a fixed set drawn once (lib/data/train_set.ts), still
 * a function of (key, step, B) alone.
 */
export class BatchSource<D extends FloatDType = "float32"> {
  /** Input distribution. */
  readonly dist: InputDist;
  /** Input dimension. */
  readonly d: number;
  /** The closed-form target, if any. */
  readonly target: Target | undefined;
  /** Element type of the chunks. */
  readonly dtype: D;
  /** The run's data key. */
  readonly key: Key;
  /** Rows of the fixed training set, or undefined for fresh rows every step. */
  readonly trainSamples: number | undefined;
  #set: TrainSet<D> | undefined;
  #step: number;

  /** A source starting at `opts.step` (default 0); bad options are one-line errors. */
  constructor(opts: BatchSourceOptions<D>) {
    this.dist = checkInputDim(opts.dist, opts.d);
    this.d = opts.d;
    this.target = resolveTarget(opts);
    this.dtype = opts.dtype ?? ("float32" as D);
    checkDType(this.dtype);
    this.key = opts.key;
    this.trainSamples = opts.trainSamples;
    if (this.trainSamples !== undefined) checkPositive("trainSamples", this.trainSamples);
    this.#step = opts.step ?? 0;
    checkStep("step", this.#step);
  }

  /** The global step the next chunk starts at. */
  get step(): number {
    return this.#step;
  }

  /** Moves the step counter (e.g. to a checkpoint's step). */
  seek(step: number): void {
    checkStep("step", step);
    this.#step = step;
  }

  /**
   * The next `nSteps` steps of `batch` rows each; advances the counter by `nSteps`. Writes into
   * `out.x` / `out.y` when given (lengths nSteps*batch*d and nSteps*batch*outDim), so a trainer
   * can reuse its buffers.
   */
  next(
    nSteps: number,
    batch: number,
    out: { x?: TypedArrayOf<D>; y?: TypedArrayOf<D> } = {},
  ): Chunk<D> {
    checkPositive("nSteps", nSteps);
    checkPositive("batch", batch);
    const step = this.#step;
    checkStep("step", step + nSteps - 1);
    const { d, target } = this;
    const rows = nSteps * batch;
    const x = out.x ?? allocate(this.dtype, rows * d);
    checkBuffer("out.x", x, rows * d, this.dtype);
    const y = target ? out.y ?? allocate(this.dtype, rows * target.outDim) : undefined;
    if (y) checkBuffer("out.y", y, rows * target!.outDim, this.dtype);
    if (this.trainSamples !== undefined) {
      this.#set ??= new TrainSet(this.dist, d, target, this.key, this.trainSamples, this.dtype);
      this.#set.fill(step, nSteps, batch, x, y);
    } else {
      for (let s = 0; s < nSteps; s++) {
        fillInputs(this.dist, stepKey(this.key, step + s), batch, d, x, s * batch * d);
      }
      if (target) target.evaluate(x, d, y);
    }
    this.#step = step + nSteps;
    const xDims: [number, number, number] = [nSteps, batch, d];
    if (!target || !y) return { x, step, nSteps, batch, xDims };
    return { x, y, step, nSteps, batch, xDims, yDims: [nSteps, batch, target.outDim] };
  }

  /** Epoch `epoch`'s test set of `n` rows (see the function `testSet`), in this source's dtype. */
  testSet(epoch: number, n: number): TestSet<D> {
    return testSet(
      { dist: this.dist, d: this.d, target: this.target },
      this.key,
      epoch,
      n,
      this.dtype,
    );
  }
}

function checkBuffer(field: string, a: Float32Array | Float64Array, size: number, dtype: string) {
  const ok = dtype === "float64" ? a instanceof Float64Array : a instanceof Float32Array;
  if (!ok || a.length !== size) {
    throw new Error(
      `${field}: expected a ${dtype} array of length ${size}, got length ${a.length}`,
    );
  }
}
