/**
 * Per-run router load plots: the PNG of a record (one heatmap panel per MoE layer, cells
 * coloured by load / uniform load), and the sweep flag that writes them for a real tiny sweep.
 */
import assert from "node:assert/strict";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { colormap } from "../lib/plot/colors.ts";
import { PANEL_LAYOUT } from "../lib/plot/panels.ts";
import {
  loadPanelSize,
  loadPlotPng,
  loadPlotSize,
  routedExperts,
  writeLoadPlots,
} from "../lib/sweep/load_plots.ts";
import { runId } from "../lib/sweep/runid.ts";
import type { RunRecord } from "../lib/sweep/types.ts";
import { fakeRecord, makeRuns } from "./support/fake_sweep.ts";
import { task } from "./support/task.ts";
import { withTempDir } from "./support/temp.ts";
import { TINY_FIG2_RUN } from "./support/fixtures.ts";

function pngSize(png: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  const v = new DataView(png.buffer, png.byteOffset);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** A fake record whose epochs carry `layers` MoE layers of router loads. */
function withLoads(layers: number[][][]): RunRecord {
  const rec = fakeRecord(makeRuns(1)[0], "2026-01-01T00:00:00.000Z");
  rec.result.curves.forEach((c, epoch) => {
    c.router = layers.map((perEpoch) => ({ loads: perEpoch[epoch] }));
  });
  return rec;
}

/** How many pixels of the PNG are within 2 per channel of the colour of value t in [0, 1]. */
async function countColour(png: Uint8Array, t: number): Promise<number> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const want = colormap("viridis")(t);
  let n = 0;
  for (let o = 0; o < d.length; o += 4) {
    if (want.every((v, i) => Math.abs(d[o + i] - v) <= 2)) n++;
  }
  return n;
}

Deno.test("load plot: one panel per layer, sized from the grid; cells coloured by load", async () => {
  // 3 epochs (fakeRecord); layer 0: 4 experts, expert 3 dead; layer 1: 2 experts; layer 2: 8.
  const l0 = [[0.5, 0.25, 0.25, 0], [0.5, 0.25, 0.25, 0], [0.25, 0.25, 0.5, 0]];
  const l1 = [[0.5, 0.5], [0.75, 0.25], [1, 0]];
  const l2 = [0, 1, 2].map(() => new Array(8).fill(1 / 8));
  const deep = withLoads([l0, l1, l2]);
  assert.deepEqual(routedExperts(deep), [4, 2, 8]);
  const png = loadPlotPng(deep)!;
  const size = pngSize(png);
  assert.deepEqual(size, loadPlotSize([4, 2, 8], 3));
  const panels = [4, 2, 8].map((m) => loadPanelSize(m, 3));
  assert.equal(
    size.height,
    PANEL_LAYOUT.titleBand + panels.reduce((s, p) => s + p.height, 0) + 2 * PANEL_LAYOUT.gap,
  );
  const one = withLoads([l0]);
  assert.deepEqual(pngSize(loadPlotPng(one)!), loadPlotSize([4], 3));
  // Range [0, 2] (max load x m = 2 here): a dead expert is the scale's bottom colour, a fair
  // share (load 1/m) its middle. Layer 0 alone has 3 dead cells; the deep plot adds layer 1's
  // one dead cell and layer 2's 24 fair-share cells.
  const dead1 = await countColour(loadPlotPng(one)!, 0);
  const dead3 = await countColour(png, 0);
  assert.ok(dead1 > 0 && dead3 > dead1, `dead cells: ${dead1} vs ${dead3}`);
  assert.ok(await countColour(png, 0.5) > await countColour(loadPlotPng(one)!, 0.5));
  // Deterministic: a record's plot is a pure function of it.
  assert.deepEqual(loadPlotPng(deep), png);
});

Deno.test("load plot: records without router metrics get none; only missing plots are drawn", async () => {
  await withTempDir("load-plots-", async (dir) => {
    const plain = fakeRecord(makeRuns(2)[1], "2026-01-01T00:00:00.000Z");
    assert.equal(loadPlotPng(plain), null);
    const rec = withLoads([[[0.5, 0.5], [0.5, 0.5], [1, 0]]]);
    assert.deepEqual(await writeLoadPlots(dir, [plain, rec]), [`${dir}/loads/${rec.run_id}.png`]);
    assert.deepEqual(await writeLoadPlots(dir, [plain, rec]), []);
    assert.deepEqual(await writeLoadPlots(dir, [rec], { redraw: true }), [
      `${dir}/loads/${rec.run_id}.png`,
    ]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/loads`)].map((e) => e.name), [
      `${rec.run_id}.png`,
    ]);
  });
});

const TINY = TINY_FIG2_RUN;

Deno.test("sweep --load-plots: one PNG per run, same run ids; deno task plot --loads redraws them", async () => {
  await withTempDir("load-plots-sweep-", async (root) => {
    const dry = await task("sweep", [...TINY, "--out", root, "--dry-run"]);
    const dryFlag = await task("sweep", [...TINY, "--out", root, "--dry-run", "--load-plots"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dryFlag.stdout, dry.stdout, "the flag changes neither runs nor folder");
    const r = await task("sweep", [...TINY, "--out", root, "--load-plots"]);
    assert.equal(r.code, 0, r.stderr);
    const dir = /-> (\S+)\n/.exec(r.stderr)![1];
    const ids = [...Deno.readDirSync(`${dir}/runs`)].map((e) => e.name.replace(/\.json$/, ""))
      .sort();
    assert.equal(ids.length, 4);
    const pngs = [...Deno.readDirSync(`${dir}/loads`)].map((e) => e.name).sort();
    assert.deepEqual(pngs, ids.map((id) => `${id}.png`));
    for (const id of ids) {
      const rec: RunRecord = JSON.parse(Deno.readTextFileSync(`${dir}/runs/${id}.json`));
      assert.equal(runId(rec.config), id);
      const m = rec.config.model.kind === "moe" ? rec.config.model.layer.m : NaN;
      assert.deepEqual(
        pngSize(Deno.readFileSync(`${dir}/loads/${id}.png`)),
        loadPlotSize([m], 2),
      );
    }
    const before = Deno.readFileSync(`${dir}/loads/${ids[0]}.png`);
    Deno.removeSync(`${dir}/loads/${ids[1]}.png`);
    const p = await task("plot", ["--loads", dir]);
    assert.equal(p.code, 0, p.stderr);
    assert.ok(p.stdout.includes(`${dir}/loads/${ids[1]}.png`), p.stdout);
    assert.deepEqual(Deno.readFileSync(`${dir}/loads/${ids[0]}.png`), before);
    assert.equal([...Deno.readDirSync(`${dir}/loads`)].length, 4);
    const noRuns = await task("plot", ["--loads", `${root}/nowhere`]);
    assert.notEqual(noRuns.code, 0);
  });
});

Deno.test("sweep --load-plots on deep models: one panel per MoE layer", async () => {
  await withTempDir("load-plots-deep-", async (root) => {
    const r = await task("sweep", [
      "paperB-exp2",
      "--widths",
      "16",
      "--epochs",
      "2",
      "--samples-per-epoch",
      "512",
      "--test-samples",
      "256",
      "--threads",
      "1",
      "--out",
      root,
      "--load-plots",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const dir = /-> (\S+)\n/.exec(r.stderr)![1];
    const archs: string[] = [];
    for (const e of Deno.readDirSync(`${dir}/runs`)) {
      const rec: RunRecord = JSON.parse(Deno.readTextFileSync(`${dir}/runs/${e.name}`));
      const deep = rec.config.model.kind === "deep" ? rec.config.model.deep : {};
      const layers = new Array(Number(deep.layers)).fill(Number(deep.experts));
      archs.push(`${rec.config.labels.arch}: ${layers.length} panels`);
      assert.deepEqual(routedExperts(rec), layers);
      assert.deepEqual(
        pngSize(Deno.readFileSync(`${dir}/loads/${rec.run_id}.png`)),
        loadPlotSize(layers, 2),
      );
    }
    assert.deepEqual(archs.sort(), ["1-6-MoE: 1 panels", "2-3-MoE: 2 panels"]);
  });
});
