/**
 * Annotated heatmaps (e.g. Figure 2 of the granularity paper: normalized test loss, rows =
 * teachers, columns = students) as PNG bytes, via chartjs-chart-matrix.
 */
import type { ChartConfiguration, Plugin, ScriptableContext } from "chart.js";
import { createCanvas } from "@napi-rs/canvas";
import { colormap, type ColorScale, type Rgb, rgbCss, textColorOn } from "./colors.ts";
import { type ChartSpec, checkPositiveInt, plotFont, renderChart, titleOptions } from "./render.ts";

/** Inputs of `heatmapPng`. */
export interface HeatmapSpec {
  title: string;
  /** Row labels, drawn top to bottom in this order; length = values.length. */
  rowLabels: string[];
  /** Column labels, drawn left to right; length = every values[i].length. */
  colLabels: string[];
  /** values[row][col]; null, NaN and ±Infinity are missing cells (grey, printed "—"). */
  values: (number | null)[][];
  xLabel: string;
  yLabel: string;
  /** Text printed in each cell; default `defaultValueFormat`. */
  valueFormat?: (v: number) => string;
  /** Colour scale; default "viridis" (dark = low). */
  colorScale?: ColorScale;
  /** Value range mapped onto the scale; default: min and max of the finite values. */
  range?: [number, number];
  /** Caption of the colour bar (e.g. "test loss / zero loss"). */
  valueLabel?: string;
  /**
   * A second, smaller line of text per cell under its value (e.g. the paper's value); null or ""
   * for none. Same shape as `values`.
   */
  notes?: (string | null)[][];
  /** Print each cell's value in it (default true). */
  showValues?: boolean;
  /** Image size in pixels; defaults grow with the number of columns / rows. */
  width?: number;
  height?: number;
}

/** The part of a chartjs-chart-matrix element used to place cell text. */
interface MatrixCell {
  getCenterPoint(): { x: number; y: number };
}

const MISSING_FILL: Rgb = [230, 230, 230];
const BAR_GAP = 16;
const BAR_WIDTH = 16;

/** Default cell text: 2 decimals in [0.01, 1000), 3 in [0.001, 0.01), else 2 significant digits. */
export function defaultValueFormat(v: number): string {
  const a = Math.abs(v);
  if (a === 0 || (a >= 0.01 && a < 1000)) return v.toFixed(2);
  return a >= 0.001 && a < 0.01 ? v.toFixed(3) : v.toExponential(1);
}

function checkLabels(name: string, labels: string[]): void {
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new Error(`${name}: must be a non-empty array of strings`);
  }
  const seen = new Set<string>();
  for (const l of labels) {
    if (typeof l !== "string") throw new Error(`${name}: labels must be strings`);
    if (seen.has(l)) throw new Error(`${name}: duplicate label "${l}" (labels must be unique)`);
    seen.add(l);
  }
}

function isValue(v: number | null): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Renders an annotated heatmap to PNG bytes: one square-ish cell per value coloured by the
 * scale, its value printed in black or white (whichever contrasts more), and a colour bar with
 * five ticks to the right of the grid.
 */
export function heatmapPng(spec: HeatmapSpec): Uint8Array {
  const chart = heatmapChart(spec);
  return renderChart(chart.config, chart.width, chart.height, chart.plugins);
}

/** The chart `heatmapPng` draws (for composing several heatmaps into one image). */
export function heatmapChart(spec: HeatmapSpec): ChartSpec {
  const { rowLabels, colLabels, values } = spec;
  checkLabels("rowLabels", rowLabels);
  checkLabels("colLabels", colLabels);
  if (!Array.isArray(values) || values.length !== rowLabels.length) {
    throw new Error(`values: must have one row per row label (${rowLabels.length})`);
  }
  values.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== colLabels.length) {
      throw new Error(`values[${i}]: must have one entry per column label (${colLabels.length})`);
    }
    row.forEach((v, j) => {
      if (v !== null && typeof v !== "number") {
        throw new Error(`values[${i}][${j}]: must be a number or null`);
      }
    });
  });
  if (spec.notes !== undefined) {
    const n = spec.notes;
    if (!Array.isArray(n) || n.length !== values.length) {
      throw new Error(`notes: must have one row per row label (${rowLabels.length})`);
    }
    n.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== colLabels.length) {
        throw new Error(`notes[${i}]: must have one entry per column label (${colLabels.length})`);
      }
    });
  }
  const fmt = spec.valueFormat ?? defaultValueFormat;
  const color = colormap(spec.colorScale ?? "viridis");
  const finite = values.flat().filter(isValue);
  let [lo, hi] = spec.range ?? [Math.min(...finite), Math.max(...finite)];
  if (spec.range) {
    if (!spec.range.every(Number.isFinite) || !(spec.range[0] < spec.range[1])) {
      throw new Error(`range: must be two finite numbers [lo, hi] with lo < hi`);
    }
  } else if (finite.length === 0) [lo, hi] = [0, 1];
  else if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  const cellColor = (v: number | null): Rgb =>
    isValue(v) ? color((v - lo) / (hi - lo)) : MISSING_FILL;

  const nr = rowLabels.length;
  const nc = colLabels.length;
  const family = plotFont();
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (hi - lo));
  // Reserve room for the colour bar: measure its tick labels with the real font.
  const measure = createCanvas(1, 1).getContext("2d");
  measure.font = `12px ${family}`;
  const tickW = Math.max(...ticks.map((t) => measure.measureText(fmt(t)).width));
  const barReserve = BAR_GAP + BAR_WIDTH + 6 + Math.ceil(tickW) + (spec.valueLabel ? 24 : 4);
  const width = spec.width ?? Math.max(360, 130 + 78 * nc + barReserve);
  const height = spec.height ?? Math.max(240, 120 + 46 * nr);
  checkPositiveInt("width", width);
  checkPositiveInt("height", height);

  // Row-major cells; `cells[k]` is the value of data point k (Chart.js's dataIndex).
  const data: { x: string; y: string }[] = [];
  const cells: (number | null)[] = [];
  const notes: string[] = [];
  for (let i = 0; i < nr; i++) {
    for (let j = 0; j < nc; j++) {
      data.push({ x: colLabels[j], y: rowLabels[i] });
      cells.push(values[i][j]);
      notes.push(spec.notes?.[i][j] ?? "");
    }
  }

  const cellText: Plugin = {
    id: "heatmapCellText",
    afterDatasetsDraw(chart) {
      if (spec.showValues === false) return;
      const meta = chart.getDatasetMeta(0);
      const ctx = chart.ctx;
      const area = chart.chartArea;
      const size = Math.max(8, Math.min(14, (area.height / nr) * 0.4, (area.width / nc) / 3.2));
      ctx.save();
      ctx.font = `${Math.round(size)}px ${family}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      meta.data.forEach((el, k) => {
        const v = cells[k];
        const p = (el as unknown as MatrixCell).getCenterPoint();
        ctx.fillStyle = isValue(v) ? rgbCss(textColorOn(cellColor(v))) : "#555555";
        const note = notes[k];
        const dy = note ? size * 0.55 : 0;
        ctx.font = `${Math.round(size)}px ${family}`;
        ctx.fillText(isValue(v) ? fmt(v) : "—", p.x, p.y - dy);
        if (note) {
          ctx.font = `${Math.round(size * 0.75)}px ${family}`;
          ctx.fillText(note, p.x, p.y + dy);
        }
      });
      ctx.restore();
    },
  };

  const colorBar: Plugin = {
    id: "heatmapColorBar",
    afterDraw(chart) {
      const ctx = chart.ctx;
      const { top, bottom, right } = chart.chartArea;
      const x0 = right + BAR_GAP;
      const h = bottom - top;
      ctx.save();
      // One 1-px band per row of the bar: exact colours, no reliance on gradient support.
      for (let y = 0; y < h; y++) {
        ctx.fillStyle = rgbCss(color(1 - y / Math.max(1, h - 1)));
        ctx.fillRect(x0, top + y, BAR_WIDTH, 1);
      }
      ctx.strokeStyle = "#444444";
      ctx.lineWidth = 1;
      ctx.strokeRect(x0 + 0.5, top + 0.5, BAR_WIDTH - 1, h - 1);
      ctx.fillStyle = "#222222";
      ctx.font = `12px ${family}`;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ticks.forEach((t, i) => {
        const y = bottom - (i / (ticks.length - 1)) * h;
        ctx.fillRect(x0 + BAR_WIDTH, Math.round(y), 4, 1);
        ctx.fillText(fmt(t), x0 + BAR_WIDTH + 6, y);
      });
      if (spec.valueLabel) {
        ctx.translate(x0 + BAR_WIDTH + 10 + tickW + 12, top + h / 2);
        ctx.rotate(Math.PI / 2);
        ctx.textAlign = "center";
        ctx.font = `13px ${family}`;
        ctx.fillText(spec.valueLabel, 0, 0);
      }
      ctx.restore();
    },
  };

  const config: ChartConfiguration<"matrix"> = {
    type: "matrix",
    data: {
      datasets: [{
        label: spec.title,
        data,
        backgroundColor: (ctx: ScriptableContext<"matrix">) =>
          rgbCss(cellColor(cells[ctx.dataIndex])),
        borderWidth: 0,
        width: ({ chart }) => (chart.chartArea?.width ?? 0) / nc - 2,
        height: ({ chart }) => (chart.chartArea?.height ?? 0) / nr - 2,
      }],
    },
    options: {
      layout: { padding: { right: barReserve, left: 4, bottom: 4 } },
      plugins: {
        title: titleOptions(spec.title),
        legend: { display: false },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: "category",
          labels: colLabels,
          offset: true,
          grid: { display: false },
          border: { display: false },
          title: { display: !!spec.xLabel, text: spec.xLabel, font: { size: 14 } },
        },
        y: {
          type: "category",
          labels: rowLabels,
          // chartjs-chart-matrix defaults y to reverse: true (for numeric y); a category axis
          // unreversed already puts label 0 at the top, so rows read top-down in input order.
          reverse: false,
          offset: true,
          grid: { display: false },
          border: { display: false },
          title: { display: !!spec.yLabel, text: spec.yLabel, font: { size: 14 } },
        },
      },
    },
  };
  return {
    config: config as unknown as ChartConfiguration,
    width,
    height,
    plugins: [cellText, colorBar],
  };
}
