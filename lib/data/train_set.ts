/**
 * A fixed finite training set: `n` rows drawn once from the run's data key and visited in
 * passes, each pass in its own random order. Global training row i = s * B + b (step s, row b)
 * lies in pass p = floor(i / n) at position q = i mod n and is the set's row perm_p[q], where
 * perm_p is a Fisher-Yates shuffle drawn from `foldIn(foldIn(key, "train-shuffle"), p)`. So the
 * data of step s still depends only on (key, s, B), whatever the chunking; with n equal to the
 * samples per epoch, every epoch is one pass over the same rows in a fresh order.
 */
import { allocate, type FloatDType, type TypedArrayOf } from "../graph/dtype.ts";
import { BulkRng } from "../random/bulk.ts";
import { foldIn, type Key } from "../random/prng.ts";
import { fillInputs, type InputDist } from "./inputs.ts";
import type { Target } from "./targets.ts";

/** The key the set's rows are drawn from: foldIn(key, "train-set"), apart from the fresh stream. */
export function trainSetKey(key: Key): Key {
  return foldIn(key, "train-set");
}

/** The order of pass `pass` over `n` rows: a Fisher-Yates shuffle of 0..n-1. */
export function passOrder(key: Key, pass: number, n: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const rng = new BulkRng(foldIn(foldIn(key, "train-shuffle"), pass));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** A run's fixed training set and its per-pass orders (see the module doc). */
export class TrainSet<D extends FloatDType> {
  /** Rows in the set. */
  readonly n: number;
  /** The set's inputs, row-major [n, d]. */
  readonly x: TypedArrayOf<D>;
  /** The set's closed-form targets, row-major [n, outDim]; absent without a target. */
  readonly y: TypedArrayOf<D> | undefined;
  readonly #d: number;
  readonly #outDim: number;
  readonly #key: Key;
  /** The most recently used pass orders (a chunk spans at most a few passes). */
  readonly #orders = new Map<number, Uint32Array>();

  /** Draws the `n` rows of `dist` in R^d from `trainSetKey(key)` and evaluates the target. */
  constructor(
    dist: InputDist,
    d: number,
    target: Target | undefined,
    key: Key,
    n: number,
    dtype: D,
  ) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`trainSamples: must be a positive integer, got ${n}`);
    }
    this.n = n;
    this.#d = d;
    this.#key = key;
    this.x = allocate(dtype, n * d) as TypedArrayOf<D>;
    fillInputs(dist, trainSetKey(key), n, d, this.x);
    this.y = target ? target.evaluate(this.x, d) as TypedArrayOf<D> : undefined;
    this.#outDim = target?.outDim ?? 0;
  }

  #order(pass: number): Uint32Array {
    let o = this.#orders.get(pass);
    if (!o) {
      if (this.#orders.size >= 4) this.#orders.delete(this.#orders.keys().next().value!);
      o = passOrder(this.#key, pass, this.n);
      this.#orders.set(pass, o);
    }
    return o;
  }

  /**
   * Writes steps [step, step + nSteps) of `batch` rows each into `x` ([nSteps * batch, d]) and,
   * with a target, `y` ([nSteps * batch, outDim]).
   */
  fill(step: number, nSteps: number, batch: number, x: TypedArrayOf<D>, y?: TypedArrayOf<D>) {
    const d = this.#d, o = this.#outDim, n = this.n;
    const first = step * batch;
    for (let r = 0; r < nSteps * batch; r++) {
      const i = first + r;
      const src = this.#order(Math.floor(i / n))[i % n];
      x.set(this.x.subarray(src * d, src * d + d), r * d);
      if (y && this.y) y.set(this.y.subarray(src * o, src * o + o), r * o);
    }
  }
}
