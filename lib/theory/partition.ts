/**
 * Pictures of a router's input-space partition: every pixel of a square window [-R, R]^2 of a
 * 2-D plane in R^d (x = c + u e1 + v e2, e1 and e2 orthonormal, c orthogonal to both) is coloured
 * by its active expert set S = top-k of the router scores (+ bias). The keys come from the same
 * ONNX key graph as the census (region_keys.ts).
 *
 * Colours: the distinct sets of a picture are put in canonical order (ascending bitmask key, i.e.
 * colex order of the sets) and set number i gets palette colour i, so a picture's colours do not
 * depend on the pixel scan order, and with k = 1 and all experts present expert j gets colour j.
 */
import type { Panel, Rgb } from "../plot/mod.ts";
import { palette } from "../plot/mod.ts";
import { RegionKeys } from "./region_keys.ts";
import { checkRouter, type Router } from "./routers.ts";

/** A square window of a 2-D plane in R^d. */
export interface Slice {
  /** Ambient dimension. */
  d: number;
  /** Orthonormal directions of the plane's u and v axes (length d each). */
  e1: Float64Array;
  /** Direction of the v axis (length d). */
  e2: Float64Array;
  /** The window's centre (length d, orthogonal to e1 and e2); default the origin. */
  center?: Float64Array;
  /** Half-width R of the window [-R, R]^2 in plane coordinates. */
  range: number;
  /** Pixels per side. */
  size: number;
}

/**
 * Plane coordinates (u, v) of pixel (col, row): pixel centres, row 0 at the top (v = +R), column
 * 0 at the left (u = -R).
 */
export function pixelCoords(
  slice: Pick<Slice, "range" | "size">,
  col: number,
  row: number,
): { u: number; v: number } {
  const step = (2 * slice.range) / slice.size;
  return { u: -slice.range + (col + 0.5) * step, v: slice.range - (row + 0.5) * step };
}

function checkSlice(s: Slice): void {
  if (!Number.isInteger(s.size) || s.size < 1 || s.size > 4096) {
    throw new Error(`size: must be an integer in 1..4096, got ${s.size}`);
  }
  if (!(s.range > 0) || !Number.isFinite(s.range)) {
    throw new Error(`range: must be a positive number, got ${s.range}`);
  }
  for (const [name, v] of [["e1", s.e1], ["e2", s.e2], ["center", s.center]] as const) {
    if (v && v.length !== s.d) throw new Error(`${name}: must have length d = ${s.d}`);
  }
}

/** The inputs of every pixel, row-major [size * size, d], pixel (col, row) at row * size + col. */
export function slicePoints(s: Slice): Float64Array {
  checkSlice(s);
  const n = s.size * s.size;
  const x = new Float64Array(n * s.d);
  for (let row = 0; row < s.size; row++) {
    for (let col = 0; col < s.size; col++) {
      const { u, v } = pixelCoords(s, col, row);
      const o = (row * s.size + col) * s.d;
      for (let i = 0; i < s.d; i++) x[o + i] = (s.center?.[i] ?? 0) + u * s.e1[i] + v * s.e2[i];
    }
  }
  return x;
}

/** The active set of every pixel of a slice. */
export interface PartitionMap {
  /** Pixels per side. */
  size: number;
  /** Bitmask key of the top-k set per pixel, row-major, top row first. */
  keys: BigInt64Array;
  /** The distinct keys, ascending (the canonical order that indexes the palette). */
  sets: bigint[];
}

/** Routes every pixel of `slice` through `router` (top-k, float64 graph on onnxruntime). */
export async function partitionMap(
  router: Router,
  k: number,
  slice: Slice,
  opts: { threads?: number } = {},
): Promise<PartitionMap> {
  checkRouter(router);
  if (router.d !== slice.d) {
    throw new Error(`slice.d: must equal the router's input dimension ${router.d}, got ${slice.d}`);
  }
  const x = slicePoints(slice);
  const n = slice.size * slice.size;
  const rk = await RegionKeys.create(router, k, { dtype: "float64", threads: opts.threads });
  try {
    const { keys: all } = await rk.run(x, n);
    const keys = new BigInt64Array(n);
    for (let p = 0; p < n; p++) keys[p] = all[p * k + k - 1];
    const sets = [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { size: slice.size, keys, sets };
  } finally {
    await rk.release();
  }
}

/**
 * RGB pixels of a partition map: set i of `map.sets` gets palette colour i. With `edges`, pixels
 * whose right or lower neighbour has another set are drawn dark, outlining the regions.
 */
export function partitionRgb(map: PartitionMap, edges = false): Uint8Array {
  const colours: Rgb[] = palette(map.sets.length);
  const index = new Map(map.sets.map((s, i) => [s, i]));
  const n = map.size;
  const rgb = new Uint8Array(n * n * 3);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      const p = row * n + col;
      const key = map.keys[p];
      const edge = edges &&
        ((col + 1 < n && map.keys[p + 1] !== key) || (row + 1 < n && map.keys[p + n] !== key));
      const c: Rgb = edge ? [40, 40, 40] : colours[index.get(key)!];
      rgb.set(c, p * 3);
    }
  }
  return rgb;
}

/** A titled panel for sideBySidePng: `<label>: <N> regions`. */
export function partitionPanel(map: PartitionMap, label: string, edges = false): Panel {
  const n = map.sets.length;
  return {
    title: `${label}: ${n} region${n === 1 ? "" : "s"}`,
    width: map.size,
    height: map.size,
    rgb: partitionRgb(map, edges),
  };
}
