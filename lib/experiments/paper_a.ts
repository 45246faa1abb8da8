/**
 * Paper A ("The power of fine-grained experts", arXiv 2505.06839) student-teacher experiments.
 * Full scale reproduces the authors' settings (README.md, "Experiments"); quick scale
 * shows the same effect on a 2-core CPU (d = 64, teacher 64 / student 80 active neurons,
 * 20 epochs, calibrated against the authors' script).
 */
import type { MoeSpec, RunConfig } from "../sweep/types.ts";
import {
  type Overrides,
  protocol,
  type Scale,
  type Setting,
  TRAINING_SETTINGS,
} from "./overrides.ts";
import { teacherFileTarget } from "./teacher_file.ts";
import { ROUTER_SETTINGS, studentRouter } from "./router_settings.ts";
import { parseShorthand, shorthand } from "../nn/config.ts";

const FIG2_GRID = ["4e2a", "8e4a", "12e6a", "16e8a", "20e10a", "24e12a", "28e14a", "32e16a"];
const FIG2_QUICK = ["4e2a", "8e4a", "16e8a", "32e16a"];

export interface PaperAScale {
  d: number;
  teacherActive: number;
  studentActive: number;
  epochs: number;
  samplesPerEpoch: number;
  batch: number;
  testSamples: number;
  lrs: number[];
}

/** The authors' settings: d = 256, kw = 256 (teacher) / 320 (student), 100 x 2^18 samples. */
function scaleOf(scale: Scale, kwOverD: 1 | 4): PaperAScale {
  if (scale === "full") {
    return {
      d: 256,
      teacherActive: 256 * kwOverD,
      studentActive: 320 * kwOverD,
      epochs: 100,
      samplesPerEpoch: 2 ** 18,
      batch: 2048,
      testSamples: 2 ** 12,
      lrs: [1e-3, 1e-2],
    };
  }
  return {
    d: 64,
    teacherActive: 64 * kwOverD,
    studentActive: 80 * kwOverD,
    epochs: 20,
    samplesPerEpoch: 2 ** 18,
    batch: 2048,
    testSamples: 2 ** 12,
    lrs: [1e-2],
  };
}

export function moeSpec(
  m: number,
  k: number,
  active: number,
  d: number,
  routerBias: boolean,
  strategy: MoeSpec["strategy"],
): MoeSpec {
  return {
    m,
    k,
    w: Math.floor(active / k),
    dIn: d,
    dOut: d,
    gate: "softmax-topk",
    activation: "relu",
    routerBias,
    expertBias: true,
    strategy,
  };
}

export interface Pair {
  teacher: { m: number; k: number };
  student: { m: number; k: number };
  labels: Record<string, string | number>;
}

export function runsFor(
  experiment: string,
  scale: Scale,
  o: Overrides,
  pairs: Pair[],
  opts: { kwOverD: 1 | 4; studentRouterBias: boolean; studentActive?: (s: PaperAScale) => number },
): RunConfig[] {
  const s0 = scaleOf(scale, opts.kwOverD);
  const s: PaperAScale = { ...s0, d: o.d ?? s0.d };
  if (o.d !== undefined) {
    // Keep the active-neuron ratios of the preset when the dimension is overridden.
    s.teacherActive = Math.round((s0.teacherActive / s0.d) * s.d);
    s.studentActive = Math.round((s0.studentActive / s0.d) * s.d);
  }
  const studentActive = opts.studentActive?.(s) ?? s.studentActive;
  const strategy = o.strategy ?? "auto";
  const file = o.teacherFile !== undefined ? teacherFileTarget(o.teacherFile) : undefined;
  if (file && file.config.dIn !== s.d) {
    throw new Error(
      `teacherFile: ${o.teacherFile} takes inputs of dimension ${file.config.dIn}, but the experiment's d is ${s.d} (set d to ${file.config.dIn})`,
    );
  }
  const runs: RunConfig[] = [];
  const seen = new Set<string>();
  for (const p0 of pairs) {
    // A teacher file replaces every preset teacher: the pairs collapse to one row.
    const p = file
      ? {
        ...p0,
        labels: { ...p0.labels, teacher: shorthand(file.config.m, file.config.k) },
      }
      : p0;
    const key = JSON.stringify([p.student, p.labels]);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const lr of o.lrs ?? s.lrs) {
      for (const seed of o.seeds ?? [0]) {
        runs.push({
          experiment,
          scale: o.custom ? "custom" : scale,
          seed,
          dtype: o.dtype ?? "float32",
          input: { dist: "gaussian", d: s.d },
          target: file?.target ?? {
            kind: "teacher",
            teacher: moeSpec(p.teacher.m, p.teacher.k, s.teacherActive, s.d, false, strategy),
            seed: o.teacherSeed ?? 0,
            init: "torch",
          },
          model: studentRouter(
            moeSpec(p.student.m, p.student.k, studentActive, s.d, opts.studentRouterBias, strategy),
            o,
          ),
          train: protocol({ ...s, weightDecay: 0.01 }, lr, o),
          labels: p.labels,
        });
      }
    }
  }
  return runs;
}

/** Figure 2 (and 4 with kw = 4d): every teacher x student at sparsity 1/2. */
export function heatmapRuns(
  experiment: string,
  scale: Scale,
  o: Overrides,
  kwOverD: 1 | 4,
  studentActive?: (s: PaperAScale) => number,
): RunConfig[] {
  const grid = o.archs ?? (scale === "full" ? FIG2_GRID : FIG2_QUICK);
  const pairs: Pair[] = [];
  for (const t of grid) {
    for (const st of grid) {
      pairs.push({
        teacher: parseShorthand(t),
        student: parseShorthand(st),
        labels: { teacher: t, student: st },
      });
    }
  }
  return runsFor(experiment, scale, o, pairs, { kwOverD, studentRouterBias: false, studentActive });
}

/**
 * Figure 3 (and 5 with kw = 4d): teacher 16e8a; students of granularity g with m' = 2·x·g
 * experts (x = relative total size), trainable router bias.
 */
export function sizeRuns(
  experiment: string,
  scale: Scale,
  o: Overrides,
  kwOverD: 1 | 4,
): RunConfig[] {
  const gs = o.granularities ?? (scale === "full" ? [2, 4, 6, 8] : [2, 4, 8]);
  const xs = o.relSizes ?? (scale === "full" ? [1, 2, 4, 8, 16] : [1, 2, 4]);
  const pairs: Pair[] = [];
  for (const g of gs) {
    for (const x of xs) {
      const student = { m: 2 * x * g, k: g };
      pairs.push({
        teacher: { m: 16, k: 8 },
        student,
        labels: { teacher: "16e8a", student: shorthand(student.m, g), granularity: g, rel_size: x },
      });
    }
  }
  return runsFor(experiment, scale, o, pairs, { kwOverD, studentRouterBias: true });
}

/** What every paper A preset reads: the protocol, the teacher and the student's router. */
export const PAPER_A_SETTINGS = [
  ...TRAINING_SETTINGS,
  "d",
  "teacherSeed",
  "teacherFile",
  ...ROUTER_SETTINGS,
] as const satisfies readonly Setting[];
const HEATMAP = [...PAPER_A_SETTINGS, "archs"] as const;
const SIZES = [...PAPER_A_SETTINGS, "granularities", "relSizes"] as const;

export const PAPER_A = {
  fig2: {
    description:
      "Fig. 2: teachers x students in {4e2a..32e16a} at sparsity 1/2; normalized test loss heatmap (rows teachers, columns students).",
    figure: "heatmap",
    settings: HEATMAP,
    runs: (scale: Scale, o: Overrides) => heatmapRuns("fig2", scale, o, 1),
  },
  fig3: {
    description:
      "Fig. 3: teacher 16e8a; students of granularity g with 2·x·g experts (x = relative size), trainable router bias; loss vs size.",
    figure: "size-lines",
    settings: SIZES,
    runs: (scale: Scale, o: Overrides) => sizeRuns("fig3", scale, o, 1),
  },
  fig4: {
    description: "Fig. 4: Fig. 2 with kw = 4d active neurons (teacher 4d, student 5d).",
    figure: "heatmap",
    settings: HEATMAP,
    runs: (scale: Scale, o: Overrides) => heatmapRuns("fig4", scale, o, 4),
  },
  fig5: {
    description:
      "Fig. 5: Fig. 3 with kw = 4d active neurons, trained 5x longer (500 epochs at full scale).",
    figure: "size-lines",
    settings: SIZES,
    runs: (scale: Scale, o: Overrides) =>
      sizeRuns("fig5", scale, {
        ...o,
        epochs: o.epochs ?? (scale === "full" ? 500 : 60),
      }, 4),
  },
  overparam: {
    description:
      "Unreported check: Fig. 2 with a 12.5 % over-parametrized student (288 active neurons at d = 256).",
    figure: "heatmap",
    settings: HEATMAP,
    runs: (scale: Scale, o: Overrides) =>
      heatmapRuns("overparam", scale, o, 1, (s) => Math.round(s.teacherActive * 1.125)),
  },
} as const;
