/**
 * The paper-style figures of an experiment directory, drawn from its CSVs (best.csv and
 * curves.csv) so that `deno task plot` can redraw them without training. Cells with several
 * seeds show the mean of their seeds' best scores and the spread (reproduction.csv).
 */
import { parseCsv } from "../io/csv.ts";
import { heatmapPng } from "../plot/heatmap.ts";
import { linesPng } from "../plot/lines.ts";
import { savePng } from "../plot/render.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { FigureKind } from "./registry.ts";
import { fmtNumber } from "./reproduction.ts";
import type { Configuration } from "../sweep/configuration.ts";
import { isShorthand, parseShorthand } from "../nn/config.ts";

type Row = Record<string, string>;

/** What the sweep writes next to its CSVs so the plots can be redrawn later. */
export interface ExperimentInfo {
  name: string;
  base: string;
  scale: string;
  figure: FigureKind;
  description: string;
  /** What the folder's runs share (lib/sweep/configuration.ts); absent in older folders. */
  configuration?: Configuration;
}

export async function writeExperimentInfo(outDir: string, info: ExperimentInfo): Promise<void> {
  await writeFileAtomic(`${outDir}/experiment.json`, JSON.stringify(info, null, 2) + "\n");
}

export async function readExperimentInfo(outDir: string): Promise<ExperimentInfo> {
  const path = `${outDir}/experiment.json`;
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(
      `${path}: cannot read the experiment description (${
        (e as Error).message
      }); run the sweep first`,
    );
  }
}

async function readRows(path: string): Promise<Row[]> {
  try {
    return parseCsv(await Deno.readTextFile(path)) as Row[];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

const num = (s: string | undefined) => (s === undefined || s === "" ? NaN : Number(s));
/** Orders architectures like 4e2a < 8e4a < 12e6a by (m, k), other labels as strings. */
function archOrder(a: string, b: string): number {
  if (isShorthand(a) && isShorthand(b)) {
    const [pa, pb] = [parseShorthand(a), parseShorthand(b)];
    return pa.m - pb.m || pa.k - pb.k;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Figure sizes in pixels (fixed, so a figure's size is known from its grid). */
export function heatmapSize(rows: number, cols: number): { width: number; height: number } {
  return { width: 260 + 80 * cols, height: 140 + 46 * rows };
}
export const LINES_SIZE = { width: 800, height: 500 } as const;

/** A line per value of `seriesCol` (ours: mean with a min-max whisker), x from `xCol`. */
function oursAndPaper(rows: Row[], seriesCol: string, xCol: string, label: (s: string) => string) {
  const ran = rows.filter((r) => r.ours !== "");
  const names = [...new Set(ran.map((r) => r[seriesCol]))].sort(archOrder);
  const ours = names.map((s) => ({
    label: label(s),
    points: ran.filter((r) => r[seriesCol] === s).map((r) => ({
      x: num(r[xCol]),
      y: num(r.ours),
      ...(Number(r.n_seeds) > 1 ? { lo: num(r.ours_min), hi: num(r.ours_max) } : {}),
    })).sort((a, b) => a.x - b.x),
  }));
  const paper = names.flatMap((s, i) => {
    const pts = rows.filter((r) => r[seriesCol] === s && r.paper !== "")
      .map((r) => ({ x: num(r[xCol]), y: num(r.paper) })).sort((a, b) => a.x - b.x);
    return pts.length
      ? [{ label: `${label(s)} (paper)`, points: pts, dashed: true, sameAs: i }]
      : [];
  });
  return [...ours, ...paper];
}

/** A heatmap cell's second line: the seeds' range (several seeds) and the paper's value. */
function cellNote(r: Row | undefined): string {
  if (!r) return "";
  const spread = Number(r.n_seeds) > 1 ? `${fmtNumber(r.ours_min)}-${fmtNumber(r.ours_max)}` : "";
  const paper = r.paper !== "" ? `paper ${r.paper}` : r.note.startsWith("near 0") ? "paper ~0" : "";
  return [spread, paper].filter(Boolean).join(", ");
}

/**
 * Draws every figure of the experiment from reproduction.csv (ours: mean over seeds with the
 * min-max spread; the paper's published values dashed, or in the heatmap cell) and curves.csv;
 * returns the PNG paths written.
 */
export async function renderFigures(outDir: string, info: ExperimentInfo): Promise<string[]> {
  const best = (await readRows(`${outDir}/best.csv`)).filter((r) => r.status === "ok");
  const repro = await readRows(`${outDir}/reproduction.csv`);
  const curves = await readRows(`${outDir}/curves.csv`);
  const written: string[] = [];
  const save = async (name: string, png: Uint8Array) => {
    await savePng(`${outDir}/${name}`, png);
    written.push(`${outDir}/${name}`);
  };
  const ran = repro.filter((r) => r.ours !== "");
  if (best.length === 0 || ran.length === 0) return written;
  const title = info.name;

  if (info.figure === "heatmap") {
    const teachers = [...new Set(ran.map((r) => r.teacher))].sort(archOrder);
    const students = [...new Set(ran.map((r) => r.student))].sort(archOrder);
    const cell = new Map(ran.map((r) => [`${r.teacher}|${r.student}`, r]));
    await save(
      "heatmap.png",
      heatmapPng({
        title: `${title}: normalized test loss (min over epochs, best lr)`,
        rowLabels: teachers,
        colLabels: students,
        values: teachers.map((t) => students.map((s) => num(cell.get(`${t}|${s}`)?.ours) || null)),
        notes: teachers.map((t) => students.map((s) => cellNote(cell.get(`${t}|${s}`)))),
        xLabel: "student",
        yLabel: "teacher",
        valueFormat: (v: number) => (v < 0.01 ? v.toPrecision(1) : v.toFixed(2)),
        valueLabel: "test loss / zero loss",
        ...heatmapSize(teachers.length, students.length),
      }),
    );
  } else if (info.figure === "size-lines") {
    await save(
      "loss_vs_size.png",
      linesPng({
        title: `${title}: loss vs student size (teacher ${best[0].teacher})`,
        xLabel: "relative student size (total parameters / teacher's)",
        yLabel: "normalized test loss",
        series: oursAndPaper(repro, "granularity", "rel_size", (g) => `granularity ${g}`),
        logX: true,
        ...LINES_SIZE,
      }),
    );
  } else if (info.figure === "family-lines") {
    await save(
      "loss_vs_granularity.png",
      linesPng({
        title: `${title}: loss vs student granularity, per teacher and router family`,
        xLabel: "student granularity (k' active of 2k' experts, matched active neurons)",
        yLabel: "normalized test loss",
        series: oursAndPaper(repro, "series", "granularity", (s) => s),
        logX: true,
        logY: true,
        ...LINES_SIZE,
      }),
    );
  } else if (info.figure === "error-vs-D") {
    await save(
      "error_vs_D.png",
      linesPng({
        title: `${title}: test error vs ambient dimension D`,
        xLabel: "ambient dimension D",
        yLabel: "test MSE (min over epochs; mean, min-max over seeds)",
        series: oursAndPaper(repro, "arch", "D", (a) => a),
        logX: true,
        logY: true,
        ...LINES_SIZE,
      }),
    );
  } else if (info.figure === "error-vs-width") {
    await save(
      "error_vs_width.png",
      linesPng({
        title: `${title}: test error vs expert width`,
        xLabel: "expert width m",
        yLabel: "test MSE (min over epochs; mean, min-max over seeds)",
        series: oursAndPaper(repro, "arch", "width", (a) => a),
        logX: true,
        logY: true,
        ...LINES_SIZE,
      }),
    );
  }
  await renderCurves(info, best, curves, save);
  return written;
}

/** Training curves of each cell's best run: one chart per teacher for heatmaps, else one. */
async function renderCurves(
  info: ExperimentInfo,
  best: Row[],
  curves: Row[],
  save: (name: string, png: Uint8Array) => Promise<void>,
): Promise<void> {
  const byRun = new Map<string, { x: number; y: number | null }[]>();
  for (const c of curves) {
    const y = num(c.normalized);
    const pts = byRun.get(c.run_id) ?? [];
    pts.push({ x: num(c.epoch), y: Number.isFinite(y) && y > 0 ? y : null });
    byRun.set(c.run_id, pts);
  }
  const groups = info.figure === "heatmap"
    ? [...new Set(best.map((r) => r.teacher))].sort(archOrder).map((t) => ({
      file: `curves_teacher_${t}.png`,
      title: `${info.name}: teacher ${t}, best run per student`,
      rows: best.filter((r) => r.teacher === t),
    }))
    : [{ file: "curves.png", title: `${info.name}: best run per cell`, rows: best }];
  const label = (r: Row) =>
    info.figure === "heatmap"
      ? `student ${r.student}`
      : info.figure === "size-lines"
      ? `g=${r.granularity} x=${r.rel_size}`
      : info.figure === "family-lines"
      ? `${r.series} g=${r.granularity}`
      : info.figure === "error-vs-D"
      ? `${r.arch} D=${r.D}`
      : `${r.arch} m=${r.width}`;
  for (const g of groups) {
    const s = g.rows.filter((r) => byRun.has(r.run_id)).slice(0, 16).map((r) => ({
      label: `${label(r)} seed ${r.seed}`,
      points: byRun.get(r.run_id)!,
    }));
    if (s.length === 0) continue;
    await save(
      g.file,
      linesPng({
        title: g.title,
        xLabel: "epoch",
        yLabel: "test loss / zero loss",
        series: s,
        logY: true,
        ...LINES_SIZE,
      }),
    );
  }
}
