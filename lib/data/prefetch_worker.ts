/**
 * The worker side of BatchPrefetcher (prefetch.ts): draws chunks of training data off the main
 * thread. Each request names its global step, so the chunk is exactly BatchSource's for it.
 */
import { BatchSource } from "./batches.ts";
import type { PrefetchReply, PrefetchRequest } from "./prefetch.ts";

/** The worker global, typed narrowly (this module is type-checked with the window libs). */
const worker = self as unknown as {
  onmessage: ((e: MessageEvent<PrefetchRequest>) => void) | null;
  postMessage(msg: unknown, opts?: { transfer: Transferable[] }): void;
};

let source: BatchSource<"float32" | "float64"> | undefined;

worker.onmessage = (e: MessageEvent<PrefetchRequest>) => {
  const req = e.data;
  try {
    source ??= new BatchSource(req.options);
    source.seek(req.step);
    const c = source.next(req.nSteps, req.batch);
    const reply: PrefetchReply = { id: req.id, chunk: c };
    const transfer = [c.x.buffer, ...(c.y ? [c.y.buffer] : [])] as ArrayBuffer[];
    worker.postMessage(reply, { transfer });
  } catch (err) {
    worker.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
};
