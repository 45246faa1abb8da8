/**
 * `deno task packing [flags]`: checks Lemma 3.3 (see lib/theory/packing.ts) on a grid of
 * (d, m, k): draws u_j ~ N(0, I_d/(2dk)) and measures max ||u_S||^2 against 1 and
 * min ||u_S - u_S'||^2 / |S delta S'| against 1/(4k). Writes out/packing/packing.csv and
 * out/packing/packing.png. See `--help`.
 */
import { parseArgs } from "node:util";
import { intFlag, listFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { writeCsvAtomic } from "../lib/io/csv.ts";
import { linesPng, type LinesSpec, savePng } from "../lib/plot/mod.ts";
import { foldIn, key } from "../lib/random/prng.ts";
import { constantExperts, packingCheck, type PackingStats } from "../lib/theory/packing.ts";
import { binomial } from "../lib/theory/subsets.ts";

const HELP = `usage: deno task packing [flags]

Lemma 3.3: constant experts u_j ~ N(0, I_d/(2dk)); checks max_S ||u_S||^2 <= 1 and
min_{S != S'} ||u_S - u_S'||^2 / |S delta S'| >= 1/(4k) over k-subsets of the m experts.
Each (d, m, k) with k < m is measured.

  --d LIST        dimensions (default 8,16,32,64,128,256,512,1024)
  --m LIST        numbers of experts (default 8,16,32)
  --k LIST        active experts (default 1,2,4,8)
  --budget N      candidates per quantity and stratum before sampling + local search instead
                  of exhaustive enumeration (default 20000)
  --seed N        (default 0)
  --out DIR       output directory (default out/packing)`;

/** What the packing CLI runs. */
export interface PackingArgs {
  ds: number[];
  ms: number[];
  ks: number[];
  budget: number;
  seed: number;
  out: string;
}

const int = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : NaN);

function checkList(name: string, xs: number[], lo: number, hi = Infinity): void {
  for (const x of xs) {
    if (!Number.isInteger(x) || x < lo || x > hi) {
      throw new UsageError(
        `--${name}: each must be an integer in ${lo}..${hi === Infinity ? "" : hi}, got ${x}`,
      );
    }
  }
}

/** Parses the packing flags; `null` means --help. Bad input throws a one-line UsageError. */
export function parsePackingArgs(args: string[]): PackingArgs | null {
  const { values: v, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      d: { type: "string" },
      m: { type: "string" },
      k: { type: "string" },
      budget: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (v.help) return null;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const a: PackingArgs = {
    ds: listFlag("d", v.d, int, "integers >= 1") ?? [8, 16, 32, 64, 128, 256, 512, 1024],
    ms: listFlag("m", v.m, int, "integers in 2..62") ?? [8, 16, 32],
    ks: listFlag("k", v.k, int, "integers >= 1") ?? [1, 2, 4, 8],
    budget: intFlag("budget", v.budget, 1) ?? 20000,
    seed: intFlag("seed", v.seed, 0) ?? 0,
    out: (v.out ?? "out/packing").replace(/\/+$/, "") || "/",
  };
  checkList("d", a.ds, 1, 1 << 20);
  checkList("m", a.ms, 2, 62);
  checkList("k", a.ks, 1);
  if (!a.ms.some((m) => a.ks.some((k) => k < m))) {
    throw new UsageError("--k: no (m, k) pair with k < m; give some k smaller than some m");
  }
  return a;
}

/** One row of packing.csv. */
export interface PackingRow extends PackingStats {
  d: number;
  C_mk: string;
  bound_norm: number;
  holds_norm: boolean;
  bound_ratio: number;
  holds_ratio: boolean | null;
  /** d / (k ln m): the lemma needs d > C k log m. */
  d_over_k_ln_m: number;
}

export const PACKING_COLUMNS: (keyof PackingRow)[] = [
  "d",
  "m",
  "k",
  "C_mk",
  "subsets_checked",
  "norm_search",
  "max_norm_sq",
  "mean_norm_sq",
  "bound_norm",
  "holds_norm",
  "pairs_checked",
  "ratio_search",
  "min_ratio",
  "min_ratio_sym_diff",
  "bound_ratio",
  "holds_ratio",
  "d_over_k_ln_m",
];

/** Runs the grid (every (d, m, k) with k < m), rows ordered by m, k, then d. */
export function runPacking(a: Omit<PackingArgs, "out">): PackingRow[] {
  const rows: PackingRow[] = [];
  const root = key(a.seed);
  const sorted = (xs: number[]) => [...new Set(xs)].sort((x, y) => x - y);
  for (const m of sorted(a.ms)) {
    for (const k of sorted(a.ks).filter((k) => k < m)) {
      for (const d of sorted(a.ds)) {
        const tag = `d${d}-m${m}-k${k}`;
        const u = constantExperts(foldIn(root, `experts-${tag}`), d, m, k);
        const s = packingCheck(u, k, { budget: a.budget, key: foldIn(root, `search-${tag}`) });
        rows.push({
          d,
          C_mk: binomial(m, k).toString(),
          ...s,
          bound_norm: 1,
          holds_norm: s.max_norm_sq <= 1,
          bound_ratio: 1 / (4 * k),
          holds_ratio: s.min_ratio === null ? null : s.min_ratio >= 1 / (4 * k),
          d_over_k_ln_m: d / (k * Math.log(m)),
        });
      }
    }
  }
  return rows;
}

async function main(): Promise<number> {
  const a = parsePackingArgs(Deno.args);
  if (!a) {
    console.log(HELP);
    return 0;
  }
  const t0 = performance.now();
  const rows = runPacking(a);
  console.log("    d   m   k  max|u_S|^2 (<=1)   4k*min ratio (>=1)  search");
  for (const r of rows) {
    const sep = r.min_ratio === null ? "-" : (4 * r.k * r.min_ratio).toFixed(3);
    console.log(
      `${String(r.d).padStart(5)} ${String(r.m).padStart(3)} ${String(r.k).padStart(3)}  ` +
        `${r.max_norm_sq.toFixed(3).padStart(9)} ${r.holds_norm ? "ok  " : "FAIL"}    ` +
        `${sep.padStart(9)} ${r.holds_ratio === false ? "FAIL" : "ok  "}      ` +
        `${r.norm_search}/${r.ratio_search}`,
    );
  }
  const csv = `${a.out}/packing.csv`;
  await writeCsvAtomic(csv, rows as unknown as Record<string, unknown>[], PACKING_COLUMNS);
  const groups = new Map<string, PackingRow[]>();
  for (const r of rows) {
    const label = `m=${r.m}, k=${r.k}`;
    groups.set(label, [...(groups.get(label) ?? []), r]);
  }
  /** One line per (m, k): `y` of its rows against d. */
  const seriesOverD = (y: (r: PackingRow) => number | null) =>
    [...groups].map(([label, rs]) => ({ label, points: rs.map((r) => ({ x: r.d, y: y(r) })) }));
  /** Writes a line plot to `file` in the output folder; returns its path. */
  const plot = async (file: string, spec: LinesSpec) => {
    const path = `${a.out}/${file}`;
    await savePng(path, linesPng(spec));
    return path;
  };
  const png = await plot("packing.png", {
    title: "Lemma 3.3: 4k * min |u_S - u_S'|^2 / |S delta S'| (holds where >= 1)",
    xLabel: "dimension d",
    yLabel: "separation / bound",
    series: seriesOverD(
      (r) => r.min_ratio === null || r.min_ratio <= 0 ? null : 4 * r.k * r.min_ratio,
    ),
    logX: true,
    logY: true,
  });
  const png2 = await plot("packing_norm.png", {
    title: "Lemma 3.3: max_S |u_S|^2 (holds where <= 1)",
    xLabel: "dimension d",
    yLabel: "max squared norm",
    series: seriesOverD((r) => r.max_norm_sq),
    logX: true,
  });
  const fails = rows.filter((r) => !r.holds_norm || r.holds_ratio === false);
  console.error(
    `packing: ${rows.length} cells, ${fails.length} with a violated bound, ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s\n${csv}\n${png}\n${png2}`,
  );
  return 0;
}

if (import.meta.main) await runMain("packing", main);
