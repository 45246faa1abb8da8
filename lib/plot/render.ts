/**
 * Headless Chart.js rendering onto @napi-rs/canvas, shared by every plot module.
 *
 * How Chart.js runs here without a browser: Chart.js picks its platform with
 * `typeof window !== "undefined" && typeof document !== "undefined"`. Deno 2 defines neither, so
 * Chart.js falls back to its BasicPlatform, which only calls `canvas.getContext("2d")` and never
 * touches the DOM (no event listeners, no resize observers). A @napi-rs/canvas `Canvas` has that
 * method, so it is passed straight to `new Chart(...)` (cast to the DOM type Chart.js declares).
 * With `responsive: false`, `animation: false` and `devicePixelRatio: 1` the chart is laid out at
 * the canvas's own pixel size and drawn synchronously inside the constructor, so the PNG can be
 * encoded right after it. @napi-rs/canvas needs --allow-read, --allow-env and --allow-ffi (it is
 * a Node-API addon, from the platform package @napi-rs/canvas-linux-x64-gnu on this machine).
 */
import {
  Chart,
  type ChartConfiguration,
  type ChartItem,
  type Plugin,
  registerables,
} from "chart.js";
import { MatrixController, MatrixElement } from "chartjs-chart-matrix";
import { type Canvas, createCanvas, GlobalFonts } from "@napi-rs/canvas";
import { writeFileAtomic } from "../io/atomic.ts";

/** The font family every plot uses for text. */
export const FONT_FAMILY = "PlotSans";

// Skia matches CSS generic names such as "sans-serif" to whatever fontconfig-less lookup finds
// first (DejaVu *Serif* here), so a known sans face is registered under our own alias instead.
const FONT_FILES: [string, string][] = [
  [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
  ],
  ["/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"],
  [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
  ],
];

let fontFamily: string | null = null;

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Registers the plot font (DejaVu Sans, else Liberation Sans) once and returns the family name to
 * use in CSS font strings. Without either installed, text falls back to Skia's default face.
 */
export function plotFont(): string {
  if (fontFamily !== null) return fontFamily;
  fontFamily = "sans-serif";
  for (const [regular, bold] of FONT_FILES) {
    if (!fileExists(regular)) continue;
    if (GlobalFonts.registerFromPath(regular, FONT_FAMILY) === null) continue;
    if (fileExists(bold)) GlobalFonts.registerFromPath(bold, FONT_FAMILY);
    fontFamily = FONT_FAMILY;
    break;
  }
  return fontFamily;
}

let chartReady = false;

function setupChart(): void {
  if (chartReady) return;
  Chart.register(...registerables, MatrixController, MatrixElement);
  Chart.defaults.font.family = plotFont();
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#222222";
  chartReady = true;
}

/** Paints the whole canvas white before anything else (PNG would otherwise be transparent). */
export const whiteBackground: Plugin = {
  id: "whiteBackground",
  beforeDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

/** Chart.js title-plugin options for a bold plot title (hidden when `text` is empty). */
export function titleOptions(text: string | undefined) {
  return {
    display: !!text,
    text: text ?? "",
    font: { size: 16, weight: "bold" as const },
    padding: { top: 6, bottom: 10 },
  };
}

/** Throws unless `v` is a positive integer (pixel sizes, bin counts). */
export function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new Error(`${name}: must be a positive integer, got ${v}`);
  }
}

/** A blank canvas of `width` x `height` pixels with the plot font registered. */
export function createPlotCanvas(width: number, height: number): Canvas {
  checkPositiveInt("width", width);
  checkPositiveInt("height", height);
  if (width > 16384 || height > 16384) {
    throw new Error(`width/height: must be at most 16384 pixels, got ${width} x ${height}`);
  }
  plotFont();
  return createCanvas(width, height);
}

/** PNG bytes of a canvas (a plain Uint8Array copy, not a Node Buffer). */
export function encodePng(canvas: Canvas): Uint8Array {
  return new Uint8Array(canvas.toBuffer("image/png"));
}

/**
 * Renders a Chart.js configuration to PNG bytes at exactly `width` x `height` pixels on a white
 * background. Animation, responsiveness and device-pixel scaling are forced off; `extraPlugins`
 * are inline plugins (drawing text, colour bars) for this one chart.
 */
export function renderChart(
  config: ChartConfiguration,
  width: number,
  height: number,
  extraPlugins: Plugin[] = [],
): Uint8Array {
  return withChart({ config, width, height, plugins: extraPlugins }, encodePng);
}

/** A chart ready to draw: its configuration, pixel size and inline plugins. */
export interface ChartSpec {
  config: ChartConfiguration;
  width: number;
  height: number;
  /** Inline plugins for this one chart (see renderChart's `extraPlugins`). */
  plugins?: Plugin[];
}

/**
 * Draws `chart` as renderChart does and hands the drawn canvas to `use` (e.g. to copy it into a
 * larger image) before the chart is destroyed; returns what `use` returns.
 */
export function withChart<T>(chart: ChartSpec, use: (canvas: Canvas) => T): T {
  const { config, width, height } = chart;
  setupChart();
  const canvas = createPlotCanvas(width, height);
  const drawn = new Chart(canvas as unknown as ChartItem, {
    ...config,
    options: { ...config.options, animation: false, responsive: false, devicePixelRatio: 1 },
    plugins: [whiteBackground, ...(config.plugins ?? []), ...(chart.plugins ?? [])],
  } as ChartConfiguration);
  try {
    return use(canvas);
  } finally {
    drawn.destroy();
  }
}

/** Writes PNG bytes to `path` atomically (temp file + rename), creating the directory. */
export async function savePng(path: string, bytes: Uint8Array): Promise<void> {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!(bytes instanceof Uint8Array) || sig.some((b, i) => bytes[i] !== b)) {
    throw new Error("bytes: must be PNG data (starting with the 8-byte PNG signature)");
  }
  await writeFileAtomic(path, bytes);
}
