/**
 * Double-buffered training data: while the caller trains on chunk i (onnxruntime's run() blocks
 * the main thread), a worker already draws chunk i+1. Chunks are BatchSource's, so the data of
 * step s still depends only on (key, s): prefetching changes when it is computed, never what.
 */
import type { FloatDType } from "../graph/dtype.ts";
import type { Key } from "../random/prng.ts";
import { BatchSource, type Chunk } from "./batches.ts";
import type { InputDist } from "./inputs.ts";

/** What a worker needs to rebuild the BatchSource (plain, structured-cloneable data). */
export interface PrefetchOptions<D extends FloatDType> {
  dist: InputDist;
  d: number;
  /** A closed-form target by registry name. */
  target?: string;
  key: Key;
  dtype: D;
  /** A fixed training set of this many rows (BatchSourceOptions.trainSamples). */
  trainSamples?: number;
}

/** A request to the worker: steps [step, step + nSteps) of `batch` rows. */
export interface PrefetchRequest {
  id: number;
  options: PrefetchOptions<FloatDType>;
  step: number;
  nSteps: number;
  batch: number;
}

export type PrefetchReply =
  | { id: number; chunk: Chunk<FloatDType>; error?: undefined }
  | { id: number; error: string; chunk?: undefined };

interface Pending {
  step: number;
  nSteps: number;
  promise: Promise<Chunk<FloatDType>>;
}

/**
 * Draws `BatchSource` chunks of `batch` rows in a worker, one chunk ahead. `next(n)` returns
 * steps [step, step + n) and starts drawing the following n steps; a request that does not
 * match the prefetched chunk (another size, or after `seek`) is drawn on demand, so the result
 * is always BatchSource's. `close()` ends the worker.
 */
export class BatchPrefetcher<D extends FloatDType> {
  readonly #options: PrefetchOptions<D>;
  readonly #batch: number;
  #worker: Worker | undefined;
  #step: number;
  #ahead: Pending | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, (r: PrefetchReply) => void>();

  constructor(options: PrefetchOptions<D>, batch: number, step = 0) {
    // Validates the options here, on the main thread, with BatchSource's one-line errors.
    new BatchSource(options).seek(step);
    this.#options = options;
    this.#batch = batch;
    this.#step = step;
  }

  /** The global step the next chunk starts at. */
  get step(): number {
    return this.#step;
  }

  /** Moves to `step` (e.g. a checkpoint's); a prefetched chunk for another step is dropped. */
  seek(step: number): void {
    new BatchSource(this.#options).seek(step);
    this.#step = step;
  }

  /** Steps [step, step + nSteps): resolves when drawn; then draws the following nSteps. */
  async next(nSteps: number): Promise<Chunk<D>> {
    const step = this.#step;
    const hit = this.#ahead && this.#ahead.step === step && this.#ahead.nSteps === nSteps;
    const chunk = hit ? this.#ahead!.promise : this.#request(step, nSteps);
    this.#ahead = undefined;
    this.#step = step + nSteps;
    const out = await chunk;
    this.#ahead = {
      step: this.#step,
      nSteps,
      promise: this.#request(this.#step, nSteps),
    };
    // An unawaited prefetch that fails (e.g. past the last valid step) must not go unhandled.
    this.#ahead.promise.catch(() => {});
    return out as Chunk<D>;
  }

  #request(step: number, nSteps: number): Promise<Chunk<FloatDType>> {
    this.#worker ??= this.#start();
    const id = this.#nextId++;
    const req: PrefetchRequest = { id, options: this.#options, step, nSteps, batch: this.#batch };
    return new Promise((resolve, reject) => {
      this.#waiting.set(
        id,
        (r) => (r.error === undefined ? resolve(r.chunk) : reject(new Error(r.error))),
      );
      this.#worker!.postMessage(req);
    });
  }

  #start(): Worker {
    const w = new Worker(new URL("./prefetch_worker.ts", import.meta.url).href, { type: "module" });
    w.onmessage = (e: MessageEvent<PrefetchReply>) => {
      const done = this.#waiting.get(e.data.id);
      this.#waiting.delete(e.data.id);
      done?.(e.data);
    };
    w.onerror = (e) => {
      e.preventDefault();
      for (const done of this.#waiting.values()) {
        done({ id: -1, error: `data worker: ${e.message}` });
      }
      this.#waiting.clear();
    };
    return w;
  }

  /** Ends the worker; pending requests are rejected. */
  close(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const done of this.#waiting.values()) done({ id: -1, error: "data worker closed" });
    this.#waiting.clear();
    this.#ahead = undefined;
  }
}
