/**
 * Several runs in one program (prepareGroup / makeGroupExecutor): each member must train
 * exactly like its run alone, divergence included; and the sweep engine's `group` option,
 * which hands such runs to a group executor and still writes one record per run.
 */
import assert from "node:assert/strict";
import { resolvePreset } from "../lib/experiments/registry.ts";
import {
  groupKey,
  makeExecutor,
  makeGroupExecutor,
  studentParamCount,
  SWEEP_GROUP_MAX_PARAMS,
} from "../lib/experiments/executor.ts";
import { defaultThreads, SINGLE_THREAD_MAX_WORK } from "../lib/experiments/grouping.ts";
import { canonicalJson } from "../lib/sweep/runid.ts";
import { runSweep } from "../lib/sweep/engine.ts";
import { readRecords } from "../lib/sweep/records.ts";
import { runId } from "../lib/sweep/runid.ts";
import type { GroupExecutor, RunConfig, RunResult } from "../lib/sweep/types.ts";
import { FAKE_VERSIONS, fakeExecutor, fakeResult, makeRuns } from "./support/fake_sweep.ts";

const hooks = () => ({ onProgress: () => {}, signal: new AbortController().signal });

async function singles(cfgs: RunConfig[]): Promise<RunResult[]> {
  const exec = makeExecutor({ threads: 1 });
  const out: RunResult[] = [];
  for (const c of cfgs) out.push(await exec(c, hooks()));
  return out;
}

/** Everything but the wall time. */
const strip = ({ wall_s: _w, ...r }: RunResult) => r;

const TINY = { d: 16, epochs: 2, samplesPerEpoch: 1024, batch: 128, testSamples: 256 };

for (
  const [name, cfgs] of [
    [
      "paper A, dense",
      resolvePreset("fig2", "quick", { ...TINY, archs: ["8e4a"], lrs: [0.01, 0.003, 0.03] }).runs,
    ],
    [
      "paper A, sparse",
      resolvePreset("fig2", "quick", {
        ...TINY,
        archs: ["8e4a"],
        lrs: [0.01, 0.003],
        strategy: "sparse",
      }).runs,
    ],
    [
      // A teacher's row of Fig. 2: different students share the data and the teacher forward.
      "paper A, different students and lrs",
      resolvePreset("fig2", "quick", {
        ...TINY,
        archs: ["4e2a", "8e4a", "16e8a"],
        lrs: [0.01, 0.003],
      }).runs.filter((r) => r.labels.teacher === "8e4a"),
    ],
    [
      "paper B, deep with a closed-form target",
      resolvePreset("paperB-exp2", "quick", {
        epochs: 2,
        samplesPerEpoch: 512,
        widths: [16],
        lrs: [0.003, 0.001],
      }).runs.filter((r) => r.labels.arch === "2-3-MoE"),
    ],
  ] as const
) {
  Deno.test(`a group trains each run exactly like the run alone (${name})`, async () => {
    assert.ok(cfgs.length >= 2);
    assert.ok(cfgs.every((c) => groupKey(c) === groupKey(cfgs[0])));
    const together = await makeGroupExecutor({ threads: 1 })([...cfgs], hooks());
    const alone = await singles([...cfgs]);
    assert.equal(together.length, cfgs.length);
    // The runs differ (else equality would prove nothing) ...
    assert.notEqual(alone[0].curves[1].train_loss, alone[1].curves[1].train_loss);
    // ... and each member equals its run alone, bit for bit.
    assert.deepEqual(together.map(strip), alone.map(strip));
  });
}

Deno.test("a member that diverges is recorded as diverged; the others are unaffected", async () => {
  const cfgs = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a"], lrs: [1e38, 0.01] })
    .runs;
  const together = await makeGroupExecutor({ threads: 1 })(cfgs, hooks());
  const alone = await singles(cfgs);
  assert.deepEqual(together.map((r) => r.status), ["diverged", "ok"]);
  assert.deepEqual(together.map(strip), alone.map(strip));
});

Deno.test("a group's runs must share seed, data and target", async () => {
  const cfgs = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a"], seeds: [0, 1] }).runs;
  assert.notEqual(groupKey(cfgs[0]), groupKey(cfgs[1]));
  await assert.rejects(
    () => makeGroupExecutor({ threads: 1 })(cfgs, hooks()),
    /^Error: runs\[1\]: a group's runs must differ only in model, train\.lr and labels$/,
  );
  const teachers = resolvePreset("fig2", "quick", { ...TINY, archs: ["4e2a", "8e4a"] }).runs;
  const [a, b] = [
    teachers[0],
    teachers.find((r) => r.labels.teacher !== teachers[0].labels.teacher)!,
  ];
  assert.notEqual(groupKey(a), groupKey(b));
});

// ---- the engine's group option (fake executors) ------------------------------------------------

/** A fake group executor: fakeResult per run; logs each call's run ids. */
function fakeGroup(
  calls: string[][],
  opts: { throwIf?: boolean; abortAfter?: AbortController } = {},
): GroupExecutor {
  return (cfgs) => {
    calls.push(cfgs.map(runId));
    opts.abortAfter?.abort();
    if (opts.throwIf) return Promise.reject(new Error("fake group: deliberate failure"));
    return Promise.resolve(cfgs.map((c) => fakeResult(c)));
  };
}

/** The runs of one cell (equal but for the lr). */
const lrFree = (c: RunConfig) => canonicalJson({ ...c, train: { ...c.train, lr: 0 } }, "config");

async function engineSweep(
  runs: RunConfig[],
  group: GroupExecutor,
  signal?: AbortSignal,
  split: { weight?(c: RunConfig): number; maxWeight?: number } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "group-engine-test-" });
  const singles: RunConfig[] = [];
  const summary = await runSweep({
    outDir: dir,
    runs,
    execute: fakeExecutor({ calls: singles }),
    versions: FAKE_VERSIONS,
    progress: false,
    handleSigint: false,
    group: { key: lrFree, execute: group, ...split },
    signal,
  });
  const records = (await readRecords(dir)).records;
  return { dir, summary, singles, records };
}

Deno.test("engine: runs equal but for the lr go to the group executor, one record each", async () => {
  const runs = makeRuns(9); // 4 cells x 2 lrs (seed 0), then one run of seed 1
  const calls: string[][] = [];
  const { dir, summary, singles, records } = await engineSweep(runs, fakeGroup(calls));
  assert.deepEqual(calls, [0, 2, 4, 6].map((i) => [runId(runs[i]), runId(runs[i + 1])]));
  assert.deepEqual(singles.map(runId), [runId(runs[8])]);
  assert.equal(summary.done, 9);
  assert.equal(records.length, 9);
  for (const r of records) {
    const { wall_s: _a, ...got } = r.result;
    const { wall_s: _b, ...want } = fakeResult(r.config);
    assert.deepEqual(got, want);
  }
  // A rerun finds every record and runs nothing.
  const again: string[][] = [];
  const second = await runSweep({
    outDir: dir,
    runs,
    execute: fakeExecutor(),
    versions: FAKE_VERSIONS,
    progress: false,
    handleSigint: false,
    group: { key: lrFree, execute: fakeGroup(again) },
  });
  assert.equal(second.skipped, 9);
  assert.deepEqual(again, []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("engine: a failing group fails all its runs (no records); the sweep goes on", async () => {
  const runs = makeRuns(4);
  let first = true;
  const calls: string[][] = [];
  const group: GroupExecutor = (cfgs, hooks) => {
    const fail = first;
    first = false;
    return fakeGroup(calls, { throwIf: fail })(cfgs, hooks);
  };
  const { dir, summary, records } = await engineSweep(runs, group);
  assert.deepEqual(summary.failed.map((f) => f.run_id), [runId(runs[0]), runId(runs[1])]);
  assert.equal(summary.failed[0].error, "fake group: deliberate failure");
  assert.deepEqual(records.map((r) => r.run_id).sort(), [runId(runs[2]), runId(runs[3])].sort());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("engine: a group interrupted mid-way writes no record and the sweep stops", async () => {
  const runs = makeRuns(4);
  const stop = new AbortController();
  const calls: string[][] = [];
  const { dir, summary, records } = await engineSweep(
    runs,
    fakeGroup(calls, { abortAfter: stop }),
    stop.signal,
  );
  assert.equal(calls.length, 1);
  assert.equal(records.length, 0);
  assert.equal(summary.interrupted, true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("engine: groups are split in order by weight; a run over the limit goes alone", async () => {
  // 2 cells x 2 lrs (seed 0); weights 1, 2, 1, 1 by run index.
  const runs = makeRuns(4);
  const w = new Map(runs.map((r, i) => [runId(r), [1, 2, 1, 1][i]]));
  const calls: string[][] = [];
  const { dir, singles } = await engineSweep(runs, fakeGroup(calls), undefined, {
    weight: (c) => w.get(runId(c))!,
    maxWeight: 2,
  });
  // Cell 1: weights 1 + 2 > 2, so each run goes alone; cell 2: 1 + 1 <= 2 go together.
  assert.deepEqual(calls, [[runId(runs[2]), runId(runs[3])]]);
  assert.deepEqual(singles.map(runId), [runId(runs[0]), runId(runs[1])]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the sweep's policy: a teacher's students and lrs together, up to 3 M parameters", () => {
  const row = resolvePreset("fig2", "full", { archs: ["4e2a", "16e8a"], lrs: [1e-3, 1e-2] }).runs
    .filter((r) => r.labels.teacher === "16e8a");
  assert.equal(row.length, 4);
  assert.ok(row.every((r) => groupKey(r) === groupKey(row[0])));
  // A 16e8a student (d = 256, w = 40): router, expert weights and biases.
  const s16 = row.find((r) => r.labels.student === "16e8a")!;
  assert.equal(studentParamCount(s16), 256 * 16 + 16 * 40 * 512 + 16 * 40 + 16 * 256);
  assert.ok(row.reduce((n, r) => n + studentParamCount(r), 0) <= SWEEP_GROUP_MAX_PARAMS);
  const big =
    resolvePreset("fig3", "full", { lrs: [1e-3, 1e-2], granularities: [8], relSizes: [16] })
      .runs;
  assert.equal(big.length, 2);
  assert.equal(groupKey(big[0]), groupKey(big[1]));
  assert.ok(studentParamCount(big[0]) > SWEEP_GROUP_MAX_PARAMS, "a 256e8a student trains alone");
});

Deno.test("small groups train on one intra-op thread by default, large ones on the default pool", () => {
  const exp2 = resolvePreset("paperB-exp2", "full").runs;
  assert.equal(defaultThreads(exp2), 1, "paper B Exp. II: all 16 runs in one program");
  assert.equal(defaultThreads(resolvePreset("paperB-exp1", "full").runs.slice(0, 2)), 1);
  const row = resolvePreset("fig2", "full").runs.filter((r) => r.labels.teacher === "32e16a");
  assert.ok(row.length > 1);
  assert.equal(defaultThreads(row), undefined, "paper A full scale: d = 256, batch 2048");
  // The bound is on parameters times batch.
  const work = studentParamCount(exp2[0]) * exp2[0].train.batch;
  assert.ok(work <= SINGLE_THREAD_MAX_WORK);
  const big = { ...exp2[0], train: { ...exp2[0].train, batch: 2 * SINGLE_THREAD_MAX_WORK } };
  assert.equal(defaultThreads([big]), undefined);
});
