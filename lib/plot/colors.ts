/** Colour maps for continuous values and a categorical palette, as plain RGB triples. */

/** An sRGB colour, each channel an integer 0..255. */
export type Rgb = readonly [number, number, number];

/** Names of the continuous colour scales `colormap` knows. */
export const COLOR_SCALES = ["viridis", "magma", "plasma", "blues", "greys"] as const;
/** A continuous colour scale name. */
export type ColorScale = typeof COLOR_SCALES[number];

// Evenly spaced stops of matplotlib's maps (viridis/magma/plasma) and ColorBrewer's Blues;
// linear interpolation between 10 stops is visually indistinguishable from the 256-entry LUTs.
const STOPS: Record<ColorScale, string[]> = {
  viridis: [
    "#440154",
    "#482878",
    "#3e4989",
    "#31688e",
    "#26828e",
    "#1f9e89",
    "#35b779",
    "#6ece58",
    "#b5de2b",
    "#fde725",
  ],
  magma: [
    "#000004",
    "#180f3d",
    "#440f76",
    "#721f81",
    "#9e2f7f",
    "#cd4071",
    "#f1605d",
    "#fd9668",
    "#feca8d",
    "#fcfdbf",
  ],
  plasma: [
    "#0d0887",
    "#46039f",
    "#7201a8",
    "#9c179e",
    "#bd3786",
    "#d8576b",
    "#ed7953",
    "#fb9f3a",
    "#fdca26",
    "#f0f921",
  ],
  blues: [
    "#f7fbff",
    "#deebf7",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
  ],
  greys: ["#f7f7f7", "#111111"],
};

function hexRgb(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const PARSED = Object.fromEntries(
  Object.entries(STOPS).map(([k, v]) => [k, v.map(hexRgb)]),
) as Record<ColorScale, Rgb[]>;

/**
 * The colour function of a named scale: t in [0, 1] (clamped; NaN counts as 0) to RGB,
 * t = 0 the first stop (dark for viridis/magma/plasma, light for blues/greys).
 */
export function colormap(name: ColorScale): (t: number) => Rgb {
  const stops = PARSED[name];
  if (!stops) {
    throw new Error(`colorScale: must be one of ${COLOR_SCALES.join(", ")}, got ${String(name)}`);
  }
  return (t: number): Rgb => {
    const u = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(u));
    const f = u - i;
    const [a, b] = [stops[i], stops[i + 1]];
    return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as unknown as Rgb;
  };
}

// matplotlib's tab10: the most familiar set of ten well-separated categorical colours.
const TAB10 = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
].map(hexRgb);

function hslRgb(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h * 12) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

/**
 * `n` distinguishable colours. The first ten are tab10; beyond that hues step by the golden
 * angle and lightness cycles through three levels, so neighbours in index order stay distinct.
 * Prefix-stable: palette(n)[i] does not depend on n.
 */
export function palette(n: number): Rgb[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`n: must be a non-negative integer, got ${n}`);
  const out: Rgb[] = [];
  for (let i = 0; i < n; i++) {
    if (i < TAB10.length) out.push(TAB10[i]);
    else {
      const j = i - TAB10.length;
      const hue = (0.07 + j * 0.381966) % 1; // golden-angle fraction of a turn
      out.push(hslRgb(hue, 0.7 - 0.15 * (Math.floor(j / 3) % 2), [0.5, 0.32, 0.68][j % 3]));
    }
  }
  return out;
}

/** CSS `rgb(...)` / `rgba(...)` text of a colour. */
export function rgbCss(c: Rgb, alpha = 1): string {
  return alpha === 1 ? `rgb(${c[0]},${c[1]},${c[2]})` : `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;
}

/** WCAG relative luminance in [0, 1]; used to pick black or white text on a filled cell. */
export function luminance(c: Rgb): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** Black or white, whichever contrasts more with `bg` (WCAG contrast ratio). */
export function textColorOn(bg: Rgb): Rgb {
  const l = luminance(bg);
  return (1.05 / (l + 0.05)) > ((l + 0.05) / 0.05) ? [255, 255, 255] : [0, 0, 0];
}
