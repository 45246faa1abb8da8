/**
 * Raw pixel maps as PNG (e.g. the 2-D input-space partition of a router, each region coloured
 * by its active expert set), alone or as titled panels side by side. Drawn directly on the
 * canvas with nearest-neighbour upscaling, so every source pixel is an exact scale x scale block.
 */
import type { SKRSContext2D } from "@napi-rs/canvas";
import { checkPositiveInt, createPlotCanvas, encodePng, plotFont } from "./render.ts";

export { palette } from "./colors.ts";

/** A raw image: `rgb` is row-major, top row first, 3 bytes per pixel (length width*height*3). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Pixels, 3 bytes each. */
  rgb: Uint8Array;
}

/** Inputs of `rgbImagePng`. */
export interface RgbImageSpec extends RgbImage {
  /** Drawn centred in a band of `IMAGE_LAYOUT.titleBand` pixels above the image. */
  title?: string;
  /** Integer upscaling factor; default floor(512 / max(width, height)), at least 1. */
  scale?: number;
}

/** A titled panel of `sideBySidePng`. */
export interface Panel extends RgbImage {
  /** Drawn above the panel. */
  title: string;
}

/** Options of `sideBySidePng`. */
export interface SideBySideOptions {
  /** Overall title, in a band of `IMAGE_LAYOUT.superTitleBand` pixels at the very top. */
  title?: string;
  /** Integer upscaling factor for every panel; default floor(512 / largest side), at least 1. */
  scale?: number;
}

/**
 * Pixel layout of the image plots, so callers (and tests) can locate a source pixel:
 * `rgbImagePng` has no margin (the image starts at x = 0, y = title ? titleBand : 0);
 * `sideBySidePng` puts `pad` around everything and `gap` between panels, panel i at
 * x = pad + sum over j < i of (width_j * scale + gap),
 * y = pad + (title ? superTitleBand : 0) + (any panel title ? titleBand : 0).
 */
export const IMAGE_LAYOUT = { pad: 10, gap: 20, titleBand: 28, superTitleBand: 34 } as const;

function checkImage(name: string, img: RgbImage): void {
  checkPositiveInt(`${name}.width`, img.width);
  checkPositiveInt(`${name}.height`, img.height);
  if (!(img.rgb instanceof Uint8Array) || img.rgb.length !== img.width * img.height * 3) {
    throw new Error(
      `${name}.rgb: must be a Uint8Array of width*height*3 = ${img.width * img.height * 3} bytes`,
    );
  }
}

function defaultScale(maxSide: number): number {
  return Math.max(1, Math.floor(512 / maxSide));
}

/** Copies `img` upscaled by `scale` (nearest neighbour) with its top-left corner at (x, y). */
function blit(ctx: SKRSContext2D, img: RgbImage, scale: number, x: number, y: number): void {
  const W = img.width * scale;
  const H = img.height * scale;
  const out = ctx.createImageData(W, H);
  const d = out.data;
  for (let r = 0; r < H; r++) {
    const srcRow = Math.floor(r / scale) * img.width;
    for (let c = 0; c < W; c++) {
      const s = (srcRow + Math.floor(c / scale)) * 3;
      const o = (r * W + c) * 4;
      d[o] = img.rgb[s];
      d[o + 1] = img.rgb[s + 1];
      d[o + 2] = img.rgb[s + 2];
      d[o + 3] = 255;
    }
  }
  ctx.putImageData(out, x, y);
}

/** Draws `text` centred at (cx, cy), shrinking the font until it fits `maxWidth`. */
function centredText(
  ctx: SKRSContext2D,
  text: string,
  cx: number,
  cy: number,
  maxWidth: number,
  size: number,
): void {
  const family = plotFont();
  let px = size;
  ctx.font = `bold ${px}px ${family}`;
  while (px > 8 && ctx.measureText(text).width > maxWidth) {
    px--;
    ctx.font = `bold ${px}px ${family}`;
  }
  ctx.fillStyle = "#222222";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, cx, cy);
}

/**
 * PNG of one raw RGB image upscaled by `scale`: (width*scale) x (height*scale) pixels, plus a
 * title band of IMAGE_LAYOUT.titleBand pixels on top when `title` is given.
 */
export function rgbImagePng(spec: RgbImageSpec): Uint8Array {
  checkImage("image", spec);
  const scale = spec.scale ?? defaultScale(Math.max(spec.width, spec.height));
  checkPositiveInt("scale", scale);
  const band = spec.title ? IMAGE_LAYOUT.titleBand : 0;
  const W = spec.width * scale;
  const canvas = createPlotCanvas(W, spec.height * scale + band);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (spec.title) centredText(ctx, spec.title, W / 2, band / 2, W - 4, 15);
  blit(ctx, spec, scale, 0, band);
  return encodePng(canvas);
}

/**
 * PNG of several raw images side by side, top-aligned, each with its title above it, all at
 * one `scale`; see IMAGE_LAYOUT for the exact geometry.
 */
export function sideBySidePng(panels: Panel[], opts: SideBySideOptions = {}): Uint8Array {
  if (!Array.isArray(panels) || panels.length === 0) {
    throw new Error("panels: must be a non-empty array of {title, width, height, rgb}");
  }
  panels.forEach((p, i) => checkImage(`panels[${i}]`, p));
  const { pad, gap, titleBand, superTitleBand } = IMAGE_LAYOUT;
  const scale = opts.scale ??
    defaultScale(Math.max(...panels.map((p) => Math.max(p.width, p.height))));
  checkPositiveInt("scale", scale);
  const top = pad + (opts.title ? superTitleBand : 0);
  const band = panels.some((p) => p.title) ? titleBand : 0;
  const W = 2 * pad + panels.reduce((s, p) => s + p.width * scale, 0) + gap * (panels.length - 1);
  const H = top + band + Math.max(...panels.map((p) => p.height * scale)) + pad;
  const canvas = createPlotCanvas(W, H);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, H);
  if (opts.title) centredText(ctx, opts.title, W / 2, pad + superTitleBand / 2 - 2, W - 8, 17);
  let x = pad;
  for (const p of panels) {
    const w = p.width * scale;
    if (p.title) centredText(ctx, p.title, x + w / 2, top + band / 2, w + gap - 4, 14);
    blit(ctx, p, scale, x, top + band);
    x += w + gap;
  }
  return encodePng(canvas);
}
