/**
 * Which region U_S an input falls in, computed as an ONNX graph on onnxruntime: scores
 * s = x @ W (+ b), S = TopK(s, kMax) indices, then the canonical key of every prefix of the
 * sorted top-kMax list: keys[:, k-1] = sum of 2^j over the top-k experts j (Gather from a table
 * of powers of two, CumSum along the list). The top-k set is the first k entries of the sorted
 * top-kMax list, so one graph serves every k <= kMax. Ties go to the lower expert index (ONNX
 * TopK), as in the MoE layer itself.
 */
import { Graph } from "../graph/builder.ts";
import type { FloatDType } from "../graph/dtype.ts";
import { tensor } from "../graph/tensor.ts";
import { encodeModel } from "../graph/encode.ts";
import { Session } from "../runtime/session.ts";
import { checkRouter, type Router } from "./routers.ts";

/**
 * The key graph of `router`: input `x` [batch, d] of `dtype`; outputs `keys` [batch, kMax] int64
 * (column k-1: bitmask key of the top-k set) and `indices` [batch, kMax] int64 (TopK order).
 */
export function regionKeyGraph(router: Router, kMax: number, dtype: FloatDType = "float32"): Graph {
  checkRouter(router);
  if (!Number.isInteger(kMax) || kMax < 1 || kMax > router.m) {
    throw new Error(`kMax: must be an integer between 1 and m (=${router.m}), got ${kMax}`);
  }
  const g = new Graph("region_keys");
  const { op } = g;
  const x = g.input("x", dtype, ["batch", router.d]);
  const w = g.initializer("router.weight", tensor(dtype, [router.d, router.m], router.weight));
  let scores = op.MatMul(x, w);
  if (router.bias) {
    scores = op.Add(scores, g.initializer("router.bias", tensor(dtype, [router.m], router.bias)));
  }
  const [, indices] = op.TopK(scores, kMax, { axis: -1, largest: 1, sorted: 1 });
  const pow2 = g.initializer(
    "pow2",
    tensor("int64", [router.m], Array.from({ length: router.m }, (_, j) => 1n << BigInt(j))),
  );
  const keys = op.CumSum(op.Gather(pow2, indices, { axis: 0 }), 1);
  g.output(keys, "keys");
  g.output(indices, "indices");
  return g;
}

/** Options of `RegionKeys.create`. */
export interface RegionKeysOptions {
  /** Graph and input dtype (default float32). */
  dtype?: FloatDType;
  /** onnxruntime intra-op threads (0 = one per physical core). */
  threads?: number;
}

/** A compiled key graph: feeds rows of inputs, returns their region keys. */
export class RegionKeys {
  private constructor(
    private readonly session: Session,
    readonly router: Router,
    readonly kMax: number,
    readonly dtype: FloatDType,
  ) {}

  /** Compiles the key program of `router` for top-k up to kMax. */
  static async create(
    router: Router,
    kMax: number,
    opts: RegionKeysOptions = {},
  ): Promise<RegionKeys> {
    const dtype = opts.dtype ?? "float32";
    const g = regionKeyGraph(router, kMax, dtype);
    const session = await Session.create(encodeModel(g), { threads: opts.threads ?? 0 });
    return new RegionKeys(session, router, kMax, dtype);
  }

  /**
   * Keys and TopK indices of `n` inputs (row-major [n, d] in `x`, whose array type must match
   * the dtype): both [n, kMax] row-major int64.
   */
  async run(x: Float32Array | Float64Array, n: number): Promise<{
    keys: BigInt64Array;
    indices: BigInt64Array;
  }> {
    const want = this.dtype === "float32" ? Float32Array : Float64Array;
    if (!(x instanceof want)) {
      throw new Error(`x: must be a ${want.name} for a ${this.dtype} graph`);
    }
    if (x.length !== n * this.router.d) {
      throw new Error(`x: must hold n*d = ${n * this.router.d} values, got ${x.length}`);
    }
    const out = await this.session.run({ x: tensor(this.dtype, [n, this.router.d], x) });
    return {
      keys: out.keys.data as BigInt64Array,
      indices: out.indices.data as BigInt64Array,
    };
  }

  /** Releases the onnxruntime session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
