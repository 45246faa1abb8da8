import * as assert from "node:assert/strict";
import { FAKE_EPOCHS, fakeRecord, makeRuns } from "./support/fake_sweep.ts";
import type { RunConfig } from "../lib/sweep/types.ts";
import { PUBLISHED } from "../lib/experiments/published.ts";
import {
  REPRODUCTION_COLUMNS,
  reproductionTable,
  writeReproduction,
} from "../lib/experiments/reproduction.ts";
import { parseCsv } from "../lib/io/csv.ts";
import {
  readStatusInputs,
  renderStatus,
  replaceStatus,
  STATUS_BEGIN,
  STATUS_END,
} from "../lib/experiments/repro_status.ts";

const record = (config: RunConfig) => fakeRecord(config, "2026-12-01T00:00:00.000Z");

/** Two seeds of the fake grid: teacher x student in {4e2a, 8e4a}, lrs 0.001 and 0.01. */
const RECORDS = makeRuns(16).map(record);

/**
 * The fake's best score of a (teacher m, student m) cell for one seed, computed from its
 * definition: the better lr halves base = tm / (sm + tm) (1 + seed / 8); the best epoch is the
 * last, base (1 + 1 / FAKE_EPOCHS).
 */
function bestScore(tm: number, sm: number, seed: number): number {
  return (tm / (sm + tm)) * 0.5 * (1 + 0.125 * seed) * (1 + 1 / FAKE_EPOCHS);
}

const close = (a: unknown, b: number, what: string) =>
  assert.ok(Math.abs(Number(a) - b) < 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

Deno.test("reproduction table of fig2 from fake records: every row, blanks where unprinted", () => {
  const r = reproductionTable(RECORDS, "fig2", "heatmap");
  assert.deepEqual(r.table.columns, ["teacher", "student", ...REPRODUCTION_COLUMNS]);
  const rows = r.table.rows;
  const key = (x: Record<string, unknown>) => `${x.teacher}>${x.student}`;
  // Four cells we ran, then the published cells the sweep did not run, in natural order.
  assert.deepEqual(rows.map(key), [
    "4e2a>4e2a",
    "4e2a>8e4a",
    "8e4a>4e2a",
    "8e4a>8e4a",
    "16e8a>16e8a",
    "32e16a>4e2a",
    "32e16a>8e4a",
    "32e16a>12e6a",
    "32e16a>16e8a",
    "32e16a>32e16a",
  ]);
  const M: Record<string, number> = { "4e2a": 4, "8e4a": 8 };
  for (const row of rows.slice(0, 4)) {
    const tm = M[row.teacher as string], sm = M[row.student as string];
    const seeds = [bestScore(tm, sm, 0), bestScore(tm, sm, 1)];
    assert.equal(row.metric, "score");
    assert.equal(row.n_seeds, 2);
    close(row.ours, (seeds[0] + seeds[1]) / 2, `${key(row)} ours`);
    close(row.ours_min, seeds[0], `${key(row)} min`);
    close(row.ours_max, seeds[1], `${key(row)} max`);
    assert.equal(row.ratio, undefined);
  }
  // Cells the paper does not print: paper, difference, agreement blank.
  for (const row of [rows[0], rows[1]]) {
    assert.equal(row.paper, undefined);
    assert.equal(row.difference, undefined);
    assert.equal(row.agrees, undefined);
    assert.equal(row.source, undefined);
    assert.equal(row.note, undefined);
  }
  // 8e4a -> 4e2a: printed 0.19; ours 4/9 and 1/2 over the two seeds.
  assert.equal(rows[2].paper, 0.19);
  close(rows[2].difference, (4 / 9 + 1 / 2) / 2 - 0.19, "8e4a>4e2a difference");
  assert.equal(rows[2].agrees, "no");
  assert.equal(rows[2].source, "arXiv 2505.06839, Fig. 2");
  // 8e4a -> 8e4a: the paper says "near 0" without a number: blank, with the note.
  assert.equal(rows[3].paper, undefined);
  assert.equal(rows[3].difference, undefined);
  assert.match(String(rows[3].note), /^near 0/);
  // Published but not run: ours blank.
  for (const row of rows.slice(4)) {
    assert.equal(row.n_seeds, 0);
    assert.equal(row.ours, undefined);
    assert.equal(row.ours_min, undefined);
    assert.match(String(row.note), /not run in this sweep$/);
  }
  assert.equal(rows[5].paper, 0.23);
  assert.equal(rows[4].paper, undefined);
});

Deno.test("reproduction table with ratios (paper B Exp. II labels) and its files", async () => {
  const relabel: Record<string, { arch: string; width: number }> = {
    "4e2a>4e2a": { arch: "2-3-MoE", width: 16 },
    "4e2a>8e4a": { arch: "2-3-MoE", width: 32 },
    "8e4a>4e2a": { arch: "1-6-MoE", width: 16 },
    "8e4a>8e4a": { arch: "1-6-MoE", width: 256 },
  };
  const records = RECORDS.map((r) => ({
    ...r,
    config: {
      ...r.config,
      labels: relabel[`${r.config.labels.teacher}>${r.config.labels.student}`],
    },
  }));
  const r = reproductionTable(records, "paperB-exp2", "error-vs-width");
  const rows = r.table.rows;
  const key = (x: Record<string, unknown>) => `${x.arch}@${x.width}`;
  assert.deepEqual(rows.map(key), [
    "1-6-MoE@16",
    "1-6-MoE@32",
    "1-6-MoE@64",
    "1-6-MoE@128",
    "1-6-MoE@256",
    "2-3-MoE@16",
    "2-3-MoE@32",
    "2-3-MoE@64",
    "2-3-MoE@128",
  ]);
  // min_test_loss = score x zero loss (zero = 2 + tm / 8).
  const ours = (tm: number, sm: number) =>
    [0, 1].map((s) => bestScore(tm, sm, s) * (2 + tm / 8)).reduce((a, b) => a + b) / 2;
  const expect: Record<string, [number, number | undefined]> = {
    "1-6-MoE@16": [ours(8, 4), 7.96e-5],
    "1-6-MoE@256": [ours(8, 8), undefined],
    "2-3-MoE@16": [ours(4, 4), 8.32e-5],
    "2-3-MoE@32": [ours(4, 8), 1.41e-5],
  };
  for (const row of rows) {
    const e = expect[key(row)];
    assert.equal(row.metric, "min_test_loss");
    if (!e) {
      assert.equal(row.ours, undefined, key(row));
      assert.equal(row.n_seeds, 0);
      continue;
    }
    close(row.ours, e[0], `${key(row)} ours`);
    assert.equal(row.paper, e[1], `${key(row)} paper`);
    if (e[1] === undefined) assert.equal(row.ratio, undefined);
    else {
      close(row.ratio, e[0] / e[1], `${key(row)} ratio`);
      assert.equal(row.agrees, "no");
    }
    assert.equal(row.difference, undefined);
  }

  const dir = await Deno.makeTempDir();
  const info = { name: "fake-exp2", base: "paperB-exp2", scale: "quick", figure: "error-vs-width" };
  await writeReproduction(dir, records, info);
  const csv = parseCsv(await Deno.readTextFile(`${dir}/reproduction.csv`));
  assert.equal(csv.length, rows.length);
  assert.equal(csv[4].paper, "");
  assert.equal(csv[5].paper, "0.0000832");
  const md = await Deno.readTextFile(`${dir}/reproduction.md`);
  assert.match(md, /^# Reproduction: fake-exp2 \(preset paperB-exp2, scale quick\)/);
  assert.match(
    md,
    /\| 2-3-MoE \| 16 \| 2 \| [0-9.e+-]+ \| [0-9.e+-]+ - [0-9.e+-]+ \| 8\.32e-5 \| /,
  );
  assert.equal(md.trim().split("\n").filter((l) => l.startsWith("| ")).length, rows.length + 2);
  await Deno.remove(dir, { recursive: true });
});

/** Every spelling of a published value as a source literal (0.23, 8.32e-5, 3.40e-4, ...). */
function spellings(v: number): RegExp {
  const [m, e] = v.toExponential().split("e");
  const exp = Number(e);
  const mant = m.replace(".", "\\.");
  const alts = [`${mant}0*e${exp < 0 ? "-" : "\\+?"}0?${Math.abs(exp)}`];
  if (Math.abs(exp) < 4) alts.push(String(v).replace(".", "\\."));
  return new RegExp(`(?<![\\d.])(?:${alts.join("|")})(?![\\d])`, "g");
}

async function sources(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) { for (const [k, v] of await sources(p)) out.set(k, v); }
    else if (e.name.endsWith(".ts")) out.set(p, await Deno.readTextFile(p));
  }
  return out;
}

Deno.test("the published values appear in exactly one table in the code", async () => {
  const files = new Map<string, string>();
  for (const d of ["lib", "tasks", "bench"]) for (const [k, v] of await sources(d)) files.set(k, v);
  files.set("mod.ts", await Deno.readTextFile("mod.ts"));
  const table = "lib/experiments/published.ts";
  const values = Object.values(PUBLISHED).flatMap((p) =>
    p.cells.flatMap((c) => (c.value === null ? [] : [c.value]))
  );
  assert.ok(values.length >= 17);
  for (const v of new Set(values)) {
    const re = spellings(v);
    for (const [path, text] of files) {
      const hits = text.match(re)?.length ?? 0;
      if (path === table) {
        const want = values.filter((x) => x === v).length;
        assert.equal(hits, want, `${v}: ${hits} times in ${table}, expected ${want}`);
      } else assert.equal(hits, 0, `${v} appears in ${path}; it belongs in ${table} only`);
    }
  }
});

Deno.test("reproduction status: one README row per report, from its reproduction.csv", async () => {
  const root = await Deno.makeTempDir();
  const info = { name: "fig2", base: "fig2", scale: "quick", figure: "heatmap" };
  await Deno.mkdir(`${root}/fig2`);
  await writeReproduction(`${root}/fig2`, RECORDS, info);
  await Deno.writeTextFile(`${root}/fig2/experiment.json`, JSON.stringify(info));
  await Deno.writeTextFile(`${root}/fig2/command.txt`, "deno task sweep fig2\n");
  await Deno.mkdir(`${root}/no-report`);
  const inputs = await readStatusInputs(root);
  assert.deepEqual(inputs.map((i) => i.dir), ["fig2"]);
  const table = renderStatus(inputs);
  const lines = table.split("\n");
  assert.equal(lines.length, 3);
  // One printed cell ran (8e4a -> 4e2a, off by +0.282); the near-0 diagonal shows as ~0.
  assert.match(
    lines[2],
    /^\| \[fig2\]\(docs\/reproduction\/fig2\/reproduction\.md\) \| quick \| 0 of 1 \(±0\.04\) \| /,
  );
  assert.match(lines[2], /8e4a→4e2a: 0\.472 \(0\.444-0\.5\) vs 0\.19, \+0\.282 ✗/);
  assert.match(lines[2], /8e4a→8e4a: [0-9.]+ \([0-9.-]+\) vs ~0/);
  assert.match(lines[2], /32e16a→4e2a: not run vs 0\.23/);
  assert.match(lines[2], /\| `deno task sweep fig2` \|$/);
  const readme = `intro\n${STATUS_BEGIN}\nold\n${STATUS_END}\nrest\n`;
  assert.equal(
    replaceStatus(readme, table),
    `intro\n${STATUS_BEGIN}\n\n${table}\n\n${STATUS_END}\nrest\n`,
  );
  assert.throws(() => replaceStatus("no markers", table), /^Error: README: needs the markers/);
  await Deno.remove(root, { recursive: true });
});
