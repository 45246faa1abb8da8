/** Axis tick labelling shared by the Chart.js plots. */

/** Tick text: plain decimals for moderate magnitudes, exponent form otherwise. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e-3 && a < 1e6) return String(Number(v.toPrecision(4)));
  return Number(v.toPrecision(4)).toExponential().replace("e+", "e");
}

/**
 * Chart.js tick options for a log axis: label only 1, 2 and 5 times a power of ten (the other
 * ticks crowd the axis). Auto-skip is off because it would drop labelled ticks, not blank ones.
 */
export const LOG_TICKS = {
  autoSkip: false,
  maxRotation: 0,
  callback: (v: number | string) => {
    const n = Number(v);
    const m = n / 10 ** Math.floor(Math.log10(n) + 1e-9);
    return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? formatTick(n) : "";
  },
};
