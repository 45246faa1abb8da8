/**
 * Per-run router load plots: for a run record with router metrics, one PNG
 * (`<outDir>/loads/<run_id>.png`) with a heatmap per MoE layer of every expert's load over the
 * epochs (rows experts, columns epochs), titled with the run's labels. A cell is the expert's
 * load divided by the uniform load 1/m (1 = its fair share, 0 = dead), on one colour scale for
 * all layers. A record is immutable, so
 * its plot is a pure function of it: the sweep draws the plots still missing, `deno task plot
 * --loads` redraws them all.
 */
import { heatmapChart } from "../plot/heatmap.ts";
import { stackedPng, stackedSize } from "../plot/panels.ts";
import { savePng } from "../plot/render.ts";
import type { ChartSpec } from "../plot/render.ts";
import { loadStats } from "./router_loads.ts";
import { compactLabel } from "./tables.ts";
import type { RunRecord } from "./types.ts";
import { exists } from "../io/exists.ts";

/** The folder of the load plots inside an experiment directory. */
export const LOAD_PLOTS_DIR = "loads";

/** The pixel size of one layer's panel: `m` experts (rows) by `epochs` columns. */
export function loadPanelSize(m: number, epochs: number): { width: number; height: number } {
  return {
    width: Math.min(1400, Math.max(640, 240 + 28 * epochs)),
    height: 110 + Math.max(160, Math.min(720, 18 * m)),
  };
}

/** The pixel size of a run's load plot: one panel per layer (each layer's expert count). */
export function loadPlotSize(experts: readonly number[], epochs: number) {
  return stackedSize(experts.map((m) => loadPanelSize(m, epochs)), true);
}

/** The layers' expert counts of a record's router metrics; empty when it has none. */
export function routedExperts(record: RunRecord): number[] {
  const curves = record.result.curves;
  const router = curves.length > 0 && curves.every((c) => c.router) ? curves[0].router! : [];
  return router.map((l) => l.loads.length);
}

/** Layer l's loads / (1/m): rows experts, columns epochs. */
function layerValues(record: RunRecord, l: number): number[][] {
  const curves = record.result.curves;
  const m = curves[0].router![l].loads.length;
  return Array.from({ length: m }, (_, e) =>
    curves.map((c) => {
      const loads = c.router![l]?.loads;
      if (!loads || loads.length !== m) throw new Error(`epoch ${c.epoch}: layer ${l} changed m`);
      return loads[e] * m;
    }));
}

/** One layer's panel (colour range [0, hi]), titled with the last epoch's statistics. */
function layerPanel(record: RunRecord, l: number, values: number[][], hi: number): ChartSpec {
  const curves = record.result.curves;
  const m = values.length;
  const last = curves[curves.length - 1].router![l];
  const s = loadStats(last.loads);
  // Expert-choice layers: loads are uniform by construction; what varies is who is left out.
  const unrouted = last.unrouted === undefined ? "" : `, unrouted ${last.unrouted.toFixed(3)}`;
  const few = m <= 16 && curves.length <= 20;
  return heatmapChart({
    title: `layer ${l} (${m} experts); last epoch: max/mean ${s.maxMean.toFixed(2)}, ` +
      `entropy/ln m ${s.entropy.toFixed(3)}, dead ${s.dead}${unrouted}`,
    rowLabels: Array.from({ length: m }, (_, e) => `e${e}`),
    colLabels: curves.map((c) => String(c.epoch)),
    values,
    xLabel: "epoch",
    yLabel: "expert",
    valueLabel: "load / uniform load (1/m)",
    range: [0, hi],
    showValues: few,
    valueFormat: (v) => v.toFixed(2),
    ...loadPanelSize(m, curves.length),
  });
}

/** The load plot of `record`, or null when the record has no router metrics. */
export function loadPlotPng(record: RunRecord): Uint8Array | null {
  const experts = routedExperts(record);
  if (experts.length === 0) return null;
  const values = experts.map((_, l) => layerValues(record, l));
  // One colour scale for every layer: 0 (dead) to at least 2 (twice the fair share).
  const hi = Math.max(2, ...values.flat(2));
  return stackedPng(values.map((v, l) => layerPanel(record, l, v, hi)), {
    title: `${record.config.experiment} ${record.run_id}: ${compactLabel(record.config)}`,
  });
}

/**
 * Writes `<outDir>/loads/<run_id>.png` for every record with router metrics: only those not
 * there yet, or all with `redraw`. Returns the paths written.
 */
export async function writeLoadPlots(
  outDir: string,
  records: readonly RunRecord[],
  opts: { redraw?: boolean } = {},
): Promise<string[]> {
  const dir = `${outDir.replace(/\/+$/, "") || "/"}/${LOAD_PLOTS_DIR}`;
  const written: string[] = [];
  for (const r of records) {
    const path = `${dir}/${r.run_id}.png`;
    if (!opts.redraw && await exists(path)) continue;
    const png = loadPlotPng(r);
    if (!png) continue;
    await savePng(path, png);
    written.push(path);
  }
  return written;
}
