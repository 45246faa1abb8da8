/**
 * The papers' published numbers, in this one table: per preset, the metric the paper reports,
 * where it comes from, the agreement we aim for, and one entry per cell the paper prints (or
 * describes without printing a number, which stays blank: never invented). The reproduction
 * report (reproduction.ts) sets our results beside these.
 */

/** How our number is compared with the paper's. */
export type Comparison = "ratio" | "difference";

/** One published cell: the labels that identify it in our runs, and the paper's value. */
export interface PublishedCell {
  /** Label values of the cell, e.g. { teacher: "32e16a", student: "4e2a" }. */
  cell: Record<string, string | number>;
  /** The printed value; null where the paper gives no number (see `note`). */
  value: number | null;
  /** What the paper says where it prints no number. */
  note?: string;
}

/** A preset's published results. */
export interface Published {
  /** Paper, figure or table, e.g. "arXiv 2505.06839, Fig. 2". */
  source: string;
  /** Which of our per-run numbers the paper's value is compared with (a best.csv column). */
  metric: "score" | "min_test_loss";
  /** What the metric is, in words. */
  metricLabel: string;
  /** ratio (ours / paper) for errors, difference (ours - paper) for normalized losses. */
  comparison: Comparison;
  /** A cell agrees when |ratio| is within [1/tolerance, tolerance], or |difference| <= it. */
  tolerance: number;
  /** The label keys that identify a cell, in table order. */
  keys: string[];
  cells: PublishedCell[];
}

const NEAR_ZERO = "near 0 (heatmap colour; no number printed)";

const FIG2_CELLS: PublishedCell[] = [
  { cell: { teacher: "32e16a", student: "4e2a" }, value: 0.23 },
  { cell: { teacher: "32e16a", student: "8e4a" }, value: 0.22 },
  { cell: { teacher: "32e16a", student: "12e6a" }, value: 0.19 },
  { cell: { teacher: "32e16a", student: "16e8a" }, value: 0.16 },
  { cell: { teacher: "8e4a", student: "4e2a" }, value: 0.19 },
  { cell: { teacher: "8e4a", student: "8e4a" }, value: null, note: NEAR_ZERO },
  { cell: { teacher: "16e8a", student: "16e8a" }, value: null, note: NEAR_ZERO },
  { cell: { teacher: "32e16a", student: "32e16a" }, value: null, note: NEAR_ZERO },
];

/** The published values by preset name (the `base` of a sweep). */
export const PUBLISHED: Readonly<Record<string, Published>> = {
  fig2: {
    source: "arXiv 2505.06839, Fig. 2",
    metric: "score",
    metricLabel: "normalized test loss (min over epochs of test loss / zero loss, best lr)",
    comparison: "difference",
    tolerance: 0.04,
    keys: ["teacher", "student"],
    cells: FIG2_CELLS,
  },
  "paperB-exp1": {
    source: "arXiv 2505.24205, Experiment I (table of test errors)",
    metric: "min_test_loss",
    metricLabel: "test MSE (min over epochs, best lr)",
    comparison: "ratio",
    tolerance: 3,
    keys: ["arch", "D"],
    cells: [
      { cell: { arch: "1-4-MoE", D: 16 }, value: 3.40e-4 },
      { cell: { arch: "1-4-MoE", D: 32 }, value: 3.38e-4 },
      { cell: { arch: "1-4-MoE", D: 64 }, value: 3.17e-4 },
      { cell: { arch: "1-4-MoE", D: 128 }, value: 3.42e-4 },
    ],
  },
  "paperB-exp2": {
    source: "arXiv 2505.24205, Experiment II (table of test errors)",
    metric: "min_test_loss",
    metricLabel: "test MSE (min over epochs, best lr)",
    comparison: "ratio",
    tolerance: 10,
    keys: ["arch", "width"],
    cells: [
      { cell: { arch: "2-3-MoE", width: 16 }, value: 8.32e-5 },
      { cell: { arch: "2-3-MoE", width: 32 }, value: 1.41e-5 },
      { cell: { arch: "2-3-MoE", width: 64 }, value: 4.73e-6 },
      { cell: { arch: "2-3-MoE", width: 128 }, value: 2.59e-6 },
      { cell: { arch: "1-6-MoE", width: 16 }, value: 7.96e-5 },
      { cell: { arch: "1-6-MoE", width: 32 }, value: 2.17e-5 },
      { cell: { arch: "1-6-MoE", width: 64 }, value: 2.65e-5 },
      { cell: { arch: "1-6-MoE", width: 128 }, value: 4.60e-5 },
    ],
  },
};

/** The published results of preset `base`, or undefined when the paper prints none for it. */
export function publishedFor(base: string): Published | undefined {
  return Object.hasOwn(PUBLISHED, base) ? PUBLISHED[base] : undefined;
}
