/**
 * `deno task bench`: training throughput of the executor's hot path on this machine.
 *
 * For each config it builds the run exactly as the sweep does (prepareGroup), then times
 * `trainer.run(n, nextBatch(n))` calls of n = chunk steps: a step is "draw the batch, teacher
 * forward, student forward and backward, AdamW update". One warm-up call, then --reps timed
 * calls; it reports the median steps/s with the spread (min-max) over calls, samples/s, useful
 * GFLOP/s (bench/flops.ts: active FLOPs only) and, measured in the same process with the same
 * thread count, the machine's fp32 MatMul peak through onnxruntime (a 2048^3 MatMul, repeated,
 * median), and their ratio. Peak runs are interleaved with the configs, so a machine shared with
 * other work shows up in both.
 *
 *   deno task bench                      # the paper-A throughput configs and a paper-B config
 *   deno task bench --configs 16e8a,64e8a --reps 7 --json
 */
import { ROUTER_FAMILIES, withSharedExpert } from "../lib/experiments/routers.ts";
import { studentRouter } from "../lib/experiments/router_settings.ts";
import { choiceFlag, intFlag, listFlag, parseFlags, runMain, UsageError } from "../lib/cli/args.ts";
import { type ExecutorOptions, prepareGroup } from "../lib/experiments/executor.ts";
import { moeSpec } from "../lib/experiments/paper_a.ts";
import { resolvePreset } from "../lib/experiments/registry.ts";
import { Graph } from "../lib/graph/builder.ts";
import { encodeModel } from "../lib/graph/encode.ts";
import { tensor } from "../lib/graph/tensor.ts";
import { Session } from "../lib/runtime/session.ts";
import { shorthand } from "../lib/nn/config.ts";
import type { MoeSpec, RunConfig } from "../lib/sweep/types.ts";
import { measureFloor } from "./floor.ts";
import { teacherFlops, usefulStepFlops } from "./flops.ts";

type Strategy = MoeSpec["strategy"];

/** A named benchmark configuration. */
interface BenchConfig {
  name: string;
  config: RunConfig;
}

/** Paper A at full scale: d = 256, batch 2048, teacher 16e8a (w = 32), student w = 40. */
export function paperA(m: number, k: number, strategy: Strategy): RunConfig {
  return {
    experiment: "bench",
    scale: "full",
    seed: 0,
    dtype: "float32",
    input: { dist: "gaussian", d: 256 },
    target: {
      kind: "teacher",
      teacher: moeSpec(16, 8, 256, 256, false, strategy),
      seed: 0,
      init: "torch",
    },
    model: { kind: "moe", layer: moeSpec(m, k, 320, 256, false, strategy), init: "torch" },
    train: {
      optimizer: "adamw",
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0.01,
      schedule: "cosine-epoch",
      warmupSteps: 0,
      epochs: 100,
      samplesPerEpoch: 2 ** 18,
      batch: 2048,
      testSamples: 2 ** 12,
    },
    labels: { student: shorthand(m, k) },
  };
}

/** Paper B at full scale: the deep 2-3-MoE of Exp. II at expert width 128 (batch 256). */
function paperB(strategy: Strategy): RunConfig {
  const runs = resolvePreset("paperB-exp2", "full", { widths: [128], lrs: [1e-3], strategy }).runs;
  const run = runs.find((r) => r.labels.arch === "2-3-MoE");
  if (!run) throw new Error("paperB-exp2: no 2-3-MoE run in the preset");
  return run;
}

const CONFIGS_WITH_TEACHER = ["16e8a", "64e8a", "256e8a"];

const CONFIGS: Record<string, (s: Strategy) => RunConfig> = {
  "16e8a": (s) => paperA(16, 8, s),
  "64e8a": (s) => paperA(64, 8, s),
  "256e8a": (s) => paperA(256, 8, s),
  "paperB-2-3-MoE-w128": paperB,
  // The router families of the `routers` experiment on the 16e8a student (d = 256).
  ...Object.fromEntries(
    Object.entries(ROUTER_FAMILIES).filter(([f]) => f !== "paper").map(([family, set]) => [
      `16e8a-${family}`,
      (s: Strategy) => routerFamily(paperA(16, 8, s), family, set),
    ]),
  ),
};

/** `cfg` with its student trained in a router family of lib/experiments/routers.ts. */
function routerFamily(
  cfg: RunConfig,
  family: string,
  set: (typeof ROUTER_FAMILIES)[string],
): RunConfig {
  if (cfg.model.kind !== "moe") return cfg;
  const { shared, ...router } = set;
  const model = studentRouter(cfg.model.layer, router);
  if (shared && model.kind === "moe") model.layer = withSharedExpert(model.layer);
  return { ...cfg, model, labels: { ...cfg.labels, family } };
}

/** The fp32 MatMul peak through onnxruntime: C = A B for n x n matrices, median of `reps`. */
class Peak {
  private constructor(private readonly session: Session, private readonly n: number) {}
  readonly samples: number[] = [];

  static async create(threads: number, n = 2048): Promise<Peak> {
    const g = new Graph("peak");
    const a = g.input("a", "float32", [n, n]);
    const b = g.input("b", "float32", [n, n]);
    g.output(g.op.MatMul(a, b), "c");
    return new Peak(await Session.create(encodeModel(g), { threads }), n);
  }

  async measure(reps: number): Promise<void> {
    const n = this.n;
    const data = new Float32Array(n * n);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    const feeds = { a: tensor("float32", [n, n], data), b: tensor("float32", [n, n], data) };
    await this.session.run(feeds);
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await this.session.run(feeds);
      this.samples.push((2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9);
    }
  }

  get gflops(): number {
    return median(this.samples);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One config's measurement. */
export interface BenchRow {
  config: string;
  strategy: string;
  batch: number;
  steps_per_call: number;
  steps_per_s: number;
  steps_per_s_min: number;
  steps_per_s_max: number;
  samples_per_s: number;
  useful_gflop_per_step: number;
  useful_gflops: number;
  peak_gflops: number;
  utilization: number;
  data_ms_per_step: number;
  /** With --floor: the steps/s of the config's floor (bench/floor.ts) and its parts' ms/step. */
  floor_steps_per_s?: number;
  floor_adamw_ms?: number;
  floor_gemm_ms?: number;
}

/** The learning rates of a group of runs (the paper-A grid, then more). */
const GROUP_LRS = [1e-3, 1e-2, 3e-3, 3e-2, 1e-4, 1e-1];

/** `size` copies of `cfg` with the lrs of GROUP_LRS, as a cell's runs. */
function lrGroup(cfg: RunConfig, size: number): RunConfig[] {
  return Array.from({ length: size }, (_, r) => ({
    ...cfg,
    train: { ...cfg.train, lr: GROUP_LRS[r % GROUP_LRS.length] },
  }));
}

/** The Fig. 2 students of one teacher row (kw = 320 active units, as paper A's). */
const ROW_STUDENTS: [number, number][] = [[4, 2], [8, 4], [16, 8], [32, 16]];

/** Times `cfgs` (runs sharing groupKey) trained as one program; one config = a single run. */
async function benchConfig(
  name: string,
  cfgs: RunConfig[],
  opts: ExecutorOptions,
  reps: number,
  steps: number | undefined,
  prefetch: boolean,
): Promise<Omit<BenchRow, "peak_gflops" | "utilization">> {
  const cfg = cfgs[0];
  const size = cfgs.length;
  const run = await prepareGroup(cfgs, opts); // a group of one is the single run
  try {
    const n = steps ?? run.chunk;
    // As the sweep does: data drawn by a worker one chunk ahead (--no-prefetch: on this thread).
    const draw = prefetch ? run.fetchBatch : run.nextBatch;
    await run.trainer.run(n, await draw(n)); // warm-up: first-run allocations, arena growth
    const rates: number[] = [];
    const dataMs: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const batch = await draw(n);
      const t1 = performance.now();
      const losses = await run.trainer.run(n, batch);
      const t2 = performance.now();
      if (!losses.every(Number.isFinite)) throw new Error(`${name}: training diverged`);
      rates.push(n / ((t2 - t0) / 1000));
      dataMs.push((t1 - t0) / n);
    }
    if (opts.profilePrefix !== undefined) run.trainer.endProfiling();
    // A group's program step is `size` runs' steps; its teacher forward is counted once.
    const flops = cfgs.reduce((n, c) => n + usefulStepFlops(c), 0) -
      teacherFlops(cfg) * (size - 1);
    const sps = median(rates) * size;
    return {
      config: name,
      strategy: [...new Set(cfgs.map((_, r) => run.strategyOf(r)))].join("/"),
      batch: cfg.train.batch,
      steps_per_call: n,
      steps_per_s: sps,
      steps_per_s_min: Math.min(...rates) * size,
      steps_per_s_max: Math.max(...rates) * size,
      samples_per_s: sps * cfg.train.batch,
      useful_gflop_per_step: flops / size / 1e9,
      useful_gflops: (median(rates) * flops) / 1e9,
      data_ms_per_step: median(dataMs),
    };
  } finally {
    await run.release();
  }
}

const f = (x: number, d = 1) => x.toFixed(d);

function table(rows: BenchRow[], threads: number): string {
  const head = [
    "config",
    "strategy",
    "steps/s (min-max)",
    "samples/s",
    "useful GFLOP/s",
    "peak GFLOP/s",
    "util",
    "data wait ms/step",
  ];
  const floor = rows.some((r) => r.floor_steps_per_s !== undefined);
  if (floor) head.push("floor steps/s", "floor: AdamW / GEMMs ms");
  const body = rows.map((r) => [
    r.config,
    r.strategy,
    `${f(r.steps_per_s)} (${f(r.steps_per_s_min)}-${f(r.steps_per_s_max)})`,
    f(r.samples_per_s, 0),
    f(r.useful_gflops),
    f(r.peak_gflops),
    `${f(100 * r.utilization)} %`,
    f(r.data_ms_per_step, 2),
    ...(!floor ? [] : r.floor_steps_per_s === undefined ? ["–", "–"] : [
      f(r.floor_steps_per_s),
      `${f(r.floor_adamw_ms!)} / ${f(r.floor_gemm_ms!)}`,
    ]),
  ]);
  const lines = [head, head.map(() => "---"), ...body].map((c) => `| ${c.join(" | ")} |`);
  return `threads ${threads}\n${lines.join("\n")}`;
}

async function main(): Promise<number> {
  const v = parseFlags(
    Deno.args,
    ["configs", "strategy", "threads", "reps", "steps", "profile", "group", "spinning"],
    ["no-prefetch", "row", "floor", "json"],
  );
  if (v === null) {
    console.log(
      "deno task bench [--configs 16e8a,64e8a,256e8a,paperB-2-3-MoE-w128,16e8a-aux,16e8a-sigmoid-bias,\n" +
        "                 16e8a-shared,16e8a-expert-choice] [--strategy auto|dense|sparse]\n" +
        "                [--threads 2] [--reps 5] [--steps N (default: the executor's chunk)] [--json]\n" +
        "                [--group R: also R runs (lrs) in one program, default 2, 1 = off]\n" +
        "                [--row: also Fig. 2's 4 students of teacher 16e8a, alone and in one program]\n" +
        "                [--floor: also each paper-A config's floor, its GEMMs + AdamW alone (bench/floor.ts)]\n" +
        "                [--no-prefetch] [--spinning on|off]\n" +
        "                [--profile PREFIX: write onnxruntime profiles; summarize with bench/profile.ts]",
    );
    return 0;
  }
  const names = listFlag("configs", v.configs, String, "config names") ?? Object.keys(CONFIGS);
  for (const n of names) {
    if (!(n in CONFIGS)) {
      throw new UsageError(
        `--configs: unknown config '${n}' (allowed: ${Object.keys(CONFIGS).join(", ")})`,
      );
    }
  }
  const strategy = choiceFlag("strategy", v.strategy, ["auto", "dense", "sparse"] as const) ??
    "auto";
  const threads = intFlag("threads", v.threads) ?? 2;
  const reps = intFlag("reps", v.reps) ?? 5;
  const steps = intFlag("steps", v.steps);
  // --group R (default 2; 1 = off): also each paper-A config as R runs in one program.
  const groupSize = intFlag("group", v.group) ?? 2;
  const groupNames = groupSize > 1 ? names.filter((n) => CONFIGS_WITH_TEACHER.includes(n)) : [];
  const spin = choiceFlag("spinning", v.spinning, ["on", "off"] as const);
  const opts: ExecutorOptions = {
    threads,
    ...(spin === undefined ? {} : { spinning: spin === "on" }),
  };

  const peak = await Peak.create(threads);
  const rows: BenchRow[] = [];
  try {
    await peak.measure(3);
    for (const name of names) {
      const profilePrefix = v.profile === undefined ? undefined : `${v.profile}${name}`;
      const r = await benchConfig(
        name,
        [CONFIGS[name](strategy)],
        { ...opts, profilePrefix },
        reps,
        steps,
        !v["no-prefetch"],
      );
      const fl = v.floor
        ? await measureFloor(CONFIGS[name](strategy), r.steps_per_call, threads, reps)
        : undefined;
      await peak.measure(3);
      rows.push({
        ...r,
        peak_gflops: NaN,
        utilization: NaN,
        ...(fl && {
          floor_steps_per_s: 1000 / fl.ms,
          floor_adamw_ms: fl.adamwMs,
          floor_gemm_ms: fl.gemmMs,
        }),
      });
      if (!v.json) {
        const fs = fl ? `, floor ${f(1000 / fl.ms)}` : "";
        console.error(`${name}: ${f(r.steps_per_s)} steps/s (${r.strategy})${fs}`);
      }
    }
    // Several runs in one program, as the sweep trains a cell's learning rates ...
    const grouped = groupNames.map((name) => ({
      name: `${name} x${groupSize} lrs, one program`,
      cfgs: lrGroup(CONFIGS[name](strategy), groupSize),
    }));
    // ... and a teacher's row of Fig. 2 (its students share data and teacher): alone, each
    // student's own row; together, one program. Run-steps/s alone = R / sum of 1/rate.
    if (v.row) {
      const row = ROW_STUDENTS.map(([m, k]) => paperA(m, k, strategy));
      for (const c of row) grouped.push({ name: `row: ${c.labels.student} alone`, cfgs: [c] });
      grouped.push({ name: "row: 4e2a+8e4a+16e8a+32e16a, one program", cfgs: row });
    }
    for (const { name, cfgs } of grouped) {
      const r = await benchConfig(name, cfgs, opts, reps, steps, !v["no-prefetch"]);
      await peak.measure(3);
      rows.push({ ...r, peak_gflops: NaN, utilization: NaN });
      if (!v.json) console.error(`${r.config}: ${f(r.steps_per_s)} run-steps/s`);
    }
  } finally {
    await peak.release();
  }
  for (const r of rows) {
    r.peak_gflops = peak.gflops;
    r.utilization = r.useful_gflops / peak.gflops;
  }
  if (v.json) { for (const r of rows) console.log(JSON.stringify(r)); }
  else console.log(table(rows, threads));
  return 0;
}

if (import.meta.main) await runMain("bench", main);
