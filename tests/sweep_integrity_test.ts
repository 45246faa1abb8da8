/**
 * One configuration per folder, figure and best.csv cell: configuration keys and folder names,
 * folders mixed by older versions, merge and plot producing complete folders and refusing to
 * mix, and the checks a sweep does before anything trains.
 */
import assert from "node:assert/strict";
import { resolvePreset } from "../lib/experiments/registry.ts";
import {
  folderConfiguration,
  presetConfiguration,
  sweepFolder,
} from "../lib/experiments/folder.ts";
import {
  cellAxes,
  configurationOf,
  foreignReport,
  splitRecords,
} from "../lib/sweep/configuration.ts";
import { rebuildOutputs } from "../lib/sweep/outputs.ts";
import { writeRecord } from "../lib/sweep/records.ts";
import { checkThreads } from "../lib/sweep/preflight.ts";
import { parseCsv } from "../lib/io/csv.ts";
import type { RunConfig } from "../lib/sweep/types.ts";
import { fakeRecord, makeRuns } from "./support/fake_sweep.ts";
import { task } from "./support/task.ts";
import { TINY_FIG2_ARGS } from "./support/fixtures.ts";

const record = (config: RunConfig) => fakeRecord(config, "2026-01-01T00:00:00.000Z");

Deno.test("configuration: cell axes, keys, folder names; a selection keeps the preset's", () => {
  const fig2 = resolvePreset("fig2", "quick");
  assert.deepEqual(cellAxes(fig2.runs), [
    "model.layer.k",
    "model.layer.m",
    "model.layer.w",
    "target.teacher.k",
    "target.teacher.m",
    "target.teacher.w",
  ]);
  const preset = presetConfiguration("fig2", "quick");
  assert.match(preset.id, /^[0-9a-f]{8}$/);
  // The preset as defined, and any selection of its runs (cells, shards), keep its folder.
  assert.equal(sweepFolder(fig2, "out", false).outDir, "out/fig2");
  const some = { ...fig2, runs: fig2.runs.filter((r) => r.labels.teacher === "8e4a") };
  assert.equal(sweepFolder(some, "out", false).outDir, "out/fig2");
  assert.equal(configurationOf(some.runs, fig2.runs).key, preset.key);
  assert.equal(sweepFolder(resolvePreset("fig2", "full"), "out", false).outDir, "out/fig2-full");
  // Flags that change how runs train: a folder named by the configuration's id.
  const short = resolvePreset("fig2", "quick", { epochs: 1, d: 16 });
  const f = sweepFolder(short, "out", false);
  assert.equal(f.outDir, `out/fig2-${f.configuration.id}`);
  assert.notEqual(f.configuration.id, preset.id);
  assert.match(f.description, /train\.epochs 1 vs 20/);
  assert.match(f.description, /input\.d 16 vs 64/);
  // Deterministic: the same flags give the same folder.
  assert.equal(
    sweepFolder(resolvePreset("fig2", "quick", { d: 16, epochs: 1 }), "o", false)
      .configuration.id,
    f.configuration.id,
  );
  // paper B Exp. I sweeps D but not the width: --widths there is a configuration change.
  const exp1 = resolvePreset("paperB-exp1", "quick");
  assert.ok(cellAxes(exp1.runs).includes("input.d"));
  assert.ok(!cellAxes(exp1.runs).includes("model.deep.expertWidth"));
  assert.ok(
    cellAxes(resolvePreset("paperB-exp2", "quick").runs).includes("model.deep.expertWidth"),
  );
  // Runs that do not share one key are not one sweep.
  assert.throws(
    () => configurationOf([...fig2.runs.slice(0, 2), short.runs[0]], fig2.runs),
    /^Error: runs\[2\]: differs from runs\[0\] in .*train\.epochs 1 vs 20.* which the preset does not sweep/,
  );
});

Deno.test("a folder mixed by an older version: reported, never averaged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "integrity-" });
  try {
    // Two configurations of the same cells, as `--epochs` did in older versions.
    const a = makeRuns(8);
    const b = a.map((r) => ({ ...r, scale: "custom" as const, train: { ...r.train, epochs: 1 } }));
    for (const r of [...a, ...b]) await writeRecord(dir, record(r));
    const conf = configurationOf(a);
    const scan = await rebuildOutputs(dir, { configuration: conf });
    assert.equal(scan.records.length, 8);
    assert.equal(scan.foreign.length, 8);
    const rows = parseCsv(await Deno.readTextFile(`${dir}/best.csv`));
    assert.equal(rows.length, 4);
    for (const row of rows) assert.equal(row.epochs, "3"); // only a's runs, none of b's
    assert.equal(rows.every((r) => r.n_runs === "2"), true); // two lrs per cell, not four
    const report = foreignReport(dir, conf, scan.foreign);
    assert.match(
      report,
      /holds 8 run\(s\) of other configurations than [0-9a-f]{8} \(8 of configuration [0-9a-f]{8}: scale "custom" vs "quick", train\.epochs 1 vs 3\); they are left out/,
    );
    assert.deepEqual(splitRecords(scan.foreign, conf).mine, []);

    // An older folder without a recorded configuration: the preset's own wins if present...
    const fig2 = resolvePreset("fig2", "quick");
    const older = resolvePreset("fig2", "quick", { epochs: 1 });
    const info = {
      name: "fig2",
      base: "fig2",
      scale: "quick",
      figure: "heatmap" as const,
      description: "",
    };
    const recs = [...fig2.runs.slice(0, 3), ...older.runs.slice(0, 3)].map(record);
    assert.equal(
      folderConfiguration(dir, info, recs).key,
      presetConfiguration("fig2", "quick").key,
    );
    // ...a single configuration is the folder's; two others are an error naming both.
    assert.equal(
      folderConfiguration(dir, info, recs.slice(3)).key,
      configurationOf(older.runs, fig2.runs).key,
    );
    const other = resolvePreset("fig2", "quick", { epochs: 2 }).runs.slice(0, 2).map(record);
    assert.throws(
      () => folderConfiguration(dir, info, [...recs.slice(3), ...other]),
      /mixes 2 configurations \(3 runs of [0-9a-f]{8}, 2 runs of [0-9a-f]{8}; train\.epochs 2 vs 1\); rerun each/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TINY = [...TINY_FIG2_ARGS, "--threads", "1"];

Deno.test("shards in separate folders merge into a complete folder; mixing is refused", async () => {
  const root = await Deno.makeTempDir({ prefix: "integrity-cli-" });
  try {
    const one = [...TINY, "--epochs", "1"];
    const s0 = await task("sweep", [...one, "--shard", "0/2", "--out", `${root}/a`]);
    assert.equal(s0.code, 0, s0.stderr);
    const head = s0.stderr.split("\n")[0];
    assert.match(
      head,
      /^fig2: configuration ([0-9a-f]{8}) \(.*train\.epochs 1 vs 20.*\): shard 0\/2: 2 of 4 runs -> /,
    );
    const folder = /-> \S+\/(fig2-[0-9a-f]{8})$/.exec(head)![1];
    const s1 = await task("sweep", [...one, "--shard", "1/2", "--out", `${root}/b`]);
    assert.equal(s1.code, 0, s1.stderr);
    const m = await task("merge", [
      `${root}/a/${folder}`,
      `${root}/b/${folder}`,
      "--out",
      `${root}/m`,
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(
      m.stderr,
      /^merge: 4 runs in .*\/m \(4 records copied.*; fig2, configuration [0-9a-f]{8}\)/,
    );
    const info = JSON.parse(await Deno.readTextFile(`${root}/m/experiment.json`));
    assert.equal(`fig2-${info.configuration.id}`, folder);
    for (
      const f of [
        "results.csv",
        "best.csv",
        "curves.csv",
        "heatmap.png",
        "curves_teacher_4e2a.png",
        "curves_teacher_8e4a.png",
      ]
    ) {
      assert.ok((await Deno.stat(`${root}/m/${f}`)).size > 0, f);
    }
    assert.equal(parseCsv(await Deno.readTextFile(`${root}/m/results.csv`)).length, 4);
    await Deno.remove(`${root}/m/heatmap.png`);
    const p = await task("plot", [`${root}/m`]);
    assert.equal(p.code, 0, p.stderr);
    assert.ok((await Deno.stat(`${root}/m/heatmap.png`)).size > 0);

    // Another configuration (2 epochs) gets another folder; merging it with the first fails.
    const c = await task("sweep", [
      ...TINY,
      "--epochs",
      "2",
      "--shard",
      "0/2",
      "--out",
      `${root}/c`,
    ]);
    assert.equal(c.code, 0, c.stderr);
    const other = /-> (\S+)$/.exec(c.stderr.split("\n")[0])![1];
    assert.notEqual(other, `${root}/c/${folder}`);
    const x = await task("merge", [`${root}/m`, other, "--out", `${root}/x`]);
    assert.equal(x.code, 2);
    assert.equal(x.stderr.trim().split("\n").length, 1, x.stderr);
    assert.match(
      x.stderr,
      new RegExp(
        `^merge: inputs: ${root}/m is fig2 \\(configuration ${info.configuration.id}\\) but ${other} is fig2 \\(configuration [0-9a-f]{8}\\); merge only shards of one sweep`,
      ),
    );
    await assert.rejects(Deno.stat(`${root}/x`));
    // Records of another configuration hidden in an input are refused too.
    await Deno.copyFile(
      `${other}/runs/${[...Deno.readDirSync(`${other}/runs`)][0].name}`,
      `${root}/b/${folder}/runs/${[...Deno.readDirSync(`${other}/runs`)][0].name}`,
    );
    const y = await task("merge", [
      `${root}/a/${folder}`,
      `${root}/b/${folder}`,
      "--out",
      `${root}/y`,
    ]);
    assert.equal(y.code, 2);
    assert.match(
      y.stderr.trim(),
      /^merge: inputs: .*\/b\/fig2-[0-9a-f]{8} holds 1 run\(s\) of configuration [0-9a-f]{8}, not [0-9a-f]{8} \(train\.epochs 2 vs 1\); merge only shards of one sweep$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("fail fast: read-only output, too many threads, bad shard; --dry-run honours --shard", async () => {
  const root = await Deno.makeTempDir({ prefix: "integrity-ff-" });
  try {
    // A folder no one can write to (root ignores modes: use sysfs there).
    let ro = `${root}/ro`;
    await Deno.mkdir(ro, { mode: 0o555 });
    if (Deno.uid() === 0) ro = "/sys/moe-onnx-test";
    const cases: [string[], RegExp][] = [
      [
        [...TINY, "--out", ro],
        new RegExp(
          `^sweep: out: cannot write to ${ro}/fig2-[0-9a-f]{8} \\(.*\\); choose a writable folder with --out DIR$`,
        ),
      ],
      [
        [...TINY.slice(0, -2), "--threads", "999", "--out", root],
        /^sweep: threads: 999 is more than this machine's \d+ cores \(at most \d+; add --force-threads to use more anyway\)$/,
      ],
      [
        [...TINY, "--shard", "2/2", "--out", root],
        /^sweep: shard: expected i\/n with 0 <= i < n, got '2\/2'$/,
      ],
      [
        [...TINY, "--shard", "1-2", "--out", root],
        /^sweep: shard: expected i\/n with 0 <= i < n, got '1-2'$/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = await task("sweep", args);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.match(lines.at(-1)!, want);
      assert.ok(!r.stderr.includes("] ok "), "nothing trained");
    }
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["ro"]);
    assert.throws(() => checkThreads(3, 2), /more than this machine's 2 cores/);
    checkThreads(3, 2, true);
    checkThreads(0, 2);

    // A selection of the preset's cells keeps the preset's folder (and its run ids).
    const sel = await task("sweep", ["fig2", "--teachers", "8e4a", "--dry-run", "--out", root]);
    assert.equal(sel.code, 0, sel.stderr);
    assert.match(
      sel.stdout,
      new RegExp(`^fig2: configuration [0-9a-f]{8} \\(as defined\\): 4 runs -> ${root}/fig2\n`),
    );

    // --dry-run lists only the shard's runs; the shards partition the list.
    const ids = async (extra: string[]) => {
      const r = await task("sweep", [...TINY, "--dry-run", ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split("\n").flatMap((l) => /^ {2}([0-9a-f]{12}) /.exec(l)?.[1] ?? []);
    };
    const all = await ids([]);
    const parts = [
      await ids(["--shard", "0/3"]),
      await ids(["--shard", "1/3"]),
      await ids(["--shard", "2/3"]),
    ];
    assert.equal(all.length, 4);
    assert.deepEqual(parts.map((p) => p.length).sort(), [1, 1, 2]);
    assert.deepEqual(parts.flat().sort(), [...all].sort());
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
