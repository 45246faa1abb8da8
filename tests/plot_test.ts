import assert from "node:assert/strict";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import {
  colormap,
  FONT_FAMILY,
  heatmapPng,
  histogramBins,
  histogramPng,
  IMAGE_LAYOUT,
  linesPng,
  palette,
  plotFont,
  type Rgb,
  rgbImagePng,
  savePng,
  sideBySidePng,
} from "../lib/plot/mod.ts";

/** Set PLOT_SAMPLES_DIR to keep one PNG of each kind for looking at. */
const SAMPLES = Deno.env.get("PLOT_SAMPLES_DIR");
async function keep(name: string, png: Uint8Array): Promise<void> {
  if (SAMPLES) await savePng(`${SAMPLES}/${name}.png`, png);
}

/** Checks the PNG signature and returns the IHDR size. */
function pngSize(png: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

interface Pixels {
  width: number;
  height: number;
  at(x: number, y: number): Rgb;
}

/** Decodes a PNG back to RGB pixels through @napi-rs/canvas. */
async function decode(png: Uint8Array): Promise<Pixels> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  return {
    width: img.width,
    height: img.height,
    at: (x, y) => {
      const o = (y * img.width + x) * 4;
      return [d[o], d[o + 1], d[o + 2]];
    },
  };
}

/** Count and centroid of the pixels within `tol` (per channel) of `color`. */
function find(p: Pixels, color: Rgb, tol = 1) {
  let n = 0, sx = 0, sy = 0, x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const c = p.at(x, y);
      if (c.every((v, i) => Math.abs(v - color[i]) <= tol)) {
        n++, sx += x, sy += y;
        x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
      }
    }
  }
  return { n, cx: sx / n, cy: sy / n, x0, x1, y0, y1 };
}

/** Most pixels of `color` in any one row ("row") or column ("col"): a line's drawn length. */
function longest(p: Pixels, color: Rgb, along: "row" | "col", tol = 1): number {
  const [outer, inner] = along === "row" ? [p.height, p.width] : [p.width, p.height];
  let best = 0;
  for (let a = 0; a < outer; a++) {
    let n = 0;
    for (let b = 0; b < inner; b++) {
      const c = along === "row" ? p.at(b, a) : p.at(a, b);
      if (c.every((v, i) => Math.abs(v - color[i]) <= tol)) n++;
    }
    best = Math.max(best, n);
  }
  return best;
}

const WHITE: Rgb = [255, 255, 255];

Deno.test("colormap viridis matches matplotlib at 0, 0.5, 1 and clamps", () => {
  const v = colormap("viridis");
  assert.deepEqual(v(0), [68, 1, 84]);
  assert.deepEqual(v(1), [253, 231, 37]);
  assert.deepEqual(v(2), v(1));
  assert.deepEqual(v(-1), v(0));
  // matplotlib's viridis(0.5) is #21918c = (33, 145, 140); 10-stop interpolation is close.
  v(0.5).forEach((c, i) => assert.ok(Math.abs(c - [33, 145, 140][i]) <= 3, `channel ${i}: ${c}`));
  assert.throws(() => colormap("jet" as never), /colorScale: must be one of viridis/);
});

Deno.test("palette: distinct, prefix-stable colours", () => {
  const p = palette(40);
  assert.equal(new Set(p.map((c) => c.join(","))).size, 40);
  assert.deepEqual(palette(12), p.slice(0, 12));
  assert.deepEqual(p[0], [31, 119, 180]);
  assert.throws(() => palette(-1), /n: must be a non-negative integer/);
});

Deno.test("a sans-serif plot font is installed and registered", () => {
  assert.equal(
    plotFont(),
    FONT_FAMILY,
    "no DejaVu/Liberation Sans: apt-get install fonts-dejavu-core",
  );
});

Deno.test("heatmap: size, cell colours in row/column order, values printed", async () => {
  const rows = ["t0", "t1", "t2"];
  const cols = ["s0", "s1", "s2"];
  const values = [[0, 1, 2], [3, 4, 5], [6, 7, 8]];
  const base = { title: "grid", rowLabels: rows, colLabels: cols, xLabel: "x", yLabel: "y" };
  const png = heatmapPng({ ...base, values, showValues: false, width: 500, height: 400 });
  assert.deepEqual(pngSize(png), { width: 500, height: 400 });
  const px = await decode(png);
  const v = colormap("viridis");
  const cells = values.map((r) => r.map((val) => find(px, v(val / 8))));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const c = cells[i][j];
      assert.ok(c.n > 1500, `cell ${i},${j} has ${c.n} pixels of its colour`);
      // The centre of a cell is its colour, not the white background.
      const centre = px.at(Math.round(c.cx), Math.round(c.cy));
      assert.notDeepEqual(centre, WHITE);
      assert.deepEqual(centre, v(values[i][j] / 8));
      if (j > 0) assert.ok(c.cx > cells[i][j - 1].cx + 50, "columns run left to right");
      if (i > 0) assert.ok(c.cy > cells[i - 1][j].cy + 50, "rows run top to bottom");
    }
  }

  // With values printed: dark cells carry white text, light cells black text, null is grey.
  const withNull = values.map((r) => [...r] as (number | null)[]);
  withNull[1][1] = null;
  const png2 = heatmapPng({ ...base, values: withNull, width: 500, height: 400 });
  await keep("heatmap", png2);
  const px2 = await decode(png2);
  const dark = cells[0][0];
  const light = cells[2][2];
  const inBox = (b: typeof dark, color: Rgb) => {
    let n = 0;
    for (let y = b.y0; y <= b.y1; y++) {
      for (let x = b.x0; x <= b.x1; x++) {
        if (px2.at(x, y).every((c, k) => Math.abs(c - color[k]) < 40)) n++;
      }
    }
    return n;
  };
  assert.ok(inBox(dark, WHITE) > 20, "white digits on the darkest cell");
  assert.ok(inBox(light, [0, 0, 0]) > 20, "black digits on the lightest cell");
  assert.ok(inBox(dark, [0, 0, 0]) === 0);
  const grey = find(px2, [230, 230, 230], 0);
  assert.ok(grey.n > 1500, "missing cell is grey");
  assert.ok(Math.abs(grey.cx - cells[1][1].cx) < 5 && Math.abs(grey.cy - cells[1][1].cy) < 5);
});

Deno.test("heatmap: default size grows with the grid; bad input is rejected", () => {
  const names = [4, 8, 12, 16, 20, 24, 28, 32].map((m) => `${m}e${m / 2}a`);
  const values = names.map((_, i) => names.map((_, j) => (j >= i ? 0.01 : 0.03 * (i - j))));
  const png = heatmapPng({
    title: "Figure 2",
    rowLabels: names,
    colLabels: names,
    values,
    xLabel: "student",
    yLabel: "teacher",
    valueLabel: "test loss / zero loss",
  });
  const { width, height } = pngSize(png);
  assert.ok(width > 700 && height > 400, `${width} x ${height}`);
  const spec = { title: "", rowLabels: ["a"], colLabels: ["b"], xLabel: "", yLabel: "" };
  assert.throws(
    () => heatmapPng({ ...spec, values: [[1, 2]] }),
    /values\[0\]: must have one entry/,
  );
  assert.throws(() => heatmapPng({ ...spec, values: [] }), /values: must have one row/);
  assert.throws(
    () => heatmapPng({ ...spec, rowLabels: ["a", "a"], values: [[1], [2]] }),
    /rowLabels: duplicate label "a"/,
  );
  assert.throws(
    () => heatmapPng({ ...spec, values: [[1]], colorScale: "nope" as never }),
    /colorScale: must be one of/,
  );
  assert.throws(() => heatmapPng({ ...spec, values: [[1]], range: [1, 0] }), /range:/);
});

Deno.test("lines: log axes make equal ratios equal lengths", async () => {
  const [c0, c1] = palette(2);
  // Horizontal segments x in [1, 10] and [10, 100]: equal length on log-x only.
  const spec = {
    title: "segments",
    xLabel: "x",
    yLabel: "y",
    series: [
      { label: "a", points: [{ x: 1, y: 1 }, { x: 10, y: 1 }] },
      { label: "b", points: [{ x: 10, y: 2 }, { x: 100, y: 2 }] },
    ],
    width: 640,
    height: 420,
  };
  const log = await decode(linesPng({ ...spec, logX: true }));
  const lin = linesPng(spec);
  assert.deepEqual(pngSize(lin), { width: 640, height: 420 });
  const linPx = await decode(lin);
  const ratioLog = longest(log, c1, "row") / longest(log, c0, "row");
  const ratioLin = longest(linPx, c1, "row") / longest(linPx, c0, "row");
  assert.ok(ratioLog > 0.9 && ratioLog < 1.1, `log-x ratio ${ratioLog}`);
  assert.ok(ratioLin > 6, `linear-x ratio ${ratioLin}`);
  // Higher y is drawn higher up.
  assert.ok(find(log, c1).cy < find(log, c0).cy);

  // Vertical segments y in [1, 10] and [10, 100]: equal length on log-y only.
  const vert = linesPng({
    ...spec,
    logY: true,
    series: [
      { label: "a", points: [{ x: 1, y: 1 }, { x: 1, y: 10 }] },
      { label: "b", points: [{ x: 2, y: 10 }, { x: 2, y: 100 }] },
    ],
  });
  await keep("lines", vert);
  const vPx = await decode(vert);
  const ratioV = longest(vPx, c1, "col") / longest(vPx, c0, "col");
  assert.ok(ratioV > 0.9 && ratioV < 1.1, `log-y ratio ${ratioV}`);

  assert.throws(
    () => linesPng({ ...spec, logX: true, series: [{ label: "a", points: [{ x: 0, y: 1 }] }] }),
    /series\[0\]\.points\[0\]\.x: must be > 0 with logX/,
  );
  assert.throws(() => linesPng({ ...spec, series: [] }), /series: must be a non-empty array/);
});

Deno.test("histogramBins: counts, last edge inclusive, log bins, omitted", () => {
  const lin = histogramBins([0.5, 1.5, 1.5, 2.5, 3, 3], 3);
  assert.deepEqual(lin.counts, [1, 2, 3]);
  assert.equal(lin.edges.length, 4);
  assert.equal(lin.edges[0], 0.5);
  assert.equal(lin.edges[3], 3);
  assert.ok(Math.abs(lin.edges[1] - (0.5 + 2.5 / 3)) < 1e-12);
  const log = histogramBins([1, 10, 100, 1000, 0, -1, 5], 3, true);
  assert.deepEqual(log.counts, [2, 1, 2]);
  assert.equal(log.omitted, 2);
  log.edges.forEach((e, i) => assert.ok(Math.abs(e - 10 ** i) < 1e-9 * 10 ** i));
  // Every value lands in the bin whose edges contain it.
  const vals = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 7.3);
  const b = histogramBins(vals, 17);
  assert.equal(b.counts.reduce((s, c) => s + c, 0), 1000);
  for (let i = 0; i < 17; i++) {
    const inBin = vals.filter((v) =>
      v >= b.edges[i] && (i === 16 ? v <= b.edges[17] : v < b.edges[i + 1])
    );
    assert.equal(b.counts[i], inBin.length);
  }
  assert.deepEqual(histogramBins([2, 2], 2).edges, [1.5, 2, 2.5]);
  assert.throws(() => histogramBins([1, NaN]), /values\[1\]: must be a finite number/);
  assert.throws(
    () => histogramBins([0, -1], 4, true),
    /values: must contain at least one value > 0/,
  );
  assert.throws(() => histogramBins([1], 0), /bins: must be a positive integer/);
});

Deno.test("histogram: bars and a reference line left of them", async () => {
  const values = Array.from({ length: 400 }, (_, i) => 10 ** (-4 + 2 * ((i * 0.618) % 1)));
  const png = histogramPng({
    title: "Region masses",
    values,
    logX: true,
    xLabel: "mass",
    refLines: [{ x: 1e-5, label: "1/(2 C(m,k))" }],
  });
  await keep("histogram", png);
  assert.deepEqual(pngSize(png), { width: 720, height: 480 });
  const px = await decode(png);
  const bars = find(px, [
    255 - Math.round(0.85 * (255 - 31)),
    255 - Math.round(0.85 * (255 - 119)),
    255 - Math.round(0.85 * (255 - 180)),
  ], 3);
  const ref = find(px, palette(2)[1], 2);
  assert.ok(bars.n > 20000, `bar pixels ${bars.n}`);
  assert.ok(ref.n > 100, `reference line pixels ${ref.n}`);
  assert.ok(ref.x0 < bars.x0, "1e-5 is left of the sample (1e-4..1e-2)");
  assert.throws(
    () =>
      histogramPng({ title: "", values, logX: true, xLabel: "", refLines: [{ x: 0, label: "" }] }),
    /refLines\[0\]\.x: must be a finite number > 0/,
  );
});

Deno.test("rgbImagePng: exact upscaled pixels and title band", async () => {
  const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  const png = rgbImagePng({ width: 2, height: 2, rgb, scale: 10 });
  assert.deepEqual(pngSize(png), { width: 20, height: 20 });
  const px = await decode(png);
  assert.deepEqual(px.at(0, 0), [255, 0, 0]);
  assert.deepEqual(px.at(9, 9), [255, 0, 0]);
  assert.deepEqual(px.at(10, 0), [0, 255, 0]);
  assert.deepEqual(px.at(5, 15), [0, 0, 255]);
  assert.deepEqual(px.at(19, 19), [10, 20, 30]);
  const titled = rgbImagePng({ width: 2, height: 2, rgb, scale: 50, title: "T" });
  await keep("image", titled);
  assert.deepEqual(pngSize(titled), { width: 100, height: 100 + IMAGE_LAYOUT.titleBand });
  const tp = await decode(titled);
  assert.deepEqual(tp.at(0, IMAGE_LAYOUT.titleBand), [255, 0, 0]);
  assert.deepEqual(tp.at(0, IMAGE_LAYOUT.titleBand - 1), [255, 255, 255]);
  assert.throws(
    () => rgbImagePng({ width: 2, height: 2, rgb: new Uint8Array(11) }),
    /image\.rgb: must be a Uint8Array of width\*height\*3 = 12 bytes/,
  );
});

Deno.test("sideBySidePng: panels at the documented positions", async () => {
  const a = { title: "low k", width: 2, height: 1, rgb: new Uint8Array([200, 0, 0, 0, 200, 0]) };
  const b = {
    title: "high k",
    width: 1,
    height: 3,
    rgb: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
  };
  const s = 20;
  const png = sideBySidePng([a, b], { scale: s, title: "partitions" });
  await keep("side_by_side", png);
  const { pad, gap, titleBand, superTitleBand } = IMAGE_LAYOUT;
  const top = pad + superTitleBand + titleBand;
  assert.deepEqual(pngSize(png), {
    width: 2 * pad + 3 * s + gap,
    height: top + 3 * s + pad,
  });
  const px = await decode(png);
  assert.deepEqual(px.at(pad, top), [200, 0, 0]);
  assert.deepEqual(px.at(pad + s, top + s - 1), [0, 200, 0]);
  assert.deepEqual(px.at(pad, top + s), [255, 255, 255]); // below the short panel
  const bx = pad + 2 * s + gap;
  assert.deepEqual(px.at(bx, top), [1, 2, 3]);
  assert.deepEqual(px.at(bx + s - 1, top + 2 * s + 5), [7, 8, 9]);
  assert.deepEqual(px.at(bx - 1, top), [255, 255, 255]); // the gap
  assert.throws(() => sideBySidePng([]), /panels: must be a non-empty array/);
});

Deno.test("savePng writes atomically and refuses non-PNG bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const png = rgbImagePng({ width: 1, height: 1, rgb: new Uint8Array([1, 2, 3]), scale: 3 });
    const path = `${dir}/sub/one.png`;
    await savePng(path, png);
    assert.deepEqual(await Deno.readFile(path), png);
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(names, ["one.png"]);
    await assert.rejects(
      () => savePng(`${dir}/x.png`, new Uint8Array([1, 2, 3])),
      /bytes: must be PNG/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
