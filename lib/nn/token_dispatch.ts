/**
 * The tile layout of token-choice sparse dispatch (sparse.ts): the N = B*k (token, expert)
 * assignments are sorted by expert (TopK on the unique int64 key expert*N + assignment, a
 * stable sort) and laid out in tiles of T rows, each tile owned by one expert: an expert with
 * load c gets ceil(c / T) tiles, unused rows read token 0 with gate 0. All sizes come from the
 * actual loads, so nothing is ever dropped. T is chosen in the graph, per step, from the loads:
 * small tiles waste fewer padded rows, large ones gather fewer per-tile weight copies (see
 * tileCost); under any routing, even a collapsed router, the chosen layout costs at most what
 * T = 8 would (N + 8m rows). Per-tile weight gradients are summed into their experts by a
 * gather into [m, most tiles of one expert] cells and a sum over them, in tile order, so
 * gradients are exact and bit-reproducible with any thread count. Index arithmetic is int64.
 */
import type { Graph, Value } from "../graph/builder.ts";
import { type HostTensor, tensor } from "../graph/tensor.ts";
import { buildTarget } from "../graph/target.ts";
import type { MoeLayerSpec } from "./config.ts";
import type { Dispatch } from "./sparse.ts";
import type { TokenChoiceRoute } from "./gates.ts";

/**
 * Candidate tile heights: multiples of 8 up to 256, then coarser steps up to 4096. The plan
 * picks, from the actual loads, the one with the least estimated cost (tileCost).
 */
export const TILE_ROWS: readonly number[] = [
  ...Array.from({ length: 32 }, (_, i) => 8 * (i + 1)),
  ...Array.from({ length: 24 }, (_, i) => 256 + 32 * (i + 1)),
  ...Array.from({ length: 24 }, (_, i) => 1024 + 128 * (i + 1)),
];

/**
 * Cost weights (FLOP-equivalents on onnxruntime CPU) of the tile layout: each row, padding
 * included, costs its share of the forward and backward matmuls, 6 w (dIn + dOut + w (depth-1)),
 * plus its row gathers; each tile gathers and scatters one copy of its expert's weights, about
 * 72 per weight; the weight-gradient sums gather and reduce m * (most tiles of one expert)
 * cells of weights, about 36 per weight. The plan minimizes
 * rows * perRow + tiles * perTile + cells * perCell over TILE_ROWS.
 */
export function tileCost(
  s: MoeLayerSpec,
): { perRow: number; perTile: number; perCell: number } {
  const wide = s.dIn + s.dOut + s.w * (s.depth - 1);
  return {
    perRow: 6 * s.w * wide + 24 * (s.dIn + s.dOut),
    perTile: 72 * s.w * wide,
    perCell: 36 * s.w * wide,
  };
}

const i64 = (v: number): HostTensor => tensor("int64", [1], [v]);

interface Plan {
  /** [N]: the slot holding assignment a = token * k + rank. */
  slotOf: Value;
  /**
   * [slots]: the token of each slot; token 0 for empty slots, whose gate is 0: their hidden
   * units, outputs and gradients are exactly zero (see sparseExperts), so no zero row is needed.
   */
  slotToken: Value;
  /** [slots]: the assignment of each slot; N for empty slots. */
  slotAssign: Value;
  /** [tiles]: the expert owning each tile. */
  tileExpert: Value;
  /** [1]: number of tiles, the extra empty one included. */
  nTiles: Value;
  /** [m * R]: for expert e and rank r < R (the most tiles of one expert), its r-th tile or the empty one. */
  cellTile: Value;
}

/**
 * Each assignment's rank among the assignments of its expert (in assignment order), [N]. With
 * few experts an exclusive CumSum over the [B, m] selection mask; with many, a stable sort
 * (TopK on the unique keys expert*N + a), whose cost does not grow with m.
 */
function ranks(g: Graph, s: MoeLayerSpec, indices: Value, expertOf: Value, n: Value): Value {
  const { op } = g;
  const { m, k } = s;
  if (m <= 2 * k * 14) {
    const shape = op.Concat([op.Shape(indices, { start: 0, end: 1 }), i64(m)], { axis: 0 });
    const mask = op.ScatterElements(
      op.ConstantOfShape(shape, i64(0)),
      indices,
      op.ConstantOfShape(op.Shape(indices), i64(1)),
      { axis: 1 },
    ); // [B, m]: 1 where token b chose expert e (a token's k experts are distinct)
    const before = op.CumSum(mask, 0, { exclusive: 1 });
    return op.Reshape(op.GatherElements(before, indices, { axis: 1 }), [-1]);
  }
  const ar = op.Range(0, n, 1);
  const nVec = op.Shape(expertOf);
  const [, perm] = op.TopK(op.Add(op.Mul(expertOf, n), ar), nVec, {
    axis: 0,
    largest: 0,
    sorted: 1,
  });
  const sortedExpert = op.Gather(expertOf, perm);
  const counts = expertLoads(g, m, expertOf, nVec);
  const start = op.CumSum(counts, 0, { exclusive: 1 });
  const rankSorted = op.Sub(ar, op.Gather(start, sortedExpert));
  return op.ScatterElements(op.ConstantOfShape(nVec, i64(0)), perm, rankSorted, { axis: 0 });
}

/**
 * [m]: how many assignments chose each expert. A ScatterElements "add" of ones on the CPU; for
 * CUDA, whose ScatterElements reduces int64 as double bit patterns through atomics
 * (lib/cuda/kernels.ts), a sum of the [N, m] match mask (the same integers).
 */
function expertLoads(g: Graph, m: number, expertOf: Value, nVec: Value): Value {
  const { op } = g;
  if (buildTarget() === "cuda") {
    const experts = g.constant(tensor("int64", [1, m], [...Array(m).keys()]));
    const hit = op.Cast(op.Equal(op.Unsqueeze(expertOf, [1]), experts), "int64"); // [N, m]
    return op.ReduceSum(hit, [0], { keepdims: 0 });
  }
  return op.ScatterElements(
    tensor("int64", [m]),
    expertOf,
    op.ConstantOfShape(nVec, i64(1)),
    { axis: 0, reduction: "add" },
  );
}

function plan(g: Graph, s: MoeLayerSpec, indices: Value): Plan {
  const { op } = g;
  const { m, k } = s;
  const expertOf = op.Reshape(indices, [-1]); // [N]; assignment a = token * k + rank
  const nVec = op.Shape(expertOf); // [1] = N
  const n = op.Squeeze(nVec, [0]);
  const counts = expertLoads(g, m, expertOf, nVec); // [m] loads
  // The tile height: the candidate with the least estimated cost for these loads.
  const cands = g.constant(tensor("int64", [TILE_ROWS.length, 1], TILE_ROWS));
  const tilesKm = op.Div(op.Add(op.Unsqueeze(counts, [0]), op.Sub(cands, 1)), cands); // [K, m]
  const perCand = op.ReduceSum(tilesKm, [1], { keepdims: 1 }); // [K, 1] tiles for each candidate
  // The weight-gradient sums use m * (most tiles of one expert) cells (see toExperts).
  const cells = op.Mul(op.ReduceMax(tilesKm, { axes: [1], keepdims: 1 }), m); // [K, 1]
  const { perRow, perTile, perCell } = tileCost(s);
  const cost = op.Add(
    op.Add(op.Mul(op.Mul(perCand, cands), perRow), op.Mul(perCand, perTile)),
    op.Mul(cells, perCell),
  );
  const best = op.ArgMax(op.Neg(op.Cast(cost, "float32")), { axis: 0, keepdims: 1 }); // [1, 1], first minimum
  const t = op.Reshape(op.Gather(cands, op.Reshape(best, [])), []);
  const tiles = op.Div(op.Add(counts, op.Sub(t, 1)), t); // [m] ceil(count / T)
  const tileStart = op.CumSum(tiles, 0, { exclusive: 1 });
  const nTiles = op.ReduceSum(tiles, [0], { keepdims: 1 }); // [1]
  const rank = ranks(g, s, indices, expertOf, n);
  const slotOf = op.Add(op.Mul(op.Gather(tileStart, expertOf), t), rank); // [N]
  // One extra tile past the experts' tiles: all its slots are empty, so its weight-gradient
  // block is exactly zero, the block that cells with no tile read (see `cellTile`).
  const nTilesPad = op.Add(nTiles, 1);
  const nSlots = op.Mul(nTilesPad, t);
  const slotAssign = op.ScatterElements(op.Expand(n, nSlots), slotOf, op.Range(0, n, 1), {
    axis: 0,
  });
  // A tile's first slot is filled (it names the tile's expert), but for the extra tile's.
  const tileExpert = op.Gather(
    op.Concat([expertOf, i64(0)], { axis: 0 }),
    op.Gather(slotAssign, op.Range(0, op.Squeeze(nSlots, [0]), t)),
  );
  // Cell (e, r) of the weight-gradient sums: expert e's r-th tile, or the zero tile.
  const r = op.Unsqueeze(
    op.Range(0, op.Squeeze(op.ReduceMax(tiles, { axes: [0], keepdims: 1 }), [0]), 1),
    [0],
  );
  const cellTile = op.Where(
    op.Less(r, op.Unsqueeze(tiles, [1])),
    op.Add(op.Unsqueeze(tileStart, [1]), r),
    op.Squeeze(nTiles, [0]),
  ); // [m, most tiles of one expert]
  const slotToken = op.Where(op.Less(slotAssign, n), op.Div(slotAssign, k), 0n);
  return {
    slotOf,
    slotToken,
    slotAssign,
    tileExpert,
    nTiles: nTilesPad,
    cellTile: op.Reshape(cellTile, [-1]),
  };
}

/** The tile layout of a token-choice route (see the module doc), as a sparse dispatch. */
export function tokenChoiceDispatch(
  g: Graph,
  s: MoeLayerSpec,
  route: TokenChoiceRoute,
  x: Value,
): Dispatch {
  const { op } = g;
  const { m, k } = s;
  const pl = plan(g, s, route.indices);
  const B = typeof x.shape?.[0] === "number" ? x.shape[0] : -1;
  const buf = (v: Value, d: number) =>
    op.Reshape(v, op.Concat([pl.nTiles, i64(-1), i64(d)], { axis: 0 }));
  return {
    spread: (v, d) => buf(op.Gather(v, pl.slotToken), d),
    combine: (v, d) => {
      const picked = op.Gather(v, pl.slotOf, { axis: 0 }); // [N, d]
      if (k === 1) return B === -1 ? picked : op.Reshape(picked, [B, d]);
      return op.ReduceSum(op.Reshape(picked, [B, k, d]), [1], { keepdims: 0 });
    },
    slotGate: () => {
      const gFlat = op.Concat(
        [op.Reshape(route.gates, [-1]), g.constant(tensor(route.gates.dtype, [1]))],
        { axis: 0 },
      );
      return buf(op.Gather(gFlat, pl.slotAssign), 1);
    },
    perTile: (v) => op.Gather(v, pl.tileExpert, { axis: 0 }),
    toExperts: (v, dims) => {
      // (onnxruntime's ScatterND with reduction "add" updates rows from several threads at
      // once and races on repeated rows, hence the gather into cells and the sum.)
      const cells = op.Gather(v, pl.cellTile, { axis: 0 }); // [m * R, ...dims]
      return op.ReduceSum(op.Reshape(cells, [m, -1, ...dims]), [1], { keepdims: 0 });
    },
    gateGrad: (v, shape) => op.Reshape(op.Gather(op.Reshape(v, [-1]), pl.slotOf), shape),
  };
}
