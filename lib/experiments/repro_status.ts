/**
 * The README's reproduction-status table, rendered from committed reproduction reports
 * (`docs/reproduction/<experiment>/reproduction.csv`, `experiment.json`, `command.txt`): one
 * row per experiment directory with how many printed cells agree with the paper, the cells in
 * short form, and the command that produced them.
 */
import { parseCsv } from "../io/csv.ts";
import { publishedFor } from "./published.ts";
import { fmtNumber } from "./reproduction.ts";

/** One committed report: its directory name, preset, scale, command and CSV rows. */
export interface StatusInput {
  dir: string;
  base: string;
  scale: string;
  command: string;
  rows: Record<string, string>[];
}

/** The markers between which the README holds the generated table. */
export const STATUS_BEGIN = "<!-- reproduction-status:begin (deno task repro-status) -->";
export const STATUS_END = "<!-- reproduction-status:end -->";

function cellText(row: Record<string, string>, keys: string[], comparison: string): string {
  const name = keys[0] === "teacher"
    ? keys.map((k) => row[k]).join("→")
    : [row[keys[0]], ...keys.slice(1).map((k) => `${k}=${row[k]}`)].join(" ");
  const ours = row.ours === "" ? "not run" : fmtNumber(row.ours);
  const seeds = Number(row.n_seeds) > 1
    ? ` (${fmtNumber(row.ours_min)}-${fmtNumber(row.ours_max)})`
    : "";
  const paper = row.paper === "" ? (row.note.startsWith("near 0") ? "~0" : "—") : row.paper;
  const cmp = row.ratio !== ""
    ? `, ${fmtNumber(row.ratio)}×`
    : row.difference !== ""
    ? `, ${Number(row.difference) >= 0 ? "+" : ""}${Number(row.difference).toFixed(3)}`
    : "";
  return `${name}: ${ours}${seeds} vs ${fmtNumber(paper) || paper}${cmp}` +
    (comparison && row.agrees === "no" ? " ✗" : "");
}

/** The markdown table (with a one-line legend) for the given reports, in the order given. */
export function renderStatus(inputs: StatusInput[]): string {
  const lines = [
    "| experiment | scale | printed cells within tolerance | cells: ours vs paper | command |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const s of inputs) {
    const p = publishedFor(s.base);
    const keys = p?.keys ?? [];
    const printed = s.rows.filter((r) => r.paper !== "" && r.ours !== "");
    const agree = printed.filter((r) => r.agrees === "yes").length;
    const tol = p ? (p.comparison === "ratio" ? `${p.tolerance}×` : `±${p.tolerance}`) : "";
    const cells = s.rows.filter((r) => r.paper !== "" || r.note !== "" || r.ours !== "")
      .filter((r) => p === undefined || r.paper !== "" || r.note.startsWith("near 0"))
      .map((r) => cellText(r, keys, p?.comparison ?? ""));
    lines.push(
      `| [${s.dir}](docs/reproduction/${s.dir}/reproduction.md) | ${s.scale} | ${agree} of ` +
        `${printed.length} (${tol}) | ${cells.join("; ")} | \`${s.command}\` |`,
    );
  }
  return lines.join("\n");
}

/** Reads every report under `root` (directories with reproduction.csv), sorted by name. */
export async function readStatusInputs(root: string): Promise<StatusInput[]> {
  const dirs: string[] = [];
  for await (const e of Deno.readDir(root)) if (e.isDirectory) dirs.push(e.name);
  dirs.sort();
  const out: StatusInput[] = [];
  for (const dir of dirs) {
    const at = `${root}/${dir}`;
    let csv: string;
    try {
      csv = await Deno.readTextFile(`${at}/reproduction.csv`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    const info = JSON.parse(await Deno.readTextFile(`${at}/experiment.json`));
    const command = (await Deno.readTextFile(`${at}/command.txt`)).trim();
    out.push({ dir, base: info.base, scale: info.scale, command, rows: parseCsv(csv) });
  }
  return out;
}

/** `readme` with the text between the status markers replaced by `table`. */
export function replaceStatus(readme: string, table: string): string {
  const a = readme.indexOf(STATUS_BEGIN), b = readme.indexOf(STATUS_END);
  if (a < 0 || b < a) {
    throw new Error(`README: needs the markers ${STATUS_BEGIN} and ${STATUS_END}, in that order`);
  }
  return readme.slice(0, a + STATUS_BEGIN.length) + "\n\n" + table + "\n\n" + readme.slice(b);
}
