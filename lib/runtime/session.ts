/**
 * onnxruntime sessions: execution provider choice (CPU by default, CUDA opt-in with a clear
 * error when its libraries are missing, never a silent fallback), threads and graph
 * optimization level, and conversion between HostTensor and ort.Tensor.
 */
import * as ort from "onnxruntime-node";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import type { HostTensor } from "../graph/tensor.ts";
import type { DType } from "../graph/dtype.ts";
import { checkCudaModel } from "../cuda/gate.ts";

/** The execution providers a session can run on. */
export const EXECUTION_PROVIDERS = ["cpu", "cuda"] as const;
/** One of EXECUTION_PROVIDERS. */
export type ExecutionProvider = typeof EXECUTION_PROVIDERS[number];
/** onnxruntime's graph optimization levels. */
export const OPT_LEVELS = ["disabled", "basic", "extended", "all"] as const;
/** One of OPT_LEVELS. */
export type OptLevel = typeof OPT_LEVELS[number];

/** How a session is created: provider, threads, optimization level, profiling. */
export interface SessionOptions {
  /** "cpu" (default) or "cuda". */
  ep?: ExecutionProvider;
  /** Intra-op threads; 0 lets onnxruntime choose (one per physical core). */
  threads?: number;
  /** Graph optimization level (default all). */
  optLevel?: OptLevel;
  /** When set, onnxruntime writes a JSON profile with this file prefix. */
  profilePrefix?: string;
  /**
   * With ep "cuda": compile even when the CUDA audit finds nodes that would run on the CPU
   * (nondeterministic kernels are refused regardless).
   */
  allowCpuFallback?: boolean;
  /**
   * Whether idle intra-op threads busy-wait for work (onnxruntime's default: true). Off, they
   * sleep: the other core stays free for host work (data generation) and for other processes.
   */
  spinning?: boolean;
}

const ORT_DTYPE: Record<DType, ort.Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  bool: "bool",
  uint64: "uint64",
};

export function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_DTYPE[t.dtype], t.data as never, t.dims as number[]);
}

export function fromOrt(t: ort.Tensor): HostTensor {
  const dtype = t.type as DType;
  if (!(dtype in ORT_DTYPE)) throw new Error(`unsupported output type ${t.type}`);
  const data = dtype === "bool" ? Uint8Array.from(t.data as ArrayLike<number>) : t.data;
  return { dtype, dims: [...t.dims], data: data as HostTensor["data"] };
}

/** Where onnxruntime-node keeps its native libraries. */
function ortBinDir(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const pkg = req.resolve("onnxruntime-node/package.json");
    return join(dirname(pkg), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return undefined;
  }
}

export class ExecutionProviderError extends Error {
  override name = "ExecutionProviderError";
}

/** Throws unless the chosen execution provider can actually run here. */
export function checkExecutionProvider(ep: string): asserts ep is ExecutionProvider {
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) {
    throw new ExecutionProviderError(
      `ep: unknown execution provider '${ep}' (allowed: ${EXECUTION_PROVIDERS.join(", ")})`,
    );
  }
  if (ep === "cuda") {
    const dir = ortBinDir();
    const lib = dir && join(dir, "libonnxruntime_providers_cuda.so");
    if (!lib || !existsSync(lib)) {
      throw new ExecutionProviderError(
        `ep: cuda requested but onnxruntime-node's CUDA libraries are not installed (${
          lib ?? "onnxruntime-node not found"
        } is missing). ` +
          "On a machine with an NVIDIA GPU and CUDA 12 run: ONNXRUNTIME_NODE_INSTALL=cuda12 deno install --allow-scripts=npm:onnxruntime-node",
      );
    }
  }
}

/** A model handed to Session.create while `captureModels` runs. */
export interface CapturedModel {
  model: Uint8Array;
  ep: ExecutionProvider;
}

let capture: CapturedModel[] | undefined;

/**
 * Runs `build` with Session.create compiling nothing: each model goes to the returned list and
 * the sessions it returns cannot run. For static checks of every program a run would build
 * (lib/cuda/programs.ts). Not reentrant.
 */
export async function captureModels(build: () => Promise<unknown>): Promise<CapturedModel[]> {
  if (capture) throw new Error("captureModels: already capturing");
  const got: CapturedModel[] = [];
  capture = got;
  try {
    await build();
  } finally {
    capture = undefined;
  }
  return got;
}

/** A compiled onnxruntime session over HostTensors. */
export class Session {
  private constructor(
    private readonly inner: ort.InferenceSession | undefined,
    readonly ep: ExecutionProvider,
  ) {}

  /** Opens a session for an encoded ONNX model. */
  static async create(model: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const ep = opts.ep ?? "cpu";
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) checkExecutionProvider(ep);
    if (capture) {
      capture.push({ model, ep });
      return new Session(undefined, ep);
    }
    // The static CUDA audit first (lib/cuda/gate.ts): it needs no GPU.
    if (ep === "cuda") checkCudaModel(model, opts.allowCpuFallback);
    checkExecutionProvider(ep);
    const optLevel = opts.optLevel ?? "all";
    if (!(OPT_LEVELS as readonly string[]).includes(optLevel)) {
      throw new Error(`optLevel: unknown level '${optLevel}' (allowed: ${OPT_LEVELS.join(", ")})`);
    }
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: [ep],
      graphOptimizationLevel: optLevel,
      intraOpNumThreads: opts.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: "sequential",
      enableProfiling: opts.profilePrefix !== undefined,
      profileFilePrefix: opts.profilePrefix,
      logSeverityLevel: 3,
      ...(opts.spinning === undefined
        ? {}
        : { extra: { session: { intra_op: { allow_spinning: opts.spinning ? "1" : "0" } } } }),
    };
    const inner = await ort.InferenceSession.create(model, so);
    return new Session(inner, ep);
  }

  /** The open onnxruntime session; throws after `release`. */
  private get live(): ort.InferenceSession {
    if (!this.inner) throw new Error("session: a captured model cannot run");
    return this.inner;
  }

  /** The model's input names. */
  get inputNames(): readonly string[] {
    return this.live.inputNames;
  }
  /** The model's output names. */
  get outputNames(): readonly string[] {
    return this.live.outputNames;
  }

  /** Runs the model on `feeds`; returns the requested outputs (all by default). */
  async run(
    feeds: Record<string, HostTensor>,
    fetches?: readonly string[],
  ): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const res = fetches
      ? await this.live.run(ortFeeds, fetches as string[])
      : await this.live.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrt(v);
    return out;
  }

  /** Writes the onnxruntime profile (sessions created with `profilePrefix`). */
  endProfiling(): void {
    this.live.endProfiling();
  }

  /** Releases the onnxruntime session; the session cannot run after this. */
  async release(): Promise<void> {
    await this.inner?.release();
  }
}
