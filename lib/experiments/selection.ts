/**
 * Run selection: part of a preset's heatmap grid (some teachers, students or teacher:student
 * cells), picked from the runs the preset makes, so every selected run keeps its configuration,
 * its run id and its output folder.
 */
import type { RunConfig } from "../sweep/types.ts";

/** The selection settings (see `OVERRIDES` in overrides.ts). */
export interface Selection {
  teachers?: string[];
  students?: string[];
  cells?: string[];
}

const label = (r: RunConfig, k: string) => r.labels[k] === undefined ? "" : String(r.labels[k]);
const cell = (r: RunConfig) => `${label(r, "teacher")}:${label(r, "student")}`;

function gridOf(runs: RunConfig[]): string {
  const all = (k: string) => [...new Set(runs.map((r) => label(r, k)))].filter((x) => x !== "");
  const [t, s] = [all("teacher"), all("student")];
  return t.length || s.length
    ? `teachers: ${t.join(", ") || "none"}; students: ${s.join(", ") || "none"}`
    : "it has no teachers or students";
}

/**
 * The runs matching every given filter. A filter naming a teacher, student or cell that is not
 * in the grid is a one-line error listing those that are.
 */
export function selectRuns(runs: RunConfig[], s: Selection): RunConfig[] {
  const filters: [string, string[] | undefined, (r: RunConfig) => string][] = [
    ["teachers", s.teachers, (r) => label(r, "teacher")],
    ["students", s.students, (r) => label(r, "student")],
    ["cells", s.cells, cell],
  ];
  let out = runs;
  for (const [field, wanted, of] of filters) {
    if (wanted === undefined) continue;
    const have = new Set(runs.map(of));
    for (const w of wanted) {
      if (!have.has(w)) throw new Error(`${field}: '${w}' is not in this grid (${gridOf(runs)})`);
    }
    out = out.filter((r) => wanted.includes(of(r)));
  }
  if (out.length === 0) throw new Error("teachers, students, cells: no run matches all filters");
  return out;
}
