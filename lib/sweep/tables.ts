/**
 * The tables derived from run records (pure functions; outputs.ts writes them):
 * results (one row per run), best (one row per cell: the best learning rate) and curves (one
 * row per run and epoch). Rows are sorted deterministically so rebuilt files are identical
 * whatever the order the runs finished in or the shards they ran on.
 */
import { canonicalJson } from "./runid.ts";
import type { RunConfig, RunRecord } from "./types.ts";
import { shorthand } from "../nn/config.ts";
import { curveRouterCells, resultRouterCells, routerColumns } from "./router_loads.ts";

/** The fixed leading columns of results.csv; the runs' label keys follow (sorted). */
export const RESULTS_COLUMNS = [
  "run_id",
  "experiment",
  "teacher",
  "student",
  "teacher_m",
  "teacher_k",
  "student_m",
  "student_k",
  "student_w",
  "lr",
  "seed",
  "epochs",
  "steps",
  "score",
  "final_test_loss",
  "min_test_loss",
  "zero_loss",
  "status",
  "wall_s",
  "strategy",
] as const;

/** The columns of curves.csv. */
export const CURVES_COLUMNS = [
  "run_id",
  "epoch",
  "train_loss",
  "test_loss",
  "zero_loss",
  "normalized",
  "lr",
] as const;

/** A table: its column names in order and one object per row. */
export interface Table {
  columns: string[];
  rows: Record<string, unknown>[];
}

type Cell = string | number | undefined;

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The teacher columns of a run: for a teacher target its shorthand and m, k; for a function
 * target the function's name; for a teacher file `labels.teacher` (else the file's name), with
 * m, k from labels.teacher_m / labels.teacher_k when present.
 */
export function teacherOf(c: RunConfig): { teacher: string; teacher_m: Cell; teacher_k: Cell } {
  const t = c.target;
  if (t.kind === "teacher") {
    return {
      teacher: shorthand(t.teacher.m, t.teacher.k),
      teacher_m: t.teacher.m,
      teacher_k: t.teacher.k,
    };
  }
  if (t.kind === "function") return { teacher: t.name, teacher_m: undefined, teacher_k: undefined };
  return {
    teacher: String(c.labels.teacher ?? basename(t.path)),
    teacher_m: c.labels.teacher_m,
    teacher_k: c.labels.teacher_k,
  };
}

/**
 * The student columns of a run: for an "moe" model its layer's shorthand and m, k, w; for a
 * "deep" model `labels.arch` (else "deep"), with m, k, w from labels.student_m, labels.student_k
 * and labels.student_w (else labels.width) when present.
 */
export function studentOf(
  c: RunConfig,
): { student: string; student_m: Cell; student_k: Cell; student_w: Cell } {
  const model = c.model;
  if (model.kind === "moe") {
    const l = model.layer;
    return { student: shorthand(l.m, l.k), student_m: l.m, student_k: l.k, student_w: l.w };
  }
  return {
    student: String(c.labels.arch ?? "deep"),
    student_m: c.labels.student_m,
    student_k: c.labels.student_k,
    student_w: c.labels.student_w ?? c.labels.width,
  };
}

/** A run in a few words for progress lines: "t=16e8a s=4e2a D=16 lr=0.01 seed=0". */
export function compactLabel(c: RunConfig): string {
  const parts = [`t=${teacherOf(c).teacher}`, `s=${studentOf(c).student}`];
  for (const k of Object.keys(c.labels).sort()) {
    if (k === "teacher" || k === "student" || k === "arch") continue;
    parts.push(`${k}=${c.labels[k]}`);
  }
  parts.push(`lr=${c.train.lr}`, `seed=${c.seed}`);
  return parts.join(" ");
}

/**
 * Natural order of two cells: missing first, then numbers (numerically), then strings, with
 * digit runs compared as numbers ("4e2a" < "16e8a"); ties broken by plain code-unit order so
 * the order is total and the same on every machine.
 */
export function compareCells(a: unknown, b: unknown): number {
  const rank = (
    v: unknown,
  ) => (v === undefined || v === null || v === "" ? 0 : typeof v === "number" ? 1 : 2);
  const ra = rank(a), rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1) {
    const x = a as number, y = b as number;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      return Number(Number.isNaN(x)) - Number(Number.isNaN(y));
    }
    return x - y;
  }
  const x = String(a), y = String(b);
  const cx = x.match(/\d+|\D+/g) ?? [], cy = y.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(cx.length, cy.length); i++) {
    const p = cx[i], q = cy[i];
    const dp = /^\d/.test(p), dq = /^\d/.test(q);
    if (dp && dq) {
      const d = Number(p) - Number(q);
      if (d !== 0) return d;
    } else if (p !== q) {
      return p < q ? -1 : 1;
    }
  }
  if (cx.length !== cy.length) return cx.length - cy.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Sorted label keys of all records that are not already fixed columns. */
function labelColumns(records: RunRecord[], fixed: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.config.labels)) keys.add(k);
  return [...keys].filter((k) => !fixed.includes(k)).sort();
}

function resultRow(r: RunRecord): Record<string, unknown> {
  const c = r.config, res = r.result;
  return {
    ...c.labels,
    run_id: r.run_id,
    experiment: c.experiment,
    ...teacherOf(c),
    ...studentOf(c),
    lr: c.train.lr,
    seed: c.seed,
    epochs: res.epochs,
    steps: res.steps,
    score: res.score,
    final_test_loss: res.final_test_loss,
    min_test_loss: res.min_test_loss,
    zero_loss: res.zero_loss,
    status: res.status,
    wall_s: res.wall_s,
    strategy: res.strategy,
    ...resultRouterCells(res.curves),
  };
}

/**
 * Sorts records by experiment, teacher, student, the label values (label keys in sorted order),
 * lr, seed and run id, all in natural order (compareCells).
 */
export function sortRecords(records: RunRecord[]): RunRecord[] {
  const keys = labelColumns(records, []);
  const sortKey = (r: RunRecord): unknown[] => {
    const c = r.config;
    return [
      c.experiment,
      teacherOf(c).teacher,
      studentOf(c).student,
      ...keys.map((k) => c.labels[k]),
      c.train.lr,
      c.seed,
      r.run_id,
    ];
  };
  const keyed = records.map((r) => ({ r, k: sortKey(r) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < a.k.length; i++) {
      const d = compareCells(a.k[i], b.k[i]);
      if (d !== 0) return d;
    }
    return 0;
  });
  return keyed.map((x) => x.r);
}

/**
 * results.csv: one row per record, columns RESULTS_COLUMNS then the label keys (sorted) that
 * are not already columns; rows in sortRecords order.
 */
export function resultsTable(records: RunRecord[]): Table {
  const rows = sortRecords(records).map(resultRow);
  const columns = [
    ...RESULTS_COLUMNS,
    ...labelColumns(records, RESULTS_COLUMNS),
    ...routerColumns(rows),
  ];
  return { columns, rows };
}

/**
 * The cell of a run: everything in its config except train.lr and labels (so the runs that
 * differ only in learning rate share a cell), as canonical JSON.
 */
export function cellKey(c: RunConfig): string {
  const { labels: _labels, train, ...rest } = c;
  const { lr: _lr, ...trainRest } = train;
  return canonicalJson({ ...rest, train: trainRest }, "config");
}

/** Whether run `a` beats run `b` for a cell: ok beats diverged, then lower score, lr, run id. */
function better(a: RunRecord, b: RunRecord): boolean {
  const okA = a.result.status === "ok", okB = b.result.status === "ok";
  if (okA !== okB) return okA;
  const sa = a.result.score, sb = b.result.score;
  // NaN scores (no finished epoch) lose to any number.
  const d = compareCells(Number.isNaN(sa) ? Infinity : sa, Number.isNaN(sb) ? Infinity : sb);
  if (d !== 0) return d < 0;
  const dl = a.config.train.lr - b.config.train.lr;
  if (dl !== 0) return dl < 0;
  return a.run_id < b.run_id;
}

/**
 * best.csv ("best of the learning rates", as in the paper's figures): one row per cell (see
 * cellKey), the winning run's results row with `lr` renamed `best_lr`, followed by `n_runs`
 * (how many runs the cell has). A diverged run wins only if all of the cell's runs diverged.
 * Rows in the same order as results.csv.
 */
export function bestTable(records: RunRecord[]): Table {
  const cells = new Map<string, { best: RunRecord; n: number }>();
  for (const r of records) {
    const key = cellKey(r.config);
    const cur = cells.get(key);
    if (!cur) cells.set(key, { best: r, n: 1 });
    else {
      cur.n++;
      if (better(r, cur.best)) cur.best = r;
    }
  }
  const counts = new Map([...cells.values()].map((c) => [c.best.run_id, c.n]));
  const winners = [...cells.values()].map((c) => c.best);
  const results = resultsTable(winners);
  const columns = results.columns.flatMap((c) => (c === "lr" ? ["best_lr", "n_runs"] : [c]));
  const rows = results.rows.map((row) => {
    const { lr, ...rest } = row;
    return { ...rest, best_lr: lr, n_runs: counts.get(row.run_id as string) };
  });
  return { columns, rows };
}

/** curves.csv: one row per record and epoch (CURVES_COLUMNS), records in results order. */
export function curvesTable(records: RunRecord[]): Table {
  const rows: Record<string, unknown>[] = [];
  for (const r of sortRecords(records)) {
    for (const e of r.result.curves) {
      rows.push({
        run_id: r.run_id,
        epoch: e.epoch,
        train_loss: e.train_loss,
        test_loss: e.test_loss,
        zero_loss: e.zero_loss,
        normalized: e.normalized,
        lr: e.lr,
        ...curveRouterCells(e.router),
      });
    }
  }
  return { columns: [...CURVES_COLUMNS, ...routerColumns(rows)], rows };
}
