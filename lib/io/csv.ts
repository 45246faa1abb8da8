/**
 * CSV text in and out (RFC 4180 quoting via csv-stringify / csv-parse), and an atomic writer so
 * a killed sweep never leaves a half-written results file.
 */
import { stringify } from "csv-stringify/sync";
import { parse } from "csv-parse/sync";
import { writeFileAtomic } from "./atomic.ts";

function checkColumns(columns: string[]): void {
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new Error("columns: must be a non-empty array of column names");
  }
  const seen = new Set<string>();
  for (const c of columns) {
    if (typeof c !== "string" || c === "") {
      throw new Error(`columns: names must be non-empty strings, got ${JSON.stringify(c)}`);
    }
    if (seen.has(c)) throw new Error(`columns: duplicate column name "${c}"`);
    seen.add(c);
  }
}

/** One cell as text: numbers at full precision (String(x) round-trips a float64). */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

/**
 * CSV text with a header row `columns` and one record per row, "\n"-terminated.
 * Only the listed columns are written (other keys are ignored); null/undefined become empty
 * cells; numbers, bigints and booleans use `String(v)`; Dates ISO 8601; other objects JSON.
 * Fields containing commas, quotes, CR or LF are quoted with `"` doubled inside.
 */
export function toCsv(rows: Record<string, unknown>[], columns: string[]): string {
  checkColumns(columns);
  if (!Array.isArray(rows)) throw new Error("rows: must be an array of objects");
  const records = rows.map((r, i) => {
    if (r === null || typeof r !== "object") throw new Error(`rows[${i}]: must be an object`);
    return columns.map((c) => cell(r[c]));
  });
  return stringify([columns, ...records], {
    record_delimiter: "\n",
    // A lone empty field would otherwise be an empty line, which readers drop as blank.
    quoted_empty: columns.length === 1,
    quoted_match: /\r/,
  });
}

/**
 * Parses CSV text whose first record is the header into one object per record, all values
 * strings. Accepts a UTF-8 BOM and CRLF line ends; throws if a record's field count differs
 * from the header's or a header name repeats.
 */
export function parseCsv(text: string): Record<string, string>[] {
  if (typeof text !== "string") throw new Error("text: must be a string");
  const records = parse(text, { bom: true, relax_column_count: false }) as string[][];
  if (records.length === 0) return [];
  const [header, ...body] = records;
  checkColumns(header);
  return body.map((rec) => {
    const out: Record<string, string> = {};
    header.forEach((h, j) => (out[h] = rec[j]));
    return out;
  });
}

/** Writes `toCsv(rows, columns)` to `path` atomically (temp file + rename); see writeFileAtomic. */
export async function writeCsvAtomic(
  path: string,
  rows: Record<string, unknown>[],
  columns: string[],
): Promise<void> {
  await writeFileAtomic(path, toCsv(rows, columns));
}
