/**
 * Line charts with markers (loss vs relative size on log-x, training curves on log-y, error vs
 * input dimension or width) as PNG bytes.
 */
import type { ChartConfiguration, Plugin, PointStyle, Scale } from "chart.js";
import { palette, rgbCss } from "./colors.ts";
import { checkPositiveInt, renderChart, titleOptions } from "./render.ts";
import { formatTick, LOG_TICKS } from "./ticks.ts";

/**
 * One line: a label for the legend and its points (y = null leaves a gap). A point's optional
 * `lo`, `hi` draw a vertical whisker from lo to hi (e.g. the spread over seeds); `dashed` draws
 * the line dashed (e.g. a paper's published values beside ours).
 */
export interface LineSeries {
  label: string;
  points: { x: number; y: number | null; lo?: number; hi?: number }[];
  dashed?: boolean;
  /** Draw in the colour (and marker) of series number `sameAs` (e.g. the paper beside ours). */
  sameAs?: number;
}

/** Inputs of `linesPng`. */
export interface LinesSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Logarithmic axes; every x (resp. non-null y) must then be > 0. */
  logX?: boolean;
  logY?: boolean;
  /**
   * Explicit x tick positions. Default: with logX and at most 12 distinct x values, ticks sit
   * exactly at those values (e.g. relative sizes 1, 2, 4, 8, 16); otherwise Chart.js's own ticks.
   */
  xTicks?: number[];
  /** Image size in pixels (default 720 x 480). */
  width?: number;
  height?: number;
}

// Distinct marker shapes as well as colours, so lines stay distinguishable in greyscale.
const MARKERS: PointStyle[] = ["circle", "rect", "triangle", "rectRot", "star", "crossRot"];

/** Renders one line (with markers) per series, a legend on top, optional log axes. */
export function linesPng(spec: LinesSpec): Uint8Array {
  const { series } = spec;
  if (!Array.isArray(series) || series.length === 0) {
    throw new Error("series: must be a non-empty array of {label, points}");
  }
  series.forEach((s, i) => {
    if (typeof s.label !== "string") throw new Error(`series[${i}].label: must be a string`);
    if (!Array.isArray(s.points)) throw new Error(`series[${i}].points: must be an array`);
    s.points.forEach((p, j) => {
      const where = `series[${i}].points[${j}]`;
      if (!Number.isFinite(p.x)) throw new Error(`${where}.x: must be a finite number`);
      if (p.y !== null && !Number.isFinite(p.y)) {
        throw new Error(`${where}.y: must be a finite number or null`);
      }
      if (spec.logX && p.x <= 0) throw new Error(`${where}.x: must be > 0 with logX, got ${p.x}`);
      if (spec.logY && p.y !== null && p.y <= 0) {
        throw new Error(`${where}.y: must be > 0 with logY, got ${p.y}`);
      }
      for (const b of ["lo", "hi"] as const) {
        const v = p[b];
        if (v !== undefined && (!Number.isFinite(v) || (spec.logY && v <= 0))) {
          throw new Error(`${where}.${b}: must be a finite number${spec.logY ? " > 0" : ""}`);
        }
      }
    });
  });
  const width = spec.width ?? 720;
  const height = spec.height ?? 480;
  checkPositiveInt("width", width);
  checkPositiveInt("height", height);

  let xTicks = spec.xTicks;
  if (xTicks) {
    xTicks.forEach((t, i) => {
      if (!Number.isFinite(t) || (spec.logX && t <= 0)) {
        throw new Error(`xTicks[${i}]: must be a finite number${spec.logX ? " > 0" : ""}`);
      }
    });
  } else if (spec.logX) {
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))];
    if (xs.length <= 12) xTicks = xs.sort((a, b) => a - b);
  }
  const fixedTicks = xTicks ? [...xTicks] : undefined;

  const own = palette(series.length).map((c) => rgbCss(c));
  const colors = series.map((s, i) => own[s.sameAs ?? i] ?? own[i]);
  const config: ChartConfiguration<"line"> = {
    type: "line",
    data: {
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.points.map((p) => ({ x: p.x, y: p.y })),
        borderColor: colors[i],
        backgroundColor: colors[i],
        borderWidth: 2,
        borderDash: s.dashed ? [7, 5] : undefined,
        pointStyle: MARKERS[(s.sameAs ?? i) % MARKERS.length],
        // Markers identify the measured points; on dense curves they would bury the line.
        pointRadius: s.points.length > 40 ? 0 : s.points.length > 20 ? 2.5 : 4.5,
        pointBorderWidth: 1,
        spanGaps: false,
        parsing: false,
      })),
    },
    options: {
      layout: { padding: { right: 16, left: 4, bottom: 4 } },
      plugins: {
        title: titleOptions(spec.title),
        legend: {
          display: true,
          position: "top",
          labels: { usePointStyle: true, boxWidth: 8, boxHeight: 8, padding: 14 },
        },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: spec.logX ? "logarithmic" : "linear",
          title: { display: !!spec.xLabel, text: spec.xLabel, font: { size: 14 } },
          ...(fixedTicks
            ? {
              min: Math.min(...fixedTicks, ...series.flatMap((s) => s.points.map((p) => p.x))),
              max: Math.max(...fixedTicks, ...series.flatMap((s) => s.points.map((p) => p.x))),
              afterBuildTicks: (axis: Scale) => {
                axis.ticks = fixedTicks.map((value) => ({ value }));
              },
            }
            : {}),
          ticks: fixedTicks || !spec.logX
            ? { callback: (v) => formatTick(Number(v)), autoSkip: !fixedTicks }
            : LOG_TICKS,
          grid: { color: "#e4e4e4" },
        },
        y: {
          type: spec.logY ? "logarithmic" : "linear",
          ...whiskerRange(series),
          title: { display: !!spec.yLabel, text: spec.yLabel, font: { size: 14 } },
          ticks: spec.logY ? LOG_TICKS : { callback: (v) => formatTick(Number(v)) },
          grid: { color: "#e4e4e4" },
        },
      },
    },
  };
  return renderChart(config as unknown as ChartConfiguration, width, height, [
    whiskers(spec, colors),
  ]);
}

/** suggestedMin / suggestedMax that keep every whisker on the chart. */
function whiskerRange(series: LineSeries[]): { suggestedMin?: number; suggestedMax?: number } {
  const lo = series.flatMap((s) => s.points.flatMap((p) => (p.lo === undefined ? [] : [p.lo])));
  const hi = series.flatMap((s) => s.points.flatMap((p) => (p.hi === undefined ? [] : [p.hi])));
  return {
    ...(lo.length ? { suggestedMin: Math.min(...lo) } : {}),
    ...(hi.length ? { suggestedMax: Math.max(...hi) } : {}),
  };
}

/** Draws each point's lo-hi whisker in its series' colour, with short caps. */
function whiskers(spec: LinesSpec, colors: string[]): Plugin {
  return {
    id: "linesWhiskers",
    afterDatasetsDraw(chart) {
      const { x: sx, y: sy } = chart.scales;
      const ctx = chart.ctx;
      ctx.save();
      ctx.lineWidth = 1.5;
      spec.series.forEach((s, i) => {
        ctx.strokeStyle = colors[i];
        for (const p of s.points) {
          if (p.lo === undefined || p.hi === undefined) continue;
          const x = sx.getPixelForValue(p.x);
          const [y0, y1] = [sy.getPixelForValue(p.lo), sy.getPixelForValue(p.hi)];
          ctx.beginPath();
          ctx.moveTo(x, y0);
          ctx.lineTo(x, y1);
          ctx.moveTo(x - 4, y0);
          ctx.lineTo(x + 4, y0);
          ctx.moveTo(x - 4, y1);
          ctx.lineTo(x + 4, y1);
          ctx.stroke();
        }
      });
      ctx.restore();
    },
  };
}
