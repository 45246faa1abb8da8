/** Headless PNG plots: pure functions from plain data to PNG bytes, plus an atomic PNG writer. */
export {
  type ChartSpec,
  createPlotCanvas,
  encodePng,
  FONT_FAMILY,
  plotFont,
  renderChart,
  savePng,
  withChart,
} from "./render.ts";
export { defaultValueFormat, heatmapChart, heatmapPng, type HeatmapSpec } from "./heatmap.ts";
export { PANEL_LAYOUT, stackedPng, stackedSize } from "./panels.ts";
export { type LineSeries, linesPng, type LinesSpec } from "./lines.ts";
export { type Bins, histogramBins, histogramPng, type HistogramSpec } from "./histogram.ts";
export {
  IMAGE_LAYOUT,
  type Panel,
  type RgbImage,
  rgbImagePng,
  type RgbImageSpec,
  type SideBySideOptions,
  sideBySidePng,
} from "./image.ts";
export {
  COLOR_SCALES,
  colormap,
  type ColorScale,
  luminance,
  palette,
  type Rgb,
  rgbCss,
  textColorOn,
} from "./colors.ts";
export { formatTick } from "./ticks.ts";
