/**
 * `deno task census [flags]`: the region census of Lemma 3.2 (see lib/theory/census.ts). Writes
 * out/census/census.csv, a histogram of region masses per --hist cell, the per-region counts of
 * those cells, and two line plots against d (fraction of regions with mass >= 1/(2C), and the
 * collision ratio). See `--help`.
 */
import { parseArgs } from "node:util";
import { intFlag, listFlag, runMain, UsageError } from "../lib/cli/args.ts";
import { writeCsvAtomic } from "../lib/io/csv.ts";
import {
  histogramPng,
  type LineSeries,
  linesPng,
  type LinesSpec,
  savePng,
} from "../lib/plot/mod.ts";
import {
  CENSUS_COLUMNS,
  type CensusOptions,
  type CensusRow,
  checkCensusOptions,
  RESOLVE_FACTOR,
  runCensus,
} from "../lib/theory/census.ts";
import { binomial, formatSet } from "../lib/theory/subsets.ts";

const HELP = `usage: deno task census [flags]

Monte-Carlo census of the regions U_S of Gaussian routers r_1..r_m ~ N(0, I_d), inputs
x ~ N(0, I_d) (Lemma 3.2). Every (d, m, k) with k < m is measured.

  --d LIST        input dimensions (default 2,4,8,16,32,64,128)
  --m LIST        numbers of experts, 2..62 (default 8,16,32)
  --k LIST        active experts (default 1,2,4,8)
  --samples N     Monte-Carlo inputs per d (default 1048576); per-region masses are reported
                  only where C(m,k) <= samples/${RESOLVE_FACTOR}
  --seed N        routers and inputs (default 0)
  --hist LIST     cells to draw a mass histogram for, as d:m:k (default 4:16:4,64:16:4)
  --threads N     onnxruntime intra-op threads (default: one per physical core)
  --out DIR       output directory (default out/census)`;

/** What the census CLI runs. */
export interface CensusArgs {
  census: Omit<CensusOptions, "keep" | "onRow">;
  hist: { d: number; m: number; k: number }[];
  out: string;
}

const int = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : NaN);

/** Parses the census flags; `null` means --help. Bad input throws a one-line UsageError. */
export function parseCensusArgs(args: string[]): CensusArgs | null {
  const { values: v, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      d: { type: "string" },
      m: { type: "string" },
      k: { type: "string" },
      samples: { type: "string" },
      seed: { type: "string" },
      hist: { type: "string" },
      threads: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (v.help) return null;
  const s = v;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const census = {
    ds: listFlag("d", s.d, int, "integers >= 1") ?? [2, 4, 8, 16, 32, 64, 128],
    ms: listFlag("m", s.m, int, "integers in 2..62") ?? [8, 16, 32],
    ks: listFlag("k", s.k, int, "integers >= 1") ?? [1, 2, 4, 8],
    samples: intFlag("samples", s.samples, 2) ?? 1 << 20,
    seed: intFlag("seed", s.seed, 0) ?? 0,
    threads: intFlag("threads", s.threads, 0),
  };
  try {
    checkCensusOptions(census);
  } catch (e) {
    throw new UsageError(`--${(e as Error).message}`);
  }
  const hist = (listFlag("hist", s.hist, String, "d:m:k cells") ?? ["4:16:4", "64:16:4"]).map(
    (cell) => {
      const p = cell.split(":").map(int);
      if (p.length !== 3 || p.some((x) => !Number.isInteger(x))) {
        throw new UsageError(`--hist: cells must look like d:m:k (e.g. 8:16:4), got '${cell}'`);
      }
      return { d: p[0], m: p[1], k: p[2] };
    },
  );
  // Default cells outside a custom grid are dropped quietly; explicit ones must be in it.
  const inGrid = (c: { d: number; m: number; k: number }) =>
    census.ds.includes(c.d) && census.ms.includes(c.m) && census.ks.includes(c.k) && c.k < c.m;
  if (s.hist !== undefined) {
    const bad = hist.find((c) => !inGrid(c));
    if (bad) {
      throw new UsageError(
        `--hist: cell ${bad.d}:${bad.m}:${bad.k} is not in the grid (--d, --m, --k, with k < m)`,
      );
    }
  }
  return {
    census,
    hist: hist.filter(inGrid),
    out: (s.out ?? "out/census").replace(/\/+$/, "") || "/",
  };
}

function fmt(x: number | null, digits = 3): string {
  return x === null ? "-" : x.toPrecision(digits);
}

function seriesBy(
  rows: CensusRow[],
  y: (r: CensusRow) => number | null,
  x: (r: CensusRow) => number = (r) => r.d,
): LineSeries[] {
  const groups = new Map<string, CensusRow[]>();
  for (const r of rows) {
    const label = `m=${r.m}, k=${r.k}`;
    groups.set(label, [...(groups.get(label) ?? []), r]);
  }
  return [...groups].map(([label, rs]) => ({
    label,
    points: rs.map((r) => ({ x: x(r), y: y(r) })),
  }));
}

async function main(): Promise<number> {
  const a = parseCensusArgs(Deno.args);
  if (!a) {
    console.log(HELP);
    return 0;
  }
  const { census: c, out } = a;
  const t0 = performance.now();
  console.error(
    `census: d ${c.ds.join(",")} x m ${c.ms.join(",")} x k ${c.ks.join(",")}, ` +
      `${c.samples} samples, seed ${c.seed}`,
  );
  console.log("    d   m   k       C(m,k)    hit  exp.hit  frac>=1/2C  coll.ratio  note");
  const res = await runCensus({
    ...c,
    keep: (d, m, k) => a.hist.some((h) => h.d === d && h.m === m && h.k === k),
    onRow: (r) =>
      console.log(
        `${String(r.d).padStart(5)} ${String(r.m).padStart(3)} ${String(r.k).padStart(3)} ` +
          `${r.C_mk.padStart(12)} ${String(r.regions_hit).padStart(6)} ` +
          `${fmt(r.expected_hit_if_uniform, 4).padStart(8)} ` +
          `${fmt(r.frac_regions_ge_half_uniform).padStart(11)} ` +
          `${fmt(r.collision_ratio).padStart(11)}  ${r.resolvable ? "" : "not resolvable"}`,
      ),
  });
  const paths: string[] = [];
  /** Writes a line plot to `file` in the output folder and lists its path. */
  const plot = async (file: string, spec: LinesSpec) => {
    const path = `${out}/${file}`;
    await savePng(path, linesPng(spec));
    paths.push(path);
  };
  const csv = `${out}/census.csv`;
  await writeCsvAtomic(csv, res.rows as unknown as Record<string, unknown>[], CENSUS_COLUMNS);
  paths.push(csv);

  await plot("census_frac_vs_d.png", {
    title: "Regions with mass >= 1/(2 C(m,k)), Gaussian router (Lemma 3.2)",
    xLabel: "input dimension d",
    yLabel: "fraction of all C(m,k) regions",
    series: seriesBy(res.rows, (r) => r.frac_regions_ge_half_uniform),
    logX: true,
  });
  // The lemma's condition is d > C k (log m)^2: on this axis the curves should roughly collapse.
  await plot("census_frac_vs_scaled_d.png", {
    title: "The same against d / (k (ln m)^2)",
    xLabel: "d / (k (ln m)^2)",
    yLabel: "fraction of all C(m,k) regions",
    series: seriesBy(res.rows, (r) => r.frac_regions_ge_half_uniform, (r) => r.d_over_k_log2m_sq),
    logX: true,
  });
  await plot("census_collision_vs_d.png", {
    title: "Collision ratio C(m,k) * sum_S mu(U_S)^2 (1 = equal masses)",
    xLabel: "input dimension d",
    yLabel: "collision ratio",
    series: seriesBy(res.rows, (r) => r.collision_ratio),
    logX: true,
    logY: true,
  });

  for (const h of a.hist) {
    const regions = res.regions.get(`${h.d},${h.m},${h.k}`);
    const row = res.rows.find((r) => r.d === h.d && r.m === h.m && r.k === h.k);
    if (!regions || !row) continue;
    const cBig = binomial(h.m, h.k);
    const cNum = Number(cBig);
    const n = row.samples;
    const tag = `d${h.d}_m${h.m}_k${h.k}`;
    const table = `${out}/census_regions_${tag}.csv`;
    await writeCsvAtomic(
      table,
      regions.map(([kk, cnt]) => ({ set: formatSet(kk), key: kk, count: cnt, mass: cnt / n })),
      ["set", "key", "count", "mass"],
    );
    paths.push(table);
    // Unvisited regions enter as mass 0 (counted, not drawn, on the log axis) when C is small
    // enough to list them; otherwise only the visited ones are drawn.
    const masses = regions.map(([, cnt]) => cnt / n);
    if (row.resolvable) { for (let i = regions.length; i < cNum; i++) masses.push(0); }
    const png = `${out}/census_hist_${tag}.png`;
    await savePng(
      png,
      histogramPng({
        title: `Region masses, d=${h.d}, m=${h.m}, k=${h.k}: ${row.regions_hit} of C=${cBig} ` +
          `regions hit, ${n} samples${row.resolvable ? "" : " (masses not resolvable)"}`,
        values: masses,
        logX: true,
        xLabel: "estimated region mass mu(U_S)",
        yLabel: "regions",
        refLines: [{ x: 1 / (2 * cNum), label: "1/(2C)" }],
      }),
    );
    paths.push(png);
  }
  console.error(`census: ${((performance.now() - t0) / 1000).toFixed(1)} s\n${paths.join("\n")}`);
  return 0;
}

if (import.meta.main) await runMain("census", main);
