/**
 * The optimizers a run config names (`train.optimizer`): one entry each, saying which of the
 * run's hyperparameter fields it reads and how they make the in-graph `Optimizer`. Adding an
 * optimizer is its update rule in its own module (as adamw.ts, sgd.ts) plus one entry here.
 */
import { adamw } from "./adamw.ts";
import type { Optimizer } from "./optimizer.ts";
import { sgd } from "./sgd.ts";

/** A run's optimizer hyperparameters (the fields of the sweep's TrainConfig besides lr). */
export interface OptimizerFields {
  /** AdamW's (beta1, beta2). */
  betas: readonly [number, number];
  /** AdamW's eps. */
  eps: number;
  /** Weight decay (AdamW: decoupled; SGD: L2 added to the gradient). */
  weightDecay: number;
  /** SGD's momentum factor; omitted means 0. */
  momentum?: number;
}

/** One registered optimizer. */
export interface OptimizerEntry {
  /** One line for help texts. */
  summary: string;
  /** The optional fields it reads (a run setting another optional field is rejected). */
  reads: readonly (keyof OptimizerFields)[];
  /** The optimizer with these hyperparameters. */
  make(f: OptimizerFields): Optimizer;
}

/** The registry, by `train.optimizer` name. */
export const OPTIMIZERS = {
  adamw: {
    summary: "torch.optim.AdamW: betas, eps, decoupled weightDecay",
    reads: ["betas", "eps", "weightDecay"],
    make: (f) => adamw({ betas: f.betas, eps: f.eps, weightDecay: f.weightDecay }),
  },
  sgd: {
    summary: "torch.optim.SGD: weightDecay (L2, added to the gradient), momentum (default 0)",
    reads: ["weightDecay", "momentum"],
    make: (f) => sgd({ weightDecay: f.weightDecay, momentum: f.momentum ?? 0 }),
  },
} as const satisfies Record<string, OptimizerEntry>;

/** A registered optimizer's name. */
export type OptimizerName = keyof typeof OPTIMIZERS;

/** The registered names, in registry order. */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/** Fields that only some optimizers read, so a run must not set them for the others. */
const OPTIONAL_FIELDS = ["momentum"] as const;

/**
 * The optimizer `name` built from `fields`; one-line errors naming `where.optimizer` (unknown
 * name, with the allowed ones) or the field an optimizer does not read.
 */
export function makeOptimizer(name: string, fields: OptimizerFields, where = "train"): Optimizer {
  if (!Object.hasOwn(OPTIMIZERS, name)) {
    throw new Error(
      `${where}.optimizer: unknown optimizer '${name}' (allowed: ${OPTIMIZER_NAMES.join(", ")})`,
    );
  }
  const entry: OptimizerEntry = OPTIMIZERS[name as OptimizerName];
  for (const f of OPTIONAL_FIELDS) {
    if (fields[f] !== undefined && !entry.reads.includes(f)) {
      const users = OPTIMIZER_NAMES.filter((n) =>
        (OPTIMIZERS[n].reads as readonly string[]).includes(f)
      );
      throw new Error(
        `${where}.${f}: not used by optimizer '${name}' (only by: ${users.join(", ")})`,
      );
    }
  }
  return entry.make(fields);
}
