/**
 * The reproduction report of an experiment: per cell, our number (mean, min and max over the
 * cell's seeds, each seed's number being its best learning rate as in best.csv), the paper's
 * (published.ts) and their ratio (errors) or difference (normalized losses). A row combines only
 * the seeds of one configuration: the runs are first reduced to best.csv's cells (bestTable),
 * then grouped by that same cell key with the seed left out. Cells the paper does not print
 * keep the paper columns blank; cells the paper prints that the sweep did not run appear with
 * our columns blank.
 */
import { writeFileAtomic } from "../io/atomic.ts";
import { writeCsvAtomic } from "../io/csv.ts";
import { bestTable, cellKey, compareCells, type Table } from "../sweep/tables.ts";
import type { RunRecord } from "../sweep/types.ts";
import { type Published, publishedFor } from "./published.ts";

/** The columns of reproduction.csv after the cell's label keys. */
export const REPRODUCTION_COLUMNS = [
  "metric",
  "n_seeds",
  "ours",
  "ours_min",
  "ours_max",
  "paper",
  "ratio",
  "difference",
  "agrees",
  "source",
  "note",
] as const;

/** One row of the report (label values by key, then REPRODUCTION_COLUMNS). */
export type ReproductionRow = Record<string, string | number | undefined>;

/** The report of one experiment directory, with what it was compared against. */
export interface Reproduction {
  /** Preset the sweep was based on (selects the published values). */
  base: string;
  published: Published | undefined;
  /** The cell's label keys (the first columns). */
  keys: string[];
  table: Table;
}

/** The metric compared when the paper prints nothing for a preset. */
export function defaultMetric(figure: string): "score" | "min_test_loss" {
  return figure === "heatmap" || figure === "size-lines" || figure === "family-lines"
    ? "score"
    : "min_test_loss";
}

function sameCell(labels: Record<string, unknown>, cell: Record<string, string | number>) {
  return Object.entries(cell).every(([k, v]) => String(labels[k]) === String(v));
}

/**
 * Builds the report from run records of one experiment: `base` selects the published values,
 * `figure` the metric when there are none. Diverged runs count only where every lr of a seed
 * diverged; such a seed's number is NaN and makes the row's `ours` blank.
 */
export function reproductionTable(
  records: RunRecord[],
  base: string,
  figure: string,
): Reproduction {
  const published = publishedFor(base);
  const metric = published?.metric ?? defaultMetric(figure);
  const byId = new Map(records.map((r) => [r.run_id, r]));
  const groups = new Map<string, RunRecord[]>();
  for (const row of bestTable(records).rows) {
    const r = byId.get(row.run_id as string)!;
    const key = cellKey({ ...r.config, seed: 0 });
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const labelKeys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.config.labels)) labelKeys.add(k);
  const first = published?.keys ?? [];
  // Label keys named like a report column (e.g. "ratio") are left out: the column wins.
  const reserved: readonly string[] = REPRODUCTION_COLUMNS;
  const keys = [
    ...first,
    ...[...labelKeys].filter((k) => !first.includes(k) && !reserved.includes(k)).sort(),
  ];

  const used = new Set<number>();
  const rows: ReproductionRow[] = [];
  for (const runs of groups.values()) {
    const labels = runs[0].config.labels;
    const values = runs.map((r) => r.result.status === "ok" ? r.result[metric] : NaN);
    const ok = values.every(Number.isFinite);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const at = published?.cells.findIndex((c) => sameCell(labels, c.cell)) ?? -1;
    if (at >= 0) used.add(at);
    const cell = at >= 0 ? published!.cells[at] : undefined;
    rows.push({
      ...Object.fromEntries(keys.map((k) => [k, labels[k]])),
      ...compare(published, cell?.value ?? null, ok ? mean : undefined),
      metric,
      n_seeds: runs.length,
      ours_min: ok ? Math.min(...values) : undefined,
      ours_max: ok ? Math.max(...values) : undefined,
      source: cell ? published!.source : undefined,
      note: [cell?.note, ok ? undefined : "a seed diverged"].filter(Boolean).join("; ") ||
        undefined,
    });
  }
  published?.cells.forEach((c, i) => {
    if (used.has(i)) return;
    rows.push({
      ...Object.fromEntries(keys.map((k) => [k, c.cell[k]])),
      ...compare(published, c.value, undefined),
      metric,
      n_seeds: 0,
      source: published.source,
      note: [c.note, "not run in this sweep"].filter(Boolean).join("; "),
    });
  });
  rows.sort((a, b) => {
    for (const k of keys) {
      const d = compareCells(a[k], b[k]);
      if (d !== 0) return d;
    }
    return 0;
  });
  return { base, published, keys, table: { columns: [...keys, ...REPRODUCTION_COLUMNS], rows } };
}

function compare(
  p: Published | undefined,
  paper: number | null,
  ours: number | undefined,
): ReproductionRow {
  const out: ReproductionRow = { ours, paper: paper ?? undefined };
  if (!p || paper === null || ours === undefined) return out;
  if (p.comparison === "ratio") {
    const ratio = ours / paper;
    out.ratio = ratio;
    out.agrees = ratio <= p.tolerance && ratio >= 1 / p.tolerance ? "yes" : "no";
  } else {
    const difference = ours - paper;
    out.difference = difference;
    out.agrees = Math.abs(difference) <= p.tolerance ? "yes" : "no";
  }
  return out;
}

/** A number for the markdown table: 3 significant digits, blank when absent. */
export function fmtNumber(v: unknown): string {
  if (v === undefined || v === null || v === "") return "";
  const x = Number(v);
  if (!Number.isFinite(x)) return String(v);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 0.01 && a < 1000 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
}

/** reproduction.md: a heading, what is compared, and the table (numbers to 3 digits). */
export function reproductionMarkdown(
  r: Reproduction,
  info: { name: string; scale: string },
): string {
  const p = r.published;
  const lines = [`# Reproduction: ${info.name} (preset ${r.base}, scale ${info.scale})`, ""];
  if (p) {
    lines.push(
      `Paper: ${p.source}. Metric: ${p.metricLabel}. Ours: mean over seeds (min - max). ` +
        (p.comparison === "ratio"
          ? `Ratio = ours / paper; agrees when within ${p.tolerance}x either way.`
          : `Difference = ours - paper; agrees when within ±${p.tolerance}.`) +
        " Blank paper cells: the paper prints no number there.",
    );
  } else {
    lines.push(`The papers print no numbers for preset ${r.base}; ours only.`);
  }
  lines.push("");
  const cols = [
    ...r.keys,
    "seeds",
    "ours",
    "ours min - max",
    "paper",
    p?.comparison ?? "ratio",
    "agrees",
    "note",
  ];
  lines.push(`| ${cols.join(" | ")} |`, `|${cols.map(() => " --- ").join("|")}|`);
  for (const row of r.table.rows) {
    const spread = row.ours_min === undefined
      ? ""
      : `${fmtNumber(row.ours_min)} - ${fmtNumber(row.ours_max)}`;
    const cmp = p?.comparison === "difference"
      ? fmtNumber(row.difference)
      : row.ratio === undefined
      ? ""
      : `${fmtNumber(row.ratio)}x`;
    const cells = [
      ...r.keys.map((k) => String(row[k] ?? "")),
      String(row.n_seeds),
      fmtNumber(row.ours),
      spread,
      fmtNumber(row.paper),
      cmp,
      String(row.agrees ?? ""),
      String(row.note ?? ""),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Writes `<outDir>/reproduction.csv` and `reproduction.md` (atomically) from the experiment's
 * run records; `info` names the experiment, its preset, scale and figure kind.
 */
export async function writeReproduction(
  outDir: string,
  records: RunRecord[],
  info: { name: string; base: string; scale: string; figure: string },
): Promise<Reproduction> {
  const r = reproductionTable(records, info.base, info.figure);
  await writeCsvAtomic(`${outDir}/reproduction.csv`, r.table.rows, r.table.columns);
  await writeFileAtomic(`${outDir}/reproduction.md`, reproductionMarkdown(r, info));
  return r;
}
