/**
 * The sweep engine: records and tables, resume after SIGKILL, SIGINT, sharding and merge,
 * failing and diverging runs, input validation, progress display. Uses the fake executor of
 * tests/support/fake_sweep.ts (deterministic curves, a few ms per run).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runSweep, sweepExitCode, type SweepOptions } from "../lib/sweep/engine.ts";
import { mergeOutputs } from "../lib/sweep/merge.ts";
import { TextProgress } from "../lib/sweep/progress.ts";
import { decodeRecord, encodeRecord, readRecords, recordPath } from "../lib/sweep/records.ts";
import { canonicalJson, runId } from "../lib/sweep/runid.ts";
import { parseShard, shardRuns } from "../lib/sweep/shard.ts";
import { parseCsv, toCsv } from "../lib/io/csv.ts";
import {
  bestTable,
  compactLabel,
  compareCells,
  RESULTS_COLUMNS,
  resultsTable,
} from "../lib/sweep/tables.ts";
import type { RunConfig, RunRecord } from "../lib/sweep/types.ts";
import {
  FAKE_EPOCHS,
  FAKE_VERSIONS,
  fakeExecutor,
  type FakeOptions,
  fakeResult,
  makeRuns,
} from "./support/fake_sweep.ts";
import { withTempDir as withTemp } from "./support/temp.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FAKE_SWEEP = new URL("./support/fake_sweep.ts", import.meta.url).pathname;
const PERMS = ["--allow-read", "--allow-write", "--allow-env"];

const withTempDir = (fn: (dir: string) => Promise<void>) => withTemp("sweep-engine-test-", fn);

/** Runs a sweep silently with the fake executor. */
function sweep(outDir: string, runs: RunConfig[], fake: FakeOptions = {}, extra = {}) {
  return runSweep({
    outDir,
    runs,
    execute: fakeExecutor(fake),
    versions: FAKE_VERSIONS,
    progress: false,
    handleSigint: false,
    ...extra,
  } as SweepOptions);
}

async function readCsv(path: string): Promise<Record<string, string>[]> {
  return parseCsv(await Deno.readTextFile(path));
}

function header(text: string): string[] {
  return text.slice(0, text.indexOf("\n")).split(",");
}

/** Every file under `dir` (relative path → content), for before/after comparisons. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`, r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.set(r + "/", "");
        await walk(p, r);
      } else out.set(r, await Deno.readTextFile(p));
    }
  };
  await walk(dir, "");
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function recordFiles(outDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(`${outDir}/runs`)) names.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

const jsonNames = (names: string[]) => names.filter((n) => /^[0-9a-f]{12}\.json$/.test(n));

function withoutWall(rows: Record<string, string>[]): Record<string, string>[] {
  return rows.map(({ wall_s: _w, ...rest }) => rest);
}

Deno.test("runId hashes the canonical JSON: key order free, stable, strict", () => {
  assert.equal(
    canonicalJson({ b: [1, 0.01, "x", { z: null, a: true }], a: -2.5e-7, c: undefined }),
    '{"a":-2.5e-7,"b":[1,0.01,"x",{"a":true,"z":null}]}',
  );
  const [run] = makeRuns(1);
  const text = canonicalJson(run, "config");
  assert.equal(runId(run), createHash("sha256").update(text).digest("hex").slice(0, 12));
  // Pinned (cross-checked with Python json.dumps(sort_keys=True)): a changed canonical form
  // would orphan every existing record.
  assert.equal(runId(run), "b7f1dc9199ca");
  const reversed = JSON.parse(JSON.stringify(run), function (_k, v) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).reverse());
  });
  assert.notDeepEqual(Object.keys(reversed), Object.keys(run));
  assert.equal(runId(reversed), runId(run));
  assert.notEqual(runId({ ...run, seed: 1 }), runId(run));
  assert.notEqual(runId({ ...run, labels: { ...run.labels, extra: 1 } }), runId(run));
  assert.throws(
    () => runId({ ...run, train: { ...run.train, lr: NaN } }),
    /^Error: config\.train\.lr: must be a finite number, got NaN$/,
  );
  assert.throws(() => canonicalJson({ d: new Date(0) }), /value\.d: must be a plain object/);
});

Deno.test("tables: function targets, deep models and natural row order", () => {
  const [base] = makeRuns(1);
  const record = (config: RunConfig): RunRecord => ({
    run_id: runId(config),
    config,
    result: { ...fakeResult(base), strategy: "deep" },
    versions: FAKE_VERSIONS,
    finished_at: "2026-01-01T00:00:00.000Z",
  });
  const deep = (D: number, arch: string, lr: number) =>
    record({
      ...base,
      target: { kind: "function", name: "sin5x1+cos3x2" },
      input: { dist: "circle", d: D },
      model: { kind: "deep", deep: { arch } },
      train: { ...base.train, lr },
      labels: { arch, D, width: 32 },
    });
  const recs = [deep(128, "2-3-MoE", 0.01), deep(16, "2-3-MoE", 0.01), deep(16, "1-6-MoE", 0.01)];
  const results = resultsTable(recs);
  assert.deepEqual(results.columns, [...RESULTS_COLUMNS, "D", "arch", "width"]);
  const rows = parseCsv(toCsv(results.rows, results.columns));
  assert.deepEqual(rows.map((r) => `${r.student} D=${r.D}`), [
    "1-6-MoE D=16",
    "2-3-MoE D=16",
    "2-3-MoE D=128",
  ]);
  assert.deepEqual(
    [rows[0].teacher, rows[0].teacher_m, rows[0].teacher_k, rows[0].student_m, rows[0].student_w],
    ["sin5x1+cos3x2", "", "", "", "32"],
  );
  assert.equal(rows[0].strategy, "deep");
  assert.equal(
    compactLabel(recs[0].config),
    "t=sin5x1+cos3x2 s=2-3-MoE D=128 width=32 lr=0.01 seed=0",
  );
  // Cells ignore lr and labels only: three cells here; a second lr joins its cell.
  assert.equal(bestTable(recs).rows.length, 3);
  const withLr = bestTable([...recs, deep(16, "1-6-MoE", 0.001)]);
  assert.deepEqual(withLr.rows.map((r) => r.n_runs), [2, 1, 1]);
  assert.deepEqual(
    ["32e16a", "4e2a", "16e8a", "4e12a", "", "4e2a"].sort(compareCells),
    ["", "4e2a", "4e2a", "4e12a", "16e8a", "32e16a"],
  );
});

Deno.test("a sweep writes records and tables; rerunning executes nothing", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(8);
    const calls: RunConfig[] = [];
    const s = await sweep(out, runs, { delayMs: 2, calls });
    assert.deepEqual(
      { total: s.total, skipped: s.skipped, done: s.done, failed: s.failed, int: s.interrupted },
      { total: 8, skipped: 0, done: 8, failed: [], int: false },
    );
    assert.equal(sweepExitCode(s), 0);
    assert.equal(calls.length, 8);

    // Records: one per run, complete.
    const ids = runs.map(runId);
    assert.deepEqual(await recordFiles(out), ids.map((id) => `${id}.json`).sort());
    for (const run of runs) {
      const rec = decodeRecord(await Deno.readTextFile(recordPath(out, runId(run))));
      assert.deepEqual(rec.config, run);
      assert.deepEqual(rec.versions, FAKE_VERSIONS);
      const want = fakeResult(run);
      assert.deepEqual({ ...rec.result, wall_s: 0 }, want);
      assert.ok(rec.result.wall_s > 0);
      assert.ok(Math.abs(Date.parse(rec.finished_at) - Date.now()) < 60_000);
    }

    // results.csv: exact columns (labels teacher/student are columns already; ratio is new).
    const resultsText = await Deno.readTextFile(`${out}/results.csv`);
    assert.deepEqual(header(resultsText), [...RESULTS_COLUMNS, "ratio"]);
    assert.equal(
      resultsText.slice(0, resultsText.indexOf("\n")),
      "run_id,experiment,teacher,student,teacher_m,teacher_k,student_m,student_k,student_w,lr," +
        "seed,epochs,steps,score,final_test_loss,min_test_loss,zero_loss,status,wall_s,strategy,ratio",
    );
    const rows = parseCsv(resultsText);
    assert.equal(rows.length, 8);
    // Natural order: teacher, student, other labels, lr.
    assert.deepEqual(
      rows.map((r) => `${r.teacher}/${r.student}/${r.lr}`),
      [
        "4e2a/4e2a/0.001",
        "4e2a/4e2a/0.01",
        "4e2a/8e4a/0.001",
        "4e2a/8e4a/0.01",
        "8e4a/4e2a/0.001",
        "8e4a/4e2a/0.01",
        "8e4a/8e4a/0.001",
        "8e4a/8e4a/0.01",
      ],
    );
    for (const row of rows) {
      const run = runs[ids.indexOf(row.run_id)];
      assert.ok(run, `unknown run id ${row.run_id}`);
      const t = run.target.kind === "teacher" ? run.target.teacher : undefined;
      const l = run.model.kind === "moe" ? run.model.layer : undefined;
      const r = fakeResult(run);
      assert.deepEqual({ ...row, wall_s: "" }, {
        run_id: runId(run),
        experiment: "fake",
        teacher: `${t!.m}e${t!.k}a`,
        student: `${l!.m}e${l!.k}a`,
        teacher_m: String(t!.m),
        teacher_k: String(t!.k),
        student_m: String(l!.m),
        student_k: String(l!.k),
        student_w: String(l!.w),
        lr: String(run.train.lr),
        seed: "0",
        epochs: String(FAKE_EPOCHS),
        steps: String(FAKE_EPOCHS * 4),
        score: String(r.score),
        final_test_loss: String(r.final_test_loss),
        min_test_loss: String(r.min_test_loss),
        zero_loss: String(r.zero_loss),
        status: "ok",
        wall_s: "",
        strategy: "dense",
        ratio: String(run.labels.ratio),
      });
      assert.ok(Number(row.wall_s) > 0);
    }

    // best.csv: one row per (teacher, student); lr 0.01 wins for teacher 4e2a, 0.001 for 8e4a.
    const bestText = await Deno.readTextFile(`${out}/best.csv`);
    const bestCols = header(bestText);
    assert.ok(!bestCols.includes("lr"));
    assert.deepEqual(bestCols.slice(9, 11), ["best_lr", "n_runs"]);
    const best = parseCsv(bestText);
    assert.deepEqual(
      best.map((r) => `${r.teacher}/${r.student}/${r.best_lr}/${r.n_runs}`),
      ["4e2a/4e2a/0.01/2", "4e2a/8e4a/0.01/2", "8e4a/4e2a/0.001/2", "8e4a/8e4a/0.001/2"],
    );
    for (const b of best) {
      const pair = rows.filter((r) => r.teacher === b.teacher && r.student === b.student);
      assert.equal(pair.length, 2);
      assert.equal(Number(b.score), Math.min(...pair.map((r) => Number(r.score))));
      assert.equal(b.run_id, pair.find((r) => r.lr === b.best_lr)!.run_id);
    }

    // curves.csv: long format, one row per run and epoch, in results order.
    const curvesText = await Deno.readTextFile(`${out}/curves.csv`);
    assert.equal(
      curvesText.slice(0, curvesText.indexOf("\n")),
      "run_id,epoch,train_loss,test_loss,zero_loss,normalized,lr",
    );
    const curves = parseCsv(curvesText);
    assert.equal(curves.length, 8 * FAKE_EPOCHS);
    assert.deepEqual(
      curves.filter((_, i) => i % FAKE_EPOCHS === 0).map((c) => c.run_id),
      rows.map((r) => r.run_id),
    );
    for (const c of curves) {
      const want = fakeResult(runs[ids.indexOf(c.run_id)]).curves[Number(c.epoch)];
      assert.deepEqual(c, {
        run_id: c.run_id,
        epoch: String(want.epoch),
        train_loss: String(want.train_loss),
        test_loss: String(want.test_loss),
        zero_loss: String(want.zero_loss),
        normalized: String(want.normalized),
        lr: String(want.lr),
      });
    }

    // Rerun: nothing executed, records untouched, tables identical.
    const before = await snapshot(out);
    const calls2: RunConfig[] = [];
    const s2 = await sweep(out, runs, { calls: calls2 });
    assert.equal(calls2.length, 0);
    assert.deepEqual([s2.total, s2.skipped, s2.done], [8, 8, 0]);
    assert.deepEqual(await snapshot(out), before);
  });
});

/** Polls until `cond` holds (or fails after `ms`). */
async function waitFor(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function spawnFake(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, FAKE_SWEEP, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function logLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

Deno.test("SIGKILL mid-sweep loses no finished run; the rerun does only the rest", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const log1 = `${dir}/log1`;
    const child = spawnFake([out, "--runs", "20", "--delay", "50", "--log", log1]);
    await waitFor(async () => jsonNames(await recordFiles(out)).length >= 4, 20_000, "4 records");
    child.kill("SIGKILL");
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    await child.stdout.cancel();
    await child.stderr.cancel();

    const killed = jsonNames(await recordFiles(out));
    assert.ok(killed.length >= 4 && killed.length < 20, `${killed.length} records`);
    // Every record present is complete and valid.
    for (const name of killed) {
      const rec = decodeRecord(await Deno.readTextFile(`${out}/runs/${name}`), name.slice(0, 12));
      assert.equal(rec.result.curves.length, FAKE_EPOCHS);
      assert.deepEqual({ ...rec.result, wall_s: 0 }, fakeResult(rec.config));
    }
    const doneBefore = new Set(killed.map((n) => n.slice(0, 12)));
    // What a write cut by SIGKILL leaves behind: a torn temp file. It must not count as a record.
    const victim = makeRuns(20).map(runId).find((id) => !doneBefore.has(id))!;
    const torn = `${out}/runs/.${victim}.json.99999-deadbeef.tmp`;
    await Deno.writeTextFile(torn, '{"run_id": "' + victim + '", "config": {');
    const scan = await readRecords(out);
    assert.deepEqual(scan.invalid, []);
    assert.deepEqual(new Set(scan.records.map((r) => r.run_id)), doneBefore);
    // The killed process started each finished run.
    const started1 = (await logLines(log1)).filter((l) => l.startsWith("start "));
    for (const id of doneBefore) assert.ok(started1.includes(`start ${id}`));

    // Rerun (in process): only the missing runs execute, each once.
    const calls: RunConfig[] = [];
    const s = await sweep(out, makeRuns(20), { calls });
    const redone = calls.map(runId);
    assert.equal(new Set(redone).size, redone.length);
    for (const id of redone) assert.ok(!doneBefore.has(id), `run ${id} was redone`);
    assert.equal(redone.length + doneBefore.size, 20);
    assert.deepEqual([s.skipped, s.done, s.failed.length], [doneBefore.size, redone.length, 0]);

    const all = new Set(makeRuns(20).map(runId));
    assert.deepEqual(new Set(jsonNames(await recordFiles(out)).map((n) => n.slice(0, 12))), all);
    const rows = await readCsv(`${out}/results.csv`);
    assert.equal(rows.length, 20);
    assert.deepEqual(new Set(rows.map((r) => r.run_id)), all);
    for (const r of rows) assert.equal(r.status, "ok");
    assert.equal((await readCsv(`${out}/curves.csv`)).length, 20 * FAKE_EPOCHS);
  });
});

Deno.test("SIGINT aborts the current run, writes no partial record and exits 130", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const log = `${dir}/log`;
    const child = spawnFake([out, "--runs", "20", "--delay", "300", "--log", log]);
    const stderr = new Response(child.stderr).text();
    const stdout = new Response(child.stdout).text();
    // Wait until a run is in progress after at least one finished (not between two runs).
    await waitFor(
      async () => {
        const records = jsonNames(await recordFiles(out)).length;
        const lines = await logLines(log);
        const starts = lines.filter((l) => l.startsWith("start ")).length;
        return records >= 1 && starts === records + 1 && lines.at(-1)!.startsWith("start ");
      },
      20_000,
      "a run in progress",
    );
    child.kill("SIGINT");
    const status = await child.status;
    const err = await stderr;
    await stdout;
    assert.equal(status.code, 130, err);
    const names = jsonNames(await recordFiles(out));
    assert.ok(names.length >= 1 && names.length < 20);
    assert.match(
      err,
      new RegExp(`^stopped: ${names.length}/20 runs done; rerun the same command to resume$`, "m"),
    );

    const lines = await logLines(log);
    const aborted = lines.filter((l) => l.startsWith("abort ")).map((l) => l.slice(6));
    assert.equal(aborted.length, 1, lines.join("\n"));
    const ids = new Set(names.map((n) => n.slice(0, 12)));
    assert.ok(!ids.has(aborted[0]), "the aborted run has a record");
    const ended = lines.filter((l) => l.startsWith("end ")).map((l) => l.slice(4));
    assert.deepEqual(new Set(ended), ids);
    // No leftover temp files, every record valid, tables rebuilt from exactly those records.
    assert.deepEqual(await recordFiles(out), names);
    const scan = await readRecords(out);
    assert.deepEqual([scan.records.length, scan.invalid.length], [names.length, 0]);
    const rows = await readCsv(`${out}/results.csv`);
    assert.deepEqual(new Set(rows.map((r) => r.run_id)), ids);
  });
});

Deno.test("shards partition the runs; merging shard outputs equals the unsharded sweep", async () => {
  await withTempDir(async (dir) => {
    const runs = makeRuns(20);
    const all = runs.map(runId);
    const shards = [0, 1, 2].map((i) => shardRuns(runs, i, 3).map(runId));
    assert.deepEqual(shards.map((s) => s.length), [7, 7, 6]);
    assert.deepEqual(shards.flat().sort(), [...all].sort());
    assert.equal(new Set(shards.flat()).size, 20);
    // Position in the id-sorted list decides, not the list's order.
    const reversed = [...runs].reverse();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(new Set(shardRuns(reversed, i, 3).map(runId)), new Set(shards[i]));
    }
    // Shards keep the list's order.
    assert.deepEqual(shards[0], all.filter((id) => shards[0].includes(id)));
    assert.deepEqual(shardRuns(runs, 0, 1), runs);

    const full = `${dir}/full`;
    await sweep(full, runs);
    for (let i = 0; i < 3; i++) {
      const s = await sweep(`${dir}/s${i}`, runs, {}, { shard: parseShard(`${i}/3`) });
      assert.deepEqual([s.total, s.done], [shards[i].length, shards[i].length]);
      assert.deepEqual(
        jsonNames(await recordFiles(`${dir}/s${i}`)),
        shards[i].map((id) => `${id}.json`).sort(),
      );
    }
    const warnings: string[] = [];
    const m = await mergeOutputs({
      inputs: [0, 1, 2].map((i) => `${dir}/s${i}`),
      out: `${dir}/merged`,
      warn: (w) => warnings.push(w),
    });
    assert.equal(warnings.join("\n"), "");
    assert.deepEqual([m.records, m.copied, m.identical, m.conflicts.length], [20, 20, 0, 0]);
    for (const f of ["results.csv", "best.csv"]) {
      assert.deepEqual(
        withoutWall(await readCsv(`${dir}/merged/${f}`)),
        withoutWall(await readCsv(`${full}/${f}`)),
      );
    }
    assert.equal(
      await Deno.readTextFile(`${dir}/merged/curves.csv`),
      await Deno.readTextFile(`${full}/curves.csv`),
    );
    // Records are copied byte for byte.
    for (const id of shards[1]) {
      assert.equal(
        await Deno.readTextFile(recordPath(`${dir}/merged`, id)),
        await Deno.readTextFile(recordPath(`${dir}/s1`, id)),
      );
    }

    // Shards writing to one shared directory: merging it in place only rebuilds the tables.
    const shared = `${dir}/shared`;
    for (let i = 0; i < 3; i++) await sweep(shared, runs, {}, { shard: { index: i, count: 3 } });
    await Deno.remove(`${shared}/results.csv`);
    const inPlace = await mergeOutputs({
      inputs: [shared],
      out: shared,
      warn: (w) => warnings.push(w),
    });
    assert.deepEqual([inPlace.records, inPlace.copied], [20, 0]);
    assert.deepEqual(
      withoutWall(await readCsv(`${shared}/results.csv`)),
      withoutWall(await readCsv(`${full}/results.csv`)),
    );
    assert.equal(warnings.join("\n"), "");
  });
});

Deno.test("merge: identical duplicates are fine, conflicts keep the earlier record", async () => {
  await withTempDir(async (dir) => {
    const [run] = makeRuns(1);
    const id = runId(run);
    await sweep(`${dir}/a`, [run]);
    await new Promise((r) => setTimeout(r, 5));
    await sweep(`${dir}/b`, [run], { delayMs: 6 }); // later finished_at, different wall_s
    const aText = await Deno.readTextFile(recordPath(`${dir}/a`, id));
    assert.notEqual(aText, await Deno.readTextFile(recordPath(`${dir}/b`, id)));
    await Deno.mkdir(`${dir}/a2/runs`, { recursive: true });
    await Deno.copyFile(recordPath(`${dir}/a`, id), recordPath(`${dir}/a2`, id));

    const warnings: string[] = [];
    const m = await mergeOutputs({
      inputs: [`${dir}/b`, `${dir}/a`, `${dir}/a2`],
      out: `${dir}/out`,
      warn: (w) => warnings.push(w),
    });
    assert.deepEqual([m.records, m.identical, m.conflicts.length], [1, 1, 1]);
    assert.equal(m.conflicts[0].kept, recordPath(`${dir}/a`, id));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], new RegExp(`^warning: run ${id} has different records in .*keeping`));
    assert.equal(await Deno.readTextFile(recordPath(`${dir}/out`, id)), aText);
    const rows = await readCsv(`${dir}/out/results.csv`);
    assert.deepEqual(rows.map((r) => r.run_id), [id]);
  });
});

Deno.test("deno task merge: CLI merges, and rejects bad input with one line, writing nothing", async () => {
  await withTempDir(async (dir) => {
    const runs = makeRuns(4);
    await sweep(`${dir}/s0`, runs, {}, { shard: { index: 0, count: 2 } });
    await sweep(`${dir}/s1`, runs, {}, { shard: { index: 1, count: 2 } });
    const merge = async (...args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", `${ROOT}tasks/merge.ts`, ...args],
        cwd: ROOT,
      }).output();
      return { code: o.code, err: new TextDecoder().decode(o.stderr) };
    };
    const ok = await merge(`${dir}/s0`, `${dir}/s1`, "--out", `${dir}/m`);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /^merge: 4 runs in .*\/m \(4 records copied/);
    assert.equal((await readCsv(`${dir}/m/results.csv`)).length, 4);

    const before = await snapshot(dir);
    for (
      const [args, msg] of [
        [
          [`${dir}/s0`, `${dir}/nope`, "--out", `${dir}/m2`],
          /^merge: inputs\[1\]: .*nope does not exist/,
        ],
        [[`${dir}/s0`, `${dir}/s1`], /^merge: --out: required with several inputs/],
        [[`${dir}/s0`, "--out", `${dir}/m/results.csv`], /^merge: out: .* is not a directory$/],
        [[`${dir}/s0`, "--bogus"], /^merge: Unknown option '--bogus'/],
      ] as const
    ) {
      const r = await merge(...args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err.trim(), msg);
      assert.equal(r.err.trim().split("\n").length, 1, r.err);
    }
    assert.deepEqual(await snapshot(dir), before);
  });
});

Deno.test("an executor that throws is reported; the other runs finish and it is retried", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(6);
    const bad = runId(runs[2]);
    const lines: string[] = [];
    const s = await runSweep({
      outDir: out,
      runs,
      execute: fakeExecutor({ throwIf: (c) => runId(c) === bad }),
      versions: FAKE_VERSIONS,
      progress: new TextProgress({ write: (t) => lines.push(t), tty: false }),
      handleSigint: false,
    });
    assert.deepEqual(s.failed, [{ run_id: bad, error: "fake executor: deliberate failure" }]);
    assert.deepEqual([s.done, s.interrupted, sweepExitCode(s)], [5, false, 1]);
    const text = lines.join("");
    assert.match(
      text,
      new RegExp(`^run ${bad} \\(t=.*\\) failed: Error: fake executor: deliberate`, "m"),
    );
    assert.match(s.message, new RegExp(`^finished: 5/6 runs done, 1 failed \\(${bad}\\); rerun`));
    assert.ok(text.endsWith(s.message + "\n"));
    const names = jsonNames(await recordFiles(out));
    assert.equal(names.length, 5);
    assert.ok(!names.includes(`${bad}.json`));
    assert.ok(!(await readCsv(`${out}/results.csv`)).some((r) => r.run_id === bad));

    // A result of the wrong shape is an executor bug too.
    const wrong = await runSweep({
      outDir: `${dir}/wrong`,
      runs: runs.slice(0, 1),
      execute: () => Promise.resolve({ ...fakeResult(runs[0]), status: "fine" } as never),
      versions: FAKE_VERSIONS,
      progress: false,
      handleSigint: false,
    });
    assert.deepEqual(wrong.failed.map((f) => f.error), [
      'result.status: must be "ok" or "diverged", got "fine"',
    ]);
    assert.deepEqual(jsonNames(await recordFiles(`${dir}/wrong`)), []);

    const calls: RunConfig[] = [];
    const s2 = await sweep(out, runs, { calls });
    assert.deepEqual(calls.map(runId), [bad]);
    assert.deepEqual([s2.skipped, s2.done, s2.failed.length, sweepExitCode(s2)], [5, 1, 0, 0]);
  });
});

Deno.test("diverged runs are recorded and shown; best.csv prefers ok runs", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(8);
    // Cell 4e2a/4e2a: the lr 0.01 run (the better one) diverges after reaching a lower score.
    // Cell 8e4a/8e4a: both diverge.
    const divergeIf = (c: RunConfig) =>
      (c.labels.teacher === "4e2a" && c.labels.student === "4e2a" && c.train.lr === 0.01) ||
      (c.labels.teacher === "8e4a" && c.labels.student === "8e4a");
    const s = await sweep(out, runs, { divergeIf });
    assert.deepEqual([s.done, s.diverged, s.failed.length, sweepExitCode(s)], [8, 3, 0, 0]);

    const rows = await readCsv(`${out}/results.csv`);
    const row = (t: string, st: string, lr: string) =>
      rows.find((r) => r.teacher === t && r.student === st && r.lr === lr)!;
    const div = row("4e2a", "4e2a", "0.01");
    assert.equal(div.status, "diverged");
    assert.equal(div.final_test_loss, "NaN");
    assert.ok(Number(div.score) < Number(row("4e2a", "4e2a", "0.001").score));
    assert.equal(rows.filter((r) => r.status === "diverged").length, 3);
    // NaN survives the JSON record.
    const rec = decodeRecord(await Deno.readTextFile(recordPath(out, div.run_id)));
    assert.ok(Number.isNaN(rec.result.final_test_loss));
    assert.ok(Number.isNaN(rec.result.curves[FAKE_EPOCHS - 1].normalized));
    assert.match(encodeRecord(rec), /"final_test_loss": "NaN"/);

    const best = await readCsv(`${out}/best.csv`);
    const cell = (t: string, st: string) => best.find((r) => r.teacher === t && r.student === st)!;
    assert.deepEqual([cell("4e2a", "4e2a").best_lr, cell("4e2a", "4e2a").status], ["0.001", "ok"]);
    assert.deepEqual([cell("8e4a", "8e4a").status, cell("8e4a", "8e4a").n_runs], ["diverged", "2"]);
    assert.equal(cell("8e4a", "8e4a").best_lr, "0.001"); // the lower score among diverged ones
  });
});

Deno.test("bad input: one-line errors naming the field, out/ untouched", async () => {
  for (const [text, got] of [["3/3", "3/3"], ["a/b", "a/b"], ["-1/2", "-1/2"], ["1/0", "1/0"]]) {
    assert.throws(
      () => parseShard(text),
      (e: Error) => e.message === `shard: expected i/n with 0 <= i < n, got '${got}'`,
    );
  }
  assert.deepEqual(parseShard("2/3"), { index: 2, count: 3 });
  assert.throws(() => shardRuns(makeRuns(2), 3, 3), /^Error: shard: expected i\/n .* got '3\/3'$/);

  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(4);
    await sweep(out, runs.slice(0, 2));
    await Deno.writeTextFile(`${dir}/file`, "not a dir");
    const before = await snapshot(dir);
    const bad: [Partial<SweepOptions>, RegExp][] = [
      [{ shard: { index: 3, count: 3 } }, /^shard: expected i\/n with 0 <= i < n, got '3\/3'$/],
      [
        { runs: [runs[0], { ...runs[1], experiment: "a/b" }] },
        /^runs\[1\]\.experiment: must match .* got "a\/b"$/,
      ],
      [{ runs: [{ ...runs[0], experiment: ".." }] }, /^runs\[0\]\.experiment: must match/],
      [{ runs: [runs[0], runs[1], runs[0]] }, /^runs\[2\]: duplicate of runs\[0\]/],
      [
        { runs: [{ ...runs[0], train: { ...runs[0].train, lr: Infinity } }] },
        /^runs\[0\]\.train\.lr: must be a finite number/,
      ],
      [{ runs: [{ ...runs[0], labels: { x: [1] } as never }] }, /^runs\[0\]\.labels\.x: must be/],
      [{ outDir: `${dir}/file` }, /^outDir: .*\/file exists and is not a directory$/],
      [{ outDir: "" }, /^outDir: must be a non-empty directory path/],
      [{ versions: { deno: 2 } as never }, /^versions\.deno: must be a string/],
      [{ execute: undefined as never }, /^execute: must be an Executor function$/],
    ];
    const calls: RunConfig[] = [];
    for (const [override, msg] of bad) {
      await assert.rejects(
        runSweep({
          outDir: out,
          runs,
          execute: fakeExecutor({ calls }),
          versions: FAKE_VERSIONS,
          progress: false,
          handleSigint: false,
          ...override,
        }),
        (e: Error) => {
          assert.match(e.message, msg);
          assert.ok(!e.message.includes("\n"));
          return true;
        },
      );
    }
    assert.equal(calls.length, 0);
    await assert.rejects(
      mergeOutputs({ inputs: [out, `${dir}/missing`], out: `${dir}/merged`, warn: () => {} }),
      /^Error: inputs\[1\]: .*missing does not exist/,
    );
    assert.deepEqual(await snapshot(dir), before);
  });
});

Deno.test("an edited or truncated record is reported with its path and redone", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(3);
    await sweep(out, runs);
    const [a, b] = runs.map(runId);
    const edited = JSON.parse(await Deno.readTextFile(recordPath(out, a)));
    edited.config.train.lr = 0.5;
    await Deno.writeTextFile(recordPath(out, a), JSON.stringify(edited));
    await Deno.writeTextFile(recordPath(out, b), '{"run_id": "' + b + '", "con');
    await Deno.writeTextFile(`${out}/runs/notes.json`, "{}");

    const lines: string[] = [];
    const calls: RunConfig[] = [];
    const s = await runSweep({
      outDir: out,
      runs,
      execute: fakeExecutor({ calls }),
      versions: FAKE_VERSIONS,
      progress: new TextProgress({ write: (t) => lines.push(t), tty: false }),
      handleSigint: false,
    });
    assert.deepEqual(
      s.invalidRecords.map((r) => r.path),
      [
        recordPath(out, a),
        recordPath(out, b),
        `${out}/runs/notes.json`,
      ].sort(),
    );
    const text = lines.join("");
    assert.match(text, new RegExp(`ignoring record ${recordPath(out, a)}: run_id: .*edited\\?`));
    assert.match(text, new RegExp(`ignoring record ${recordPath(out, b)}: not valid JSON`));
    assert.match(text, /ignoring record .*notes\.json: file name is not <run_id>\.json/);
    assert.deepEqual(new Set(calls.map(runId)), new Set([a, b]));
    assert.deepEqual([s.skipped, s.done], [1, 2]);
    assert.deepEqual(
      (await readRecords(out)).records.map((r) => r.run_id).sort(),
      [
        ...runs.map(runId),
      ].sort(),
    );
  });
});

Deno.test("aborting through `signal` stops cleanly with nothing partial (in process)", async () => {
  await withTempDir(async (dir) => {
    const out = `${dir}/fake`;
    const runs = makeRuns(8);
    const ac = new AbortController();
    let started = 0;
    const inner = fakeExecutor({ delayMs: 30 });
    const s = await runSweep({
      outDir: out,
      runs,
      execute: (c, hooks) => {
        if (++started === 3) setTimeout(() => ac.abort(), 10);
        return inner(c, hooks);
      },
      versions: FAKE_VERSIONS,
      progress: false,
      handleSigint: false,
      signal: ac.signal,
    });
    assert.deepEqual([s.done, s.interrupted, sweepExitCode(s)], [2, true, 130]);
    assert.equal(s.message, "stopped: 2/8 runs done; rerun the same command to resume");
    assert.equal(jsonNames(await recordFiles(out)).length, 2);
    assert.equal((await recordFiles(out)).length, 2);
    assert.equal((await readCsv(`${out}/results.csv`)).length, 2);

    // An executor that ignores the signal and returns after the abort: its (possibly partial)
    // result is not recorded.
    const ac2 = new AbortController();
    let n = 0;
    const s2 = await runSweep({
      outDir: `${dir}/ignoring`,
      runs,
      execute: (c) => {
        if (++n === 3) ac2.abort();
        return Promise.resolve(fakeResult(c));
      },
      versions: FAKE_VERSIONS,
      progress: false,
      handleSigint: false,
      signal: ac2.signal,
    });
    assert.deepEqual([n, s2.done, s2.interrupted], [3, 2, true]);
    assert.equal((await recordFiles(`${dir}/ignoring`)).length, 2);
  });
});

Deno.test("progress: throttled one-line redraws on a TTY, one line per run otherwise", async () => {
  // The throttle alone: 50 progress events 10 ms apart → one redraw per 100 ms of fake time.
  let now = 0;
  const frames: string[] = [];
  const sink = new TextProgress({ write: (t) => frames.push(t), tty: true, now: () => now });
  sink.start({ total: 3, skipped: 1 });
  sink.runStart({ run_id: "0123456789ab", label: "t=16e8a s=4e2a lr=0.01 seed=0" });
  const forced = frames.length;
  for (let i = 1; i <= 50; i++) {
    now += 10;
    sink.runProgress({ epoch: 1 + Math.floor(i / 10), epochs: 6, step: i, steps: 60, loss: 1 / i });
  }
  assert.equal(frames.length - forced, 5);
  assert.equal(
    frames.at(-1),
    "\r\x1b[2K1/3 done, 1 skipped, ETA ? | t=16e8a s=4e2a lr=0.01 seed=0 | epoch 6/6 step 50/60 " +
      "loss 0.02000",
  );
  now += 1500;
  sink.runEnd({ run_id: "0123456789ab", label: "x", outcome: "ok", wall_s: 2, score: 0.5 });
  assert.equal(frames.at(-1), "\r\x1b[2K2/3 done, 1 skipped, ETA 2.0s"); // mean 2 s × 1 run left
  sink.warn("warning: something");
  assert.deepEqual(frames.slice(-3), [
    "\r\x1b[2K",
    "warning: something\n",
    "\r\x1b[2K2/3 done, 1 skipped, ETA 2.0s",
  ]);
  const narrow = new TextProgress({ write: (t) => frames.push(t), tty: true, columns: 20 });
  narrow.start({ total: 128, skipped: 100 });
  assert.equal(frames.at(-1), "\r\x1b[2K100/128 done, 100 …");

  await withTempDir(async (dir) => {
    const runs = makeRuns(4);
    // In a sweep: a fake clock advancing 60 ms per progress event (3 per run).
    let t = 0;
    const tty: string[] = [];
    const exec = fakeExecutor();
    await runSweep({
      outDir: `${dir}/tty`,
      runs,
      execute: (c, h) => exec(c, { ...h, onProgress: (p) => (t += 60, h.onProgress(p)) }),
      versions: FAKE_VERSIONS,
      progress: new TextProgress({ write: (x) => tty.push(x), tty: true, now: () => t }),
      handleSigint: false,
    });
    const text = tty.join("");
    assert.ok(!text.slice(0, -1).includes("\n"), "only the final summary ends a line");
    const shown = text.split("\r\x1b[2K").filter((f) => f !== "");
    const live = shown.filter((f) => f.includes("epoch "));
    assert.equal(live.length, 4); // each run: events at +60 (skipped), +120 (drawn), +180 (skipped)
    // The ETA is known from the first steps: 8 of 4 × 12 steps in 0.12 s -> 40 left, 0.6 s.
    assert.match(
      live[0],
      /^0\/4 done, ETA 0\.6s \| t=4e2a s=4e2a ratio=1 lr=0\.001 seed=0 \| epoch 2\/3 step 8\/12 loss 0\.5000$/,
    );
    assert.match(shown.at(-1)!, /^done: 4\/4 runs done \(0 skipped, 0 diverged\) in .*\n$/);

    const plain: string[] = [];
    await runSweep({
      outDir: `${dir}/plain`,
      runs,
      execute: fakeExecutor(),
      versions: FAKE_VERSIONS,
      progress: new TextProgress({ write: (t) => plain.push(t), tty: false }),
      handleSigint: false,
    });
    const out = plain.join("").split("\n").filter((l) => l);
    assert.ok(!plain.join("").includes("\r"));
    assert.equal(out[0], "sweep: 4 runs, 0 already done, 4 to run");
    assert.equal(out.length, 6);
    assert.match(
      out[1],
      /^\[1\/4\] ok [0-9a-f]{12} t=4e2a s=4e2a ratio=1 lr=0\.001 seed=0 score=\S+ \(\d\.\ds\) ETA \S+$/,
    );
    assert.match(out[4], /^\[4\/4\] ok .* ETA 0s$/);
    assert.match(out[5], /^done: 4\/4 runs done/);
  });
});
