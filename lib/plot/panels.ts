/**
 * Several charts in one PNG: panels stacked top to bottom under an overall title (e.g. one
 * heatmap per layer of a deep model). Each panel is drawn at its own size exactly as it would be
 * alone, then copied in; see PANEL_LAYOUT for the geometry.
 */
import { createPlotCanvas, encodePng, plotFont, withChart } from "./render.ts";
import type { ChartSpec } from "./render.ts";

/**
 * Layout of `stackedPng`: the title band is `titleBand` pixels high (0 without a title); panel i
 * starts at x = 0, y = titleBand + sum over j < i of (height_j + gap); the image is as wide as
 * the widest panel.
 */
export const PANEL_LAYOUT = { titleBand: 34, gap: 6 } as const;

/** The pixel size of `stackedPng(panels, {title})` for panels of these sizes. */
export function stackedSize(
  panels: readonly { width: number; height: number }[],
  title: boolean,
): { width: number; height: number } {
  const { titleBand, gap } = PANEL_LAYOUT;
  return {
    width: Math.max(...panels.map((p) => p.width)),
    height: (title ? titleBand : 0) + panels.reduce((s, p) => s + p.height, 0) +
      gap * (panels.length - 1),
  };
}

/** PNG of `panels` stacked top to bottom, under `opts.title` (shrunk to fit the width). */
export function stackedPng(panels: ChartSpec[], opts: { title?: string } = {}): Uint8Array {
  if (!Array.isArray(panels) || panels.length === 0) {
    throw new Error("panels: must be a non-empty array of charts");
  }
  const { width, height } = stackedSize(panels, !!opts.title);
  const canvas = createPlotCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  let y = 0;
  if (opts.title) {
    const family = plotFont();
    let px = 16;
    ctx.font = `bold ${px}px ${family}`;
    while (px > 8 && ctx.measureText(opts.title).width > width - 12) {
      px--;
      ctx.font = `bold ${px}px ${family}`;
    }
    ctx.fillStyle = "#222222";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(opts.title, width / 2, PANEL_LAYOUT.titleBand / 2);
    y = PANEL_LAYOUT.titleBand;
  }
  for (const p of panels) {
    withChart(p, (c) => ctx.drawImage(c, 0, y));
    y += p.height + PANEL_LAYOUT.gap;
  }
  return encodePng(canvas);
}
