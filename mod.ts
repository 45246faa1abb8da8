/**
 * moe-onnx: Mixture-of-Experts expressivity research on onnxruntime, from Deno.
 *
 * Models are built directly as ONNX graphs; gradients come from our own reverse-mode autodiff
 * (standard ONNX ops only) and optimizer updates are part of the same graph, so one
 * onnxruntime `run()` performs many training steps.
 *
 * ```ts
 * import { Graph, grad, moeConfig, initMoe, key, moeForward, Trainer, adamw } from "./mod.ts";
 *
 * const layer = moeConfig({ m: 16, k: 8, w: 40, dIn: 64 });
 * const params = initMoe(layer, key(0), { dtype: "float32" });
 * const trainer = await Trainer.create({
 *   dtype: "float32",
 *   params: [...params].map(([name, init]) => ({ name, init })),
 *   batch: [{ kind: "fed", name: "x", dtype: "float32", dims: [256, 64] },
 *           { kind: "fed", name: "y", dtype: "float32", dims: [256, 64] }],
 *   loss: (g, p, b) => { const d = g.op.Sub(moeForward(g, layer, p, b.x).y, b.y);
 *                        return g.op.ReduceSum(g.op.Mul(d, d), undefined, { keepdims: 0 }); },
 *   optimizer: adamw(),
 *   schedule: { schedule: { kind: "constant" } },
 * }, { lrs: [1e-3] });
 * const losses = await trainer.run(100, { x, y }); // x, y: [100, 256, 64] HostTensors
 * ```
 *
 * @module
 */

// Graph building
export {
  type Attr,
  type AttrInput,
  type Dim,
  Graph,
  GraphError,
  type Node,
  type NodeOptions,
  type Operand,
  type Shape,
  Value,
} from "./lib/graph/builder.ts";
export { OP_TABLE, type Ops, type OpTable, type WrapOf, type WrappedOp } from "./lib/graph/ops.ts";
export type { AnyTypedArray, DType, FloatDType, TypedArrayOf } from "./lib/graph/dtype.ts";
export { type HostTensor, scalar, tensor } from "./lib/graph/tensor.ts";
export { encodeModel, IR_VERSION, type ModelOptions, OPSET } from "./lib/graph/encode.ts";
export { formatGraph, formatNode, qualifiedName } from "./lib/graph/format.ts";

// Autodiff
export { grad, GradError, type GradOptions } from "./lib/autodiff/grad.ts";
export type { RuleContext } from "./lib/autodiff/context.ts";
export { customGradient, type CustomRule } from "./lib/autodiff/custom.ts";
export { OPS } from "./lib/graph/ops.ts";
export type {
  AttrType,
  Emit,
  GradOut,
  GradRule,
  InSlot,
  OpDef,
  OutSlot,
  ShapeArgs,
  ShapeRule,
} from "./lib/graph/ops/def.ts";

// Runtime, optimizers, training
export {
  checkExecutionProvider,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  OPT_LEVELS,
  type OptLevel,
  Session,
  type SessionOptions,
} from "./lib/runtime/session.ts";
export {
  adamw,
  type AdamWOptions,
  adamwTorchState,
  makeOptimizer,
  type Optimizer,
  type OptimizerFields,
  type OptimizerName,
  OPTIMIZERS,
  sgd,
  type SgdOptions,
  type StepContext,
} from "./lib/optim/mod.ts";
export { lrAt, type Schedule, scheduledLr, type ScheduleSpec } from "./lib/optim/schedule.ts";
export { Trainer, type TrainerOptions } from "./lib/train/trainer.ts";
export { type EvalSpec, Evaluator } from "./lib/train/evaluator.ts";
export type {
  BatchInput,
  FedBatch,
  LossFn,
  ParamSpec,
  ProgramIO,
  RandomBatch,
  TrainProgramSpec,
} from "./lib/train/program.ts";
export { loadCheckpoint, saveCheckpoint, type TrainState } from "./lib/train/checkpoint.ts";

// Randomness and data
export { foldIn, type Key, key, split, Stream } from "./lib/random/prng.ts";
export { fillNormal, fillUniform } from "./lib/random/bulk.ts";
export * from "./lib/data/mod.ts";

// Models
export * from "./lib/nn/mod.ts";
export { moeForward, type MoeForwardResult, strategyCost } from "./lib/nn/moe.ts";
export { deepMoeForward } from "./lib/nn/deep.ts";
export { deepMoeReference, moeReference } from "./lib/nn/reference.ts";
export {
  BATCH_DIM,
  EXPORT_STRATEGIES,
  exportModel,
  type ExportOptions,
  type ExportStrategy,
  FORMAT_VERSION,
  type ImportedModel,
  importModel,
  MODEL_FORMAT,
  MODEL_KINDS,
  type ModelKind,
  type ModelMetadata,
  type ModelSpec,
  writeModel,
} from "./lib/export/onnx_export.ts";

// Experiments and sweeps
export {
  type Experiment,
  EXPERIMENTS,
  type FigureKind,
  parseGrid,
  type ResolvedSweep,
  resolvePreset,
} from "./lib/experiments/registry.ts";
export {
  OVERRIDES,
  type Overrides,
  type Scale,
  SCALES,
  type Setting,
  TRAINING_SETTINGS,
} from "./lib/experiments/overrides.ts";
export type { Knob, KnobKind, KnobTable, KnobValue, KnobValues } from "./lib/cli/knobs.ts";
export {
  type ExecutorOptions,
  groupKey,
  makeExecutor,
  makeGroupExecutor,
  type PreparedGroup,
  type PreparedRun,
  prepareGroup,
  prepareRun,
  studentParamCount,
  SWEEP_GROUP_MAX_PARAMS,
} from "./lib/experiments/executor.ts";
export { runSweep, type SweepOptions, type SweepSummary } from "./lib/sweep/engine.ts";
export { runId } from "./lib/sweep/runid.ts";
export type { AfterRebuild } from "./lib/sweep/outputs.ts";
export type { ProgressSink, RunEnd } from "./lib/sweep/progress.ts";
export type { Configuration } from "./lib/sweep/configuration.ts";
export { countExpertChoice, type LayerLoad } from "./lib/sweep/router_loads.ts";
export { RouterEvaluator } from "./lib/experiments/router_eval.ts";
export type { ClaimOptions } from "./lib/sweep/claims.ts";
export type { Shard } from "./lib/sweep/shard.ts";
export type { InvalidRecord } from "./lib/sweep/records.ts";
export type {
  EpochRow,
  Executor,
  GroupExecutor,
  ModelConfig,
  MoeSpec,
  RunConfig,
  RunProgress,
  RunRecord,
  RunResult,
  TargetConfig,
  TrainConfig,
} from "./lib/sweep/types.ts";
export type { Panel, RgbImage } from "./lib/plot/image.ts";

// Theory checks (Lemmas 3.2 and 3.3, router partitions)
export * from "./lib/theory/mod.ts";
