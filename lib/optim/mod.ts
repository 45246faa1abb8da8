/** In-graph optimizers (AdamW, SGD), learning-rate schedules and parameter-group lrs. */
export { type Optimizer, optimizerStep, type StepContext, zerosState } from "./optimizer.ts";
export { adamw, type AdamWOptions, adamwTorchState, resolveAdamW } from "./adamw.ts";
export { resolveSgd, sgd, type SgdOptions } from "./sgd.ts";
export {
  makeOptimizer,
  OPTIMIZER_NAMES,
  type OptimizerEntry,
  type OptimizerFields,
  type OptimizerName,
  OPTIMIZERS,
} from "./registry.ts";
export {
  checkScheduleSpec,
  COSINE_PER,
  lrAt,
  type Schedule,
  SCHEDULE_KINDS,
  scheduledLr,
  type ScheduleSpec,
} from "./schedule.ts";
export { groupLr, groupLrsFeed, groupLrsInput } from "./groups.ts";
export {
  adamwInitRef,
  type AdamWRefState,
  adamwStepRef,
  sgdInitRef,
  type SgdRefState,
  sgdStepRef,
} from "./reference.ts";
