/**
 * The sweep's command line as `--help` describes it: every flag it lists parses, every setting
 * reaches the run configs, and selections pick runs without changing them.
 */
import assert from "node:assert/strict";
import { parseSweepArgs, SWEEP_FLAGS, sweepHelp } from "../lib/cli/sweep_args.ts";
import { flagOf } from "../lib/cli/knobs.ts";
import { OVERRIDES } from "../lib/experiments/overrides.ts";
import { EXPERIMENTS, parseGrid, resolvePreset } from "../lib/experiments/registry.ts";
import { runId } from "../lib/sweep/runid.ts";
import type { RunConfig } from "../lib/sweep/types.ts";

/** `--help` lines `  --flag ARG   text` as [flag, alternatives of ARG]. */
function helpFlags(): [string, string[]][] {
  return sweepHelp().split("\n").flatMap((l) => {
    const m = /^ {2}--([a-z][a-z-]*)(?: (\S+))?(?: {2,}|$)/.exec(l);
    return m ? [[m[1], m[2] ? m[2].split("|") : []] as [string, string[]]] : [];
  });
}

const knobByFlag = new Map(Object.entries(OVERRIDES).map(([key, k]) => [flagOf(key, k), k]));
const shape = (runs: RunConfig[]) => JSON.stringify(runs.map((r) => ({ ...r, scale: undefined })));

Deno.test("--help lists every flag and setting once", () => {
  const flags = helpFlags().map(([f]) => f);
  assert.equal(new Set(flags).size, flags.length, "a flag listed twice");
  assert.deepEqual(
    new Set(flags),
    new Set([...Object.keys(SWEEP_FLAGS), ...knobByFlag.keys()]),
  );
  for (const f of ["teacher-file", "weight-decay", "warmup-steps", "schedule", "cells"]) {
    assert.ok(flags.includes(f), f);
  }
});

Deno.test("every flag --help lists parses; every setting reaches the run config", () => {
  const base = Object.fromEntries(
    Object.keys(EXPERIMENTS).map((name) => [name, resolvePreset(name, "quick").runs]),
  );
  for (const [flag, alts] of helpFlags()) {
    const k = knobByFlag.get(flag);
    for (const alt of alts.length ? alts : [undefined]) {
      const args = alt === undefined ? [`--${flag}`] : [`--${flag}`, alt];
      const parsed = parseSweepArgs(args);
      if (!k) {
        assert.equal((parsed.flags as Record<string, unknown>)[flag], alt ?? true, flag);
      }
    }
    if (!k) continue;
    // A setting changes the runs of some experiment (with one of its listed values); a
    // selection keeps a strict subset of one experiment's runs unchanged.
    const reached: string[] = [];
    for (const alt of alts) {
      const o = parseSweepArgs([`--${flag}`, alt]).overrides;
      for (const [name, runs0] of Object.entries(base)) {
        let runs: RunConfig[];
        try {
          runs = resolvePreset(name, "quick", o).runs;
        } catch {
          continue; // e.g. a paper A setting on a paper B preset
        }
        if (k.select) {
          const ids0 = new Map(runs0.map((r) => [runId(r), r]));
          assert.ok(runs.length < runs0.length, `${flag} ${alt} selects`);
          for (const r of runs) assert.deepEqual(r, ids0.get(runId(r)), `${flag} ${alt}`);
          reached.push(name);
        } else if (shape(runs) !== shape(runs0)) {
          assert.ok(runs.every((r) => r.scale === "custom"), `${flag}: scale custom`);
          reached.push(name);
        }
      }
    }
    assert.ok(reached.length > 0, `--${flag} ${alts.join("|")} changed no experiment's runs`);
  }
});

Deno.test("a selection runs exactly the preset's runs of its cells: same ids, same folder", () => {
  const cells = [
    "32e16a:4e2a",
    "32e16a:8e4a",
    "32e16a:12e6a",
    "32e16a:16e8a",
    "8e4a:8e4a",
    "16e8a:16e8a",
    "32e16a:32e16a",
  ];
  const { overrides } = parseSweepArgs(["--scale", "full", "--cells", cells.join(",")]);
  const all = resolvePreset("fig2", "full");
  const some = resolvePreset("fig2", "full", overrides);
  assert.equal(some.name, "fig2-full");
  assert.equal(some.runs.length, cells.length * 2); // two learning rates at full scale
  const want = all.runs.filter((r) => cells.includes(`${r.labels.teacher}:${r.labels.student}`));
  assert.deepEqual(some.runs.map(runId), want.map(runId));
  assert.deepEqual(some.runs, want);
  assert.ok(some.runs.every((r) => r.scale === "full" && r.experiment === "fig2-full"));

  // Filters intersect; teachers and students select rows and columns.
  const rows = resolvePreset("fig2", "full", { teachers: ["32e16a"], students: ["4e2a", "8e4a"] });
  assert.deepEqual(
    rows.runs.map((r) => `${r.labels.teacher}:${r.labels.student}`),
    ["32e16a:4e2a", "32e16a:4e2a", "32e16a:8e4a", "32e16a:8e4a"],
  );
  // With a run-shaping override the runs are custom, the selection still only picks.
  const short = resolvePreset("fig2", "quick", { epochs: 2, cells: ["8e4a:4e2a"] }).runs;
  assert.deepEqual(
    short,
    resolvePreset("fig2", "quick", { epochs: 2 }).runs.filter((r) =>
      r.labels.teacher === "8e4a" && r.labels.student === "4e2a"
    ),
  );
});

Deno.test("bad settings and selections are one-line errors naming the field", () => {
  const cases: [() => unknown, RegExp][] = [
    [
      () => resolvePreset("fig2", "quick", { cells: ["4e2a:12e6a"] }),
      /^Error: cells: '4e2a:12e6a' is not in this grid \(teachers: 4e2a, 8e4a, 16e8a, 32e16a; /,
    ],
    [
      () => resolvePreset("fig2", "quick", { teachers: ["12e6a"] }),
      /^Error: teachers: '12e6a' is not in this grid/,
    ],
    [
      () => resolvePreset("paperB-exp1", "quick", { students: ["4e2a"] }),
      /students: '4e2a' is not in this grid \(it has no teachers or students\)/,
    ],
    [() => parseSweepArgs(["--cells", "4e2a"]), /^UsageError: cells: must be teacher:student/],
    [() => parseSweepArgs(["--weight-decay=-1"]), /weightDecay: must be a number >= 0, got -1/],
    [() => parseSweepArgs(["--schedule", "linear"]), /schedule: must be one of cosine-epoch, /],
    [() => parseSweepArgs(["--warmup-steps", "1.5"]), /--warmup-steps: must be an integer >= 0/],
    [
      () => parseSweepArgs(["--nope", "1"]),
      /^UsageError: Unknown option '--nope'.*\(see --help\)$/,
    ],
  ];
  for (const [f, want] of cases) {
    assert.throws(f, (e: Error) => {
      assert.equal(e.message.split("\n").length, 1);
      assert.match(`${e.name}: ${e.message}`, want);
      return true;
    });
  }
});

Deno.test("a JSON grid takes every setting by its field name", () => {
  const g = parseGrid(
    JSON.stringify({
      name: "g",
      base: "fig2",
      archs: ["4e2a", "8e4a"],
      weightDecay: 0.1,
      warmupSteps: 3,
      schedule: "constant",
      cells: ["8e4a:4e2a"],
    }),
    "g.json",
  );
  assert.equal(g.runs.length, 1);
  assert.deepEqual(g.runs[0].labels, { teacher: "8e4a", student: "4e2a" });
  const t = g.runs[0].train;
  assert.deepEqual([t.weightDecay, t.warmupSteps, t.schedule], [0.1, 3, "constant"]);
  assert.throws(
    () => parseGrid('{"name": "g", "base": "fig2", "weight_decay": 1}', "g.json"),
    /^Error: g.json: unknown field 'weight_decay' \(allowed: name, base, scale, d, .*weightDecay/,
  );
  assert.throws(
    () => parseGrid('{"name": "g", "base": "fig2", "warmupSteps": "3"}', "g.json"),
    /^Error: g.json: warmupSteps: must be an integer, got "3"$/,
  );
});
