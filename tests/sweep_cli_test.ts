/**
 * The sweep as a user runs it: `tasks/sweep.ts` in a subprocess with the real executor, on a
 * tiny fig2 grid (d = 16, 2 epochs of 8 steps).
 */
import assert from "node:assert/strict";
import { parseCsv } from "../lib/io/csv.ts";
import { heatmapSize, LINES_SIZE } from "../lib/experiments/figures.ts";
import { RESULTS_COLUMNS } from "../lib/sweep/tables.ts";
import { TINY_FIG2_RUN } from "./support/fixtures.ts";

const TINY = TINY_FIG2_RUN;

const TASKS: Record<string, string> = JSON.parse(Deno.readTextFileSync("deno.json")).tasks;

/**
 * Runs a task as `deno task` would, with deno.json's permissions, but as a direct child, so a
 * signal reaches the sweep itself and not a `deno task` wrapper.
 */
function sweepCmd(args: string[], task = "sweep"): Deno.Command {
  const [, run, ...rest] = TASKS[task].split(/\s+/);
  assert.equal(run, "run");
  return new Deno.Command(Deno.execPath(), {
    args: [run, ...rest, ...args],
    stdout: "piped",
    stderr: "piped",
  });
}

async function sweep(args: string[], task?: string) {
  const out = await sweepCmd(args, task).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

/** The output folder a sweep prints on its first line ("fig2: configuration ...: N runs -> DIR"). */
function folderOf(firstLines: string): string {
  const m = /-> (\S+)\n/.exec(firstLines);
  assert.ok(m, `no folder in: ${firstLines}`);
  return m[1];
}

function pngSize(png: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  const v = new DataView(png.buffer, png.byteOffset);
  return { width: v.getUint32(16), height: v.getUint32(20) };
}

/** Every file under `dir` with its bytes, for before/after comparisons. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else out.set(p, new TextDecoder().decode(await Deno.readFile(p)));
    }
  };
  await walk(dir);
  return out;
}

Deno.test("tiny fig2 sweep end to end: CSV columns and values, figures", async () => {
  const root = await Deno.makeTempDir();
  const r = await sweep([...TINY, "--out", root]);
  assert.equal(r.code, 0, r.stderr);
  // TINY changes the configuration (epochs, d...): its own folder, named by a hash.
  const dir = folderOf(r.stderr);
  assert.match(dir, new RegExp(`^${root}/fig2-[0-9a-f]{8}$`));
  const results = parseCsv(await Deno.readTextFile(`${dir}/results.csv`));
  assert.equal(results.length, 4);
  assert.deepEqual(Object.keys(results[0]).slice(0, RESULTS_COLUMNS.length), [...RESULTS_COLUMNS]);
  const curves = parseCsv(await Deno.readTextFile(`${dir}/curves.csv`));
  for (const row of results) {
    assert.equal(row.experiment, "fig2");
    assert.match(row.teacher, /^(4e2a|8e4a)$/);
    assert.equal(`${row.student_m}e${row.student_k}a`, row.student);
    assert.equal(row.student_w, String(Math.floor(20 / Number(row.student_k))));
    assert.equal(row.lr, "0.01");
    assert.equal(row.epochs, "2");
    assert.equal(row.steps, "16");
    assert.equal(row.status, "ok");
    assert.equal(row.strategy, "dense");
    // The score is the best normalized test loss over the run's epochs.
    const mine = curves.filter((c) => c.run_id === row.run_id).map((c) => Number(c.normalized));
    assert.equal(mine.length, 2);
    assert.equal(Number(row.score), Math.min(...mine));
    assert.ok(Number(row.score) > 0 && Number(row.score) < 2, `score ${row.score}`);
    assert.ok(Number(row.zero_loss) > 0);
  }
  const best = parseCsv(await Deno.readTextFile(`${dir}/best.csv`));
  assert.equal(best.length, 4);
  assert.equal(best[0].best_lr, "0.01");
  assert.deepEqual(pngSize(await Deno.readFile(`${dir}/heatmap.png`)), heatmapSize(2, 2));
  assert.deepEqual(pngSize(await Deno.readFile(`${dir}/curves_teacher_8e4a.png`)), LINES_SIZE);
  // Router load plots only with --load-plots (tests/load_plots_test.ts).
  await assert.rejects(Deno.stat(`${dir}/loads`), Deno.errors.NotFound);

  // `deno task plot` redraws the figures from the CSVs.
  await Deno.remove(`${dir}/heatmap.png`);
  const p = await sweep([dir], "plot");
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(pngSize(await Deno.readFile(`${dir}/heatmap.png`)), heatmapSize(2, 2));

  // Bad input: one-line errors, exit 2, nothing under out/ modified.
  const before = await snapshot(root);
  const grid = `${root}/../bad-grid-${crypto.randomUUID()}.json`;
  const cases: [string[], RegExp][] = [
    [["fig9", "--out", root], /^sweep: experiment: unknown experiment 'fig9' \(allowed: fig2, /],
    [
      ["fig2", "--scale", "huge", "--out", root],
      /^sweep: scale: unknown scale 'huge' \(allowed: quick, full\)/,
    ],
    [
      ["fig2", "--archs", "4e5a", "--out", root],
      /^sweep: archs: must be shorthands like 16e8a with 1 <= k <= m/,
    ],
    [
      ["fig2", "--ep", "cuda", "--out", root],
      /^sweep: ep: cuda requested but onnxruntime-node's CUDA libraries/,
    ],
    [
      ["fig2", "--lrs", "0.1,abc", "--out", root],
      /^sweep: --lrs: must be a comma-separated list of positive numbers/,
    ],
    [["--grid", grid, "--out", root], /^sweep: .*malformed JSON/],
    [
      ["fig2", "--spinning", "maybe", "--out", root],
      /^sweep: --spinning: unknown value 'maybe' \(allowed: on, off\)/,
    ],
  ];
  await Deno.writeTextFile(grid, '{"name": "g", "base": "fig2",');
  for (const [args, want] of cases) {
    const b = await sweep(args);
    assert.equal(b.code, 2, `${args.join(" ")}: ${b.stderr}`);
    const lines = b.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${b.stderr}`);
    assert.match(lines[0], want);
  }
  await Deno.writeTextFile(grid, JSON.stringify({ name: "g", base: "fig2", archs: ["8e9a"] }));
  const k = await sweep(["--grid", grid, "--out", root]);
  assert.equal(k.code, 2);
  assert.match(
    k.stderr.trim(),
    /^sweep: .*archs: must be shorthands like 16e8a with 1 <= k <= m.*"8e9a"$/,
  );
  assert.deepEqual(await snapshot(root), before);
  await Deno.remove(grid);
  await Deno.remove(root, { recursive: true });
});

Deno.test("--spinning on and off: the same runs, run ids and numbers", async () => {
  const root = await Deno.makeTempDir();
  const tables = [];
  for (const spin of ["on", "off"]) {
    const r = await sweep([
      ...TINY,
      "--threads",
      "2",
      "--spinning",
      spin,
      "--out",
      `${root}/${spin}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const dir = folderOf(r.stderr);
    const curves = await Deno.readTextFile(`${dir}/curves.csv`);
    const results = parseCsv(await Deno.readTextFile(`${dir}/results.csv`))
      .map(({ wall_s: _, ...row }) => row);
    tables.push({ folder: dir.slice(root.length + spin.length + 1), curves, results });
  }
  assert.deepEqual(tables[0], tables[1]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a sweep killed with SIGKILL loses no finished run and resumes", async () => {
  const root = await Deno.makeTempDir();
  // Longer runs than TINY (about half a second each), so the kill lands mid-sweep.
  const args = [...TINY, "--lrs", "0.01,0.003", "--epochs", "8", "--out", root];
  const dir = folderOf((await sweep([...args, "--dry-run"])).stdout);
  const runs = `${dir}/runs`;
  const child = sweepCmd(args).spawn();
  // Kill as soon as two runs are finished.
  const records = () => {
    try {
      return [...Deno.readDirSync(runs)].filter((e) => e.name.endsWith(".json")).map((e) => e.name);
    } catch {
      return [];
    }
  };
  const t0 = Date.now();
  while (records().length < 2 && Date.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  const survivors = new Map<string, string>();
  for (const name of records()) {
    const text = await Deno.readTextFile(`${runs}/${name}`);
    JSON.parse(text); // every record present is complete
    survivors.set(name, text);
  }
  assert.ok(survivors.size >= 2 && survivors.size < 8, `killed after ${survivors.size} runs`);

  const r = await sweep(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${survivors.size} already done`));
  for (const [name, text] of survivors) {
    assert.equal(await Deno.readTextFile(`${runs}/${name}`), text, `${name} was redone`);
  }
  const results = parseCsv(await Deno.readTextFile(`${dir}/results.csv`));
  assert.equal(results.length, 8);
  assert.equal(new Set(results.map((x) => x.run_id)).size, 8);
  await Deno.remove(root, { recursive: true });
});
