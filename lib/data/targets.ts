/**
 * Closed-form regression targets of paper B (arXiv 2505.24205), evaluated host-side on input
 * rows [n, d]. Teacher-MoE targets (paper A) are computed in the ONNX graph elsewhere.
 */
import type { FloatArray } from "../random/bulk.ts";

/** A closed-form target y = f(x), one output row of `outDim` values per input row. */
export interface Target {
  /** The registry name, e.g. "sincos". */
  readonly name: string;
  /** Output values per row. */
  readonly outDim: number;
  /** The smallest input dimension the target is defined for (it reads coordinates below it). */
  readonly minDim: number;
  /** The formula with every constant, for an experiment's description. */
  describe(): string;
  /**
   * y = f(x) for the rows of `x` (row-major [n, d], n = x.length / d), written to `out` (length
   * n * outDim, row-major [n, outDim]) or to a new array of x's type. Computed in float64 from
   * the stored x values, so a float32 target is f(the float32 inputs the model sees), rounded.
   */
  evaluate<T extends FloatArray>(x: T, d: number, out?: T): T;
}

/** Validates (x, d, out) and returns the row count and the output buffer. */
function prepare<T extends FloatArray>(
  t: Target,
  x: T,
  d: number,
  out: T | undefined,
): [number, T] {
  if (!Number.isInteger(d) || d < t.minDim) {
    throw new Error(`d: target "${t.name}" needs an integer d >= ${t.minDim}, got ${d}`);
  }
  if (x.length % d !== 0) {
    throw new Error(`x: length ${x.length} is not a multiple of d = ${d}`);
  }
  const n = x.length / d;
  const size = n * t.outDim;
  const y = out ?? (x instanceof Float64Array ? new Float64Array(size) : new Float32Array(size));
  if (y.length !== size) {
    throw new Error(`out: length ${y.length} is not n * outDim = ${n} * ${t.outDim} = ${size}`);
  }
  return [n, y as T];
}

// ---- Experiment I -------------------------------------------------------------------------------

/** Paper B, Experiment I: f(x) = sin(5 x1) + cos(3 x2), a scalar (x1, x2 the first coordinates). */
export const SINCOS: Target = {
  name: "sincos",
  outDim: 1,
  minDim: 2,
  describe: () => "sincos: f(x) = sin(5 x1) + cos(3 x2) (scalar; x1, x2 the first two coordinates)",
  evaluate<T extends FloatArray>(x: T, d: number, out?: T): T {
    const [n, y] = prepare(SINCOS, x, d, out);
    for (let r = 0; r < n; r++) y[r] = Math.sin(5 * x[r * d]) + Math.cos(3 * x[r * d + 1]);
    return y;
  },
};

// ---- Experiment II ------------------------------------------------------------------------------

/** Two numbers, e.g. the coordinates a target reads. */
export type Pair = readonly [number, number];
/** Three numbers, e.g. the levels of a three-piece function. */
export type Triple = readonly [number, number, number];

/** Sub-function families for the 3 regions of each sub-input. */
export const PIECEWISE9_FAMILIES = ["sine", "affine"] as const;
/** One of PIECEWISE9_FAMILIES. */
export type Piecewise9Family = typeof PIECEWISE9_FAMILIES[number];
/** How the two sub-function values are combined. */
export const PIECEWISE9_COMBINES = ["sum", "product"] as const;
/** One of PIECEWISE9_COMBINES. */
export type Piecewise9Combine = typeof PIECEWISE9_COMBINES[number];

/**
 * Parameters of `piecewise9`; index 0 is sub-input a, index 1 sub-input b. The default bounds
 * split U[-1, 1] into thirds; for inputs whose coordinates are not of that scale (e.g. "ball" or
 * "gaussian-scaled" in R^16, where |x1| is ~0.25) choose bounds that give each region mass.
 */
export interface Piecewise9Params {
  /** Zero-based coordinates of the sub-inputs (a, b). Default [0, 1]: a = x1, b = x2. */
  coords: Pair;
  /** Region boundaries [t1, t2] per sub-input, t1 < t2. Default [-1/3, 1/3] for both. */
  bounds: readonly [Pair, Pair];
  /** Sub-function family. Default "sine". */
  family: Piecewise9Family;
  /** Level L of each region's sub-function. Default [[-1, 1, 0], [0.5, -0.5, 1]]. */
  levels: readonly [Triple, Triple];
  /**
   * Rate w of each region's sub-function. Default for "sine": [[3, 6, 9], [5, 2, 7]]; for
   * "affine": [[1, -2, -1], [-1, 2, 1]] (kept small so values stay of order 1 on [-1, 1]).
   */
  rates: readonly [Triple, Triple];
  /** f_out: "sum" (default) g + h, or "product" g * h. */
  combine: Piecewise9Combine;
  /**
   * When true, `levels[k][0]` is kept and the levels of regions 1 and 2 are derived so that
   * g and h are continuous at the region boundaries (f then has kinks there, no jumps).
   * Default false (the given levels; f jumps at every boundary).
   */
  continuous: boolean;
  /** A factor s on the output: f = s f_out(g, h). Default 1. */
  scale: number;
  /**
   * A step J added to the middle region's level of g and of h (after `continuous`), so each
   * sub-function jumps by +J at t1 and -J at t2. Default 0.
   */
  jump: number;
}

/** The defaults of `Piecewise9Params` (rates for the "sine" family). */
export const PIECEWISE9_DEFAULTS: Piecewise9Params = {
  coords: [0, 1],
  bounds: [[-1 / 3, 1 / 3], [-1 / 3, 1 / 3]],
  family: "sine",
  levels: [[-1, 1, 0], [0.5, -0.5, 1]],
  rates: [[3, 6, 9], [5, 2, 7]],
  combine: "sum",
  continuous: false,
  scale: 1,
  jump: 0,
};
const AFFINE_RATES: readonly [Triple, Triple] = [[1, -2, -1], [-1, 2, 1]];

/** The piecewise target of Experiment II, with its region map and pieces exposed. */
export interface Piecewise9Target extends Target {
  /** The target's parameters. */
  readonly params: Piecewise9Params;
  /** The region (0, 1, 2) of value `t` of sub-input `which` (0 = a, 1 = b). */
  region(t: number, which: 0 | 1): number;
  /** The piece index 3 i + j of each row of `x` ([n, d]): i the region of a, j that of b. */
  cells(x: FloatArray, d: number): Int32Array;
  /** Piece (i, j)'s formula f_out(g_i(a), h_j(b)) evaluated at any (a, b). */
  piece(i: number, j: number, a: number, b: number): number;
}

/**
 * Paper B, Experiment II: a compositional piecewise target with 3^2 = 9 pieces. The seed does not
 * give the exact function; this is the toolkit's definition (all constants are parameters):
 *
 *   f(x) = f_out(g_i(a), h_j(b)),  a = x[coords[0]], b = x[coords[1]],
 *   i = region(a; bounds[0]), j = region(b; bounds[1]),
 *   region(t; [t1, t2]) = 0 if t < t1, 1 if t1 <= t < t2, 2 if t >= t2,
 *   "sine":   g_i(t) = levels[0][i] + sin(rates[0][i] t),  h_j(t) = levels[1][j] + sin(rates[1][j] t)
 *   "affine": g_i(t) = levels[0][i] + rates[0][i] t,      h_j(t) = levels[1][j] + rates[1][j] t
 *   f_out(u, v) = u + v ("sum") or u v ("product").
 *
 * With the defaults, f jumps at every region boundary and each of the 9 pieces is a different
 * smooth function; on (a, b) uniform in [-1, 1]^2 (input "square" or "cube") each piece has mass
 * 1/9 and f has standard deviation ~1.5. The structure suits a depth-2 top-1 MoE with 3 experts per
 * layer: layer 1 routes on the region of a (three parallel slabs, which a linear router can cut)
 * and its experts compute g_i(a); layer 2 routes on the region of b and adds (or multiplies by)
 * h_j(b). A single top-1 MoE layer needs an expert per piece, 9 in all, for the same exactness.
 */
export function piecewise9(
  params: Partial<Piecewise9Params> = {},
  name = "piecewise9",
): Piecewise9Target {
  const family = params.family ?? PIECEWISE9_DEFAULTS.family;
  checkOneOf("piecewise9.family", family, PIECEWISE9_FAMILIES);
  const D = PIECEWISE9_DEFAULTS;
  const given: Piecewise9Params = {
    coords: params.coords ?? D.coords,
    bounds: params.bounds ?? D.bounds,
    family,
    levels: params.levels ?? D.levels,
    rates: params.rates ?? (family === "affine" ? AFFINE_RATES : D.rates),
    combine: params.combine ?? D.combine,
    continuous: params.continuous ?? D.continuous,
    scale: params.scale ?? D.scale,
    jump: params.jump ?? D.jump,
  };
  checkParams(given);
  const base = given.continuous ? continuousLevels(given) : given.levels;
  const J = given.jump;
  const p: Piecewise9Params = J === 0 ? { ...given, levels: base } : {
    ...given,
    levels: [[base[0][0], base[0][1] + J, base[0][2]], [base[1][0], base[1][1] + J, base[1][2]]],
  };
  const [ca, cb] = p.coords;
  const [[a1, a2], [b1, b2]] = p.bounds;
  const [la, lb] = p.levels;
  const [wa, wb] = p.rates;
  const sine = p.family === "sine";
  const sum = p.combine === "sum";
  const scale = p.scale;
  const regionA = (t: number) => (t < a1 ? 0 : t < a2 ? 1 : 2);
  const regionB = (t: number) => (t < b1 ? 0 : t < b2 ? 1 : 2);
  const piece = (i: number, j: number, a: number, b: number): number => {
    const g = la[i] + (sine ? Math.sin(wa[i] * a) : wa[i] * a);
    const h = lb[j] + (sine ? Math.sin(wb[j] * b) : wb[j] * b);
    return scale * (sum ? g + h : g * h);
  };
  const target: Piecewise9Target = {
    name,
    outDim: 1,
    minDim: Math.max(ca, cb) + 1,
    params: p,
    describe: () => describePiecewise9(p, name),
    region: (t, which) => (which === 0 ? regionA(t) : regionB(t)),
    piece,
    cells(x: FloatArray, d: number): Int32Array {
      const [n] = prepare(target, x, d, new Float64Array(x.length / d));
      const c = new Int32Array(n);
      for (let r = 0; r < n; r++) c[r] = 3 * regionA(x[r * d + ca]) + regionB(x[r * d + cb]);
      return c;
    },
    evaluate<T extends FloatArray>(x: T, d: number, out?: T): T {
      const [n, y] = prepare(target, x, d, out);
      for (let r = 0; r < n; r++) {
        const a = x[r * d + ca], b = x[r * d + cb];
        y[r] = piece(regionA(a), regionB(b), a, b);
      }
      return y;
    },
  };
  return target;
}

/** Levels 1 and 2 of each sub-input chosen so that its sub-function is continuous. */
function continuousLevels(p: Piecewise9Params): readonly [Triple, Triple] {
  const s = (w: number, t: number) => (p.family === "sine" ? Math.sin(w * t) : w * t);
  const side = (k: 0 | 1): Triple => {
    const [t1, t2] = p.bounds[k], w = p.rates[k], l0 = p.levels[k][0];
    const l1 = l0 + s(w[0], t1) - s(w[1], t1);
    return [l0, l1, l1 + s(w[1], t2) - s(w[2], t2)];
  };
  return [side(0), side(1)];
}

function checkOneOf(field: string, v: string, allowed: readonly string[]): void {
  if (!allowed.includes(v)) {
    throw new Error(`${field}: unknown value "${v}"; allowed: ${allowed.join(", ")}`);
  }
}

function checkParams(p: Piecewise9Params): void {
  checkOneOf("piecewise9.combine", p.combine, PIECEWISE9_COMBINES);
  if (!Number.isFinite(p.jump)) {
    throw new Error(`piecewise9.jump: must be a finite number, got ${p.jump}`);
  }
  if (!(Number.isFinite(p.scale) && p.scale !== 0)) {
    throw new Error(`piecewise9.scale: must be a finite non-zero number, got ${p.scale}`);
  }
  if (typeof p.continuous !== "boolean") {
    throw new Error(`piecewise9.continuous: must be true or false, got ${String(p.continuous)}`);
  }
  const [ca, cb] = p.coords;
  if (![ca, cb].every((c) => Number.isInteger(c) && c >= 0) || ca === cb) {
    throw new Error(`piecewise9.coords: two distinct non-negative integers, got [${p.coords}]`);
  }
  for (const [t1, t2] of p.bounds) {
    if (!(Number.isFinite(t1) && Number.isFinite(t2) && t1 < t2)) {
      throw new Error(`piecewise9.bounds: each pair needs finite t1 < t2, got [${t1}, ${t2}]`);
    }
  }
  for (const [field, v] of [["levels", p.levels], ["rates", p.rates]] as const) {
    if (v.length !== 2 || !v.every((t) => t.length === 3 && t.every(Number.isFinite))) {
      throw new Error(
        `piecewise9.${field}: two triples of finite numbers, got ${JSON.stringify(v)}`,
      );
    }
  }
}

const fmt = (v: number) => String(Number(v.toPrecision(4)));

function describePiecewise9(p: Piecewise9Params, name: string): string {
  const sub = (k: 0 | 1, fn: string) =>
    [0, 1, 2].map((i) =>
      p.family === "sine"
        ? `${fn}${i}(t) = ${fmt(p.levels[k][i])} + sin(${fmt(p.rates[k][i])} t)`
        : `${fn}${i}(t) = ${fmt(p.levels[k][i])} ${p.rates[k][i] < 0 ? "-" : "+"} ` +
          `${fmt(Math.abs(p.rates[k][i]))} t`
    ).join(", ");
  const reg = (k: 0 | 1) => `[${fmt(p.bounds[k][0])}, ${fmt(p.bounds[k][1])}]`;
  const op = (p.scale === 1 ? "" : `${fmt(p.scale)} (`) +
    (p.combine === "sum" ? "g_i(a) + h_j(b)" : "g_i(a) * h_j(b)") + (p.scale === 1 ? "" : ")");
  const joins = p.continuous && p.jump === 0
    ? "continuous with kinks at region boundaries (levels 1, 2 derived for continuity)"
    : p.continuous
    ? `jumping by ${fmt(p.jump)} (times the other factor) at each region boundary, smooth within`
    : "discontinuous across region boundaries";
  return `${name}: f(x) = ${op}, a = x${p.coords[0] + 1}, b = x${p.coords[1] + 1}; ` +
    `i, j = region of a, b: 0 if t < t1, 1 if t1 <= t < t2, 2 if t >= t2, with [t1, t2] = ` +
    `${reg(0)} for a and ${reg(1)} for b; ${sub(0, "g")}; ${sub(1, "h")}. ` +
    `3 x 3 = 9 pieces (i, j), ${joins}: a 2-layer top-1 MoE ` +
    `with 3 experts per layer can route layer 1 on i and layer 2 on j; one layer needs 9 experts.`;
}

/**
 * Paper B, Experiment II as the toolkit runs it (arXiv 2505.24205 gives no formula): the
 * `piecewise9` family made continuous, f(x) = g_i(a) + h_j(b) with smooth, non-affine pieces
 * sin(w t) of different rates per region and levels derived so that g and h are continuous. f
 * has kinks (no jumps) along the four region boundaries, every piece is curved, so no piece is
 * fitted exactly by a ReLU network: the error measures how well a model learns, not whether it
 * finds an exact representation.
 */
export const COMPOSE9: Piecewise9Target = piecewise9({
  continuous: true,
  levels: [[0, 0, 0], [0, 0, 0]],
  rates: [[2, -3, 4], [-2, 3, 1.5]],
}, "compose9");

// ---- registry -----------------------------------------------------------------------------------

/** The closed-form targets by name, each with its default parameters. */
export const TARGETS: Readonly<Record<string, Target>> = {
  sincos: SINCOS,
  piecewise9: piecewise9(),
  compose9: COMPOSE9,
};

/** The target registered as `name`; throws a one-line error listing the allowed names. */
export function targetByName(name: string): Target {
  const t = Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
  if (!t) {
    throw new Error(`target: unknown "${name}"; allowed: ${Object.keys(TARGETS).join(", ")}`);
  }
  return t;
}
