/**
 * Histograms with optional log-spaced bins and vertical reference lines (e.g. the census of
 * router-region masses with a line at 1 / (2 C(m, k)), Lemma 3.2) as PNG bytes.
 */
import type { Chart, ChartConfiguration, Plugin } from "chart.js";
import { palette, rgbCss } from "./colors.ts";
import { checkPositiveInt, plotFont, renderChart, titleOptions } from "./render.ts";
import { formatTick, LOG_TICKS } from "./ticks.ts";

/** Inputs of `histogramPng`. */
export interface HistogramSpec {
  title: string;
  /** The sample; every entry must be finite. With logX, entries <= 0 are left out and counted. */
  values: number[];
  /** Number of bins (default: ceil(sqrt(n)) clamped to 5..60). */
  bins?: number;
  /** Log-spaced bins on a logarithmic x axis. */
  logX?: boolean;
  xLabel: string;
  /** Default "count". */
  yLabel?: string;
  /** Dashed vertical lines, labelled at the top; the x axis widens to include them. */
  refLines?: { x: number; label: string }[];
  /** Image size in pixels (default 720 x 480). */
  width?: number;
  height?: number;
}

/** Bin edges (bins + 1, increasing) and counts; `omitted` = values <= 0 dropped under logX. */
export interface Bins {
  edges: number[];
  counts: number[];
  omitted: number;
}

/**
 * Equal-width bins over [min, max] of the values (equal width in log10 when logX); bin i holds
 * edges[i] <= v < edges[i+1], the last bin also holds v = max. A sample with a single distinct
 * value gets the range [v - 0.5, v + 0.5] (or [v / 2, 2 v] with logX).
 */
export function histogramBins(values: number[], bins?: number, logX = false): Bins {
  if (!Array.isArray(values)) throw new Error("values: must be an array of numbers");
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(`values[${i}]: must be a finite number, got ${v}`);
    }
  });
  const kept = logX ? values.filter((v) => v > 0) : values;
  if (kept.length === 0) {
    throw new Error(`values: must contain at least one value${logX ? " > 0 (logX)" : ""}`);
  }
  const n = bins ?? Math.min(60, Math.max(5, Math.ceil(Math.sqrt(kept.length))));
  checkPositiveInt("bins", n);
  const f = logX ? Math.log10 : (v: number) => v;
  const fInv = logX ? (u: number) => 10 ** u : (u: number) => u;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of kept) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === hi) [lo, hi] = logX ? [lo / 2, hi * 2] : [lo - 0.5, hi + 0.5];
  const [a, b] = [f(lo), f(hi)];
  const edges = Array.from(
    { length: n + 1 },
    (_, i) => (i === 0 ? lo : i === n ? hi : fInv(a + ((b - a) * i) / n)),
  );
  const counts = new Array<number>(n).fill(0);
  for (const v of kept) {
    let i = Math.floor(((f(v) - a) / (b - a)) * n);
    i = Math.min(n - 1, Math.max(0, i));
    // Settle float rounding against the stored edges so counts match edges exactly.
    if (i > 0 && v < edges[i]) i--;
    else if (i < n - 1 && v >= edges[i + 1]) i++;
    counts[i]++;
  }
  return { edges, counts, omitted: values.length - kept.length };
}

const BAR_FILL = "rgba(31,119,180,0.85)";

/** Renders the histogram: filled bars, count axis from 0, optional reference lines. */
export function histogramPng(spec: HistogramSpec): Uint8Array {
  const { edges, counts, omitted } = histogramBins(spec.values, spec.bins, spec.logX);
  const refs = spec.refLines ?? [];
  refs.forEach((r, i) => {
    if (!Number.isFinite(r.x) || (spec.logX && r.x <= 0)) {
      throw new Error(`refLines[${i}].x: must be a finite number${spec.logX ? " > 0" : ""}`);
    }
    if (typeof r.label !== "string") throw new Error(`refLines[${i}].label: must be a string`);
  });
  const width = spec.width ?? 720;
  const height = spec.height ?? 480;
  checkPositiveInt("width", width);
  checkPositiveInt("height", height);
  const n = counts.length;
  let xMin = Math.min(edges[0], ...refs.map((r) => r.x));
  let xMax = Math.max(edges[n], ...refs.map((r) => r.x));
  // A little air so a reference line at the data's edge is not drawn on the axis itself.
  if (spec.logX) [xMin, xMax] = [xMin / 1.15, xMax * 1.15];
  else {
    const pad = (xMax - xMin) * 0.03;
    [xMin, xMax] = [xMin - pad, xMax + pad];
  }
  const family = plotFont();
  const refColors = palette(4).slice(1).map((c) => rgbCss(c)); // orange, green, red

  const bars: Plugin = {
    id: "histogramBars",
    beforeDatasetsDraw(chart: Chart) {
      const { x, y } = chart.scales;
      const ctx = chart.ctx;
      const area = chart.chartArea;
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.width, area.height);
      ctx.clip();
      const y0 = y.getPixelForValue(0);
      for (let i = 0; i < n; i++) {
        if (counts[i] === 0) continue;
        const x0 = x.getPixelForValue(edges[i]);
        const x1 = x.getPixelForValue(edges[i + 1]);
        const top = y.getPixelForValue(counts[i]);
        // 1-px gaps between bars when there is room, so neighbouring bins stay distinct.
        const gap = x1 - x0 > 4 ? 1 : 0;
        ctx.fillStyle = BAR_FILL;
        ctx.fillRect(x0 + gap / 2, top, x1 - x0 - gap, y0 - top);
      }
      ctx.restore();
    },
    afterDatasetsDraw(chart: Chart) {
      const { x } = chart.scales;
      const ctx = chart.ctx;
      const area = chart.chartArea;
      ctx.save();
      ctx.font = `12px ${family}`;
      ctx.textBaseline = "top";
      refs.forEach((r, i) => {
        const px = Math.round(x.getPixelForValue(r.x)) + 0.5;
        const color = refColors[i % refColors.length];
        ctx.strokeStyle = color;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        // Label beside the line, on whichever side has more room, stacked if several.
        const right = px < area.left + area.width * 0.6;
        ctx.textAlign = right ? "left" : "right";
        const tx = px + (right ? 5 : -5);
        const ty = area.top + 4 + i * 16;
        const w = ctx.measureText(r.label).width;
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(right ? tx - 2 : tx - w - 2, ty - 1, w + 4, 15);
        ctx.fillStyle = color;
        ctx.fillText(r.label, tx, ty);
      });
      ctx.restore();
    },
  };

  const subtitle = omitted > 0 ? `${omitted} value(s) <= 0 not shown on the log axis` : "";
  const config: ChartConfiguration<"scatter"> = {
    type: "scatter",
    data: {
      // Invisible points at the bar tops let Chart.js fit the count axis; the bars are drawn
      // by the plugin above because Chart.js bars cannot span exact [edge, edge) intervals.
      datasets: [{
        data: counts.map((c, i) => ({ x: (edges[i] + edges[i + 1]) / 2, y: c })),
        pointRadius: 0,
        showLine: false,
      }],
    },
    options: {
      layout: { padding: { right: 16, left: 4, bottom: 4 } },
      plugins: {
        title: titleOptions(spec.title),
        subtitle: { display: !!subtitle, text: subtitle, padding: { bottom: 8 } },
        legend: { display: false },
        tooltip: { enabled: false },
      },
      scales: {
        x: {
          type: spec.logX ? "logarithmic" : "linear",
          // Linear: suggested bounds let Chart.js round outward to nice ticks; log: exact.
          ...(spec.logX ? { min: xMin, max: xMax } : { suggestedMin: xMin, suggestedMax: xMax }),
          title: { display: !!spec.xLabel, text: spec.xLabel, font: { size: 14 } },
          ticks: spec.logX ? LOG_TICKS : { callback: (v) => formatTick(Number(v)) },
          grid: { color: "#ececec" },
        },
        y: {
          type: "linear",
          beginAtZero: true,
          title: { display: true, text: spec.yLabel ?? "count", font: { size: 14 } },
          ticks: { precision: 0, callback: (v) => formatTick(Number(v)) },
          grid: { color: "#ececec" },
        },
      },
    },
  };
  return renderChart(config as unknown as ChartConfiguration, width, height, [bars]);
}
