/**
 * A static check of an ONNX model against onnxruntime's CUDA execution provider (lib/cuda/
 * kernels.ts): walks the ModelProto's node lists, Loop/If subgraphs included, infers every value's
 * element type, and reports each node that would run on the CPU (no CUDA kernel for its op, opset
 * or dtypes; or moved there by onnxruntime's CPU preference for shape arithmetic), each
 * nondeterministic kernel, each integer use a kernel handles wrongly, each GPU-computed value a
 * kernel reads from host memory (a device-to-host copy and sync), and each float64 computation.
 * It checks what onnxruntime would decide from the graph alone; nothing is run.
 */
import onnx from "onnx-proto";
import { type DType, dtypeFromOnnx } from "../graph/dtype.ts";
import { CUDA_OPS, type OpEntry, type Registration, schemaVersion } from "./kernels.ts";
import { INTEGER_HAZARDS, NONDETERMINISTIC } from "./hazards.ts";
import { type Finding, type FindingKind } from "./findings.ts";
import { MOVEMENT, SIZE_BOUNDED } from "./op_sets.ts";

export {
  collapse,
  type Finding,
  FINDING_KINDS,
  type FindingKind,
  formatFindings,
  isError,
} from "./findings.ts";

type IModel = onnx.onnx.IModelProto;
type IGraph = onnx.onnx.IGraphProto;
type INode = onnx.onnx.INodeProto;
type IAttr = onnx.onnx.IAttributeProto;

/** onnxruntime treats initializers of at most this many elements as "small" (CPU-placeable). */
const SMALL_INITIALIZER = 100;

interface Val {
  dtype?: DType;
  /** Lives in host memory (initializer, fed input, CPU node output, Shape/Size). */
  host: boolean;
  /** An initializer (or folded Constant) of at most SMALL_INITIALIZER elements. */
  small: boolean;
  /** An upper bound on its element count, when known (per-step scalars, per-group vectors). */
  elems?: number;
}

class Scope {
  readonly vals = new Map<string, Val>();
  /** This graph's inputs (onnxruntime's CPU preference accepts them like small initializers). */
  readonly inputs = new Set<string>();
  /** Values onnxruntime's CPU preference treats as CPU tensors in this graph. */
  readonly cpu = new Set<string>();
  constructor(readonly parent?: Scope) {}
  get(name: string): Val | undefined {
    return this.vals.get(name) ?? this.parent?.get(name);
  }
}

function dtypeOf(code: number | null | undefined): DType | undefined {
  if (code === null || code === undefined) return undefined;
  try {
    return dtypeFromOnnx(code);
  } catch {
    return undefined;
  }
}

/** A protobuf int64 (a number or a Long) as a number. */
const num = (x: unknown): number => typeof x === "number" ? x : Number(String(x));
const elements = (dims: readonly unknown[] | null | undefined) =>
  (dims ?? []).reduce((a: number, d) => a * num(d), 1);

/** The element count a value info declares (undefined: unknown shape or a symbolic dim). */
function declaredElements(i: onnx.onnx.IValueInfoProto): number | undefined {
  const dims = i.type?.tensorType?.shape?.dim;
  if (!dims || dims.some((d) => d.dimValue === null || d.dimValue === undefined)) return undefined;
  return elements(dims.map((d) => d.dimValue));
}

function attrOf(n: INode, name: string): IAttr | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

function stringAttr(n: INode, name: string, dflt: string): string {
  const a = attrOf(n, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

/** The model's ai.onnx opset. */
function opsetOf(m: IModel): number {
  const imp = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return num(imp?.version ?? 1);
}

const fmtRange = (r: Registration) =>
  r.until === undefined ? `${r.since}+` : `[${r.since}, ${r.until}]`;

interface Ctx {
  opset: number;
  findings: Finding[];
  dtypes?: Map<string, DType | undefined>;
}

/** The newest opset the kernel table's schema versions cover. */
export const TABLE_OPSET = 17;

export interface AuditOptions {
  /** Prefix of every finding's path (e.g. the program's name). */
  label?: string;
  /** Receives every value's inferred element type (graph inputs, initializers, node outputs). */
  dtypes?: Map<string, DType | undefined>;
}

/** Audits a model (serialized bytes or a ModelProto object) for the CUDA EP. */
export function auditModel(model: Uint8Array | IModel, opts: AuditOptions = {}): Finding[] {
  const m: IModel = model instanceof Uint8Array ? onnx.onnx.ModelProto.decode(model) : model;
  const ctx: Ctx = { opset: opsetOf(m), findings: [], dtypes: opts.dtypes };
  const label = opts.label ?? "";
  if (!m.graph) return [];
  if (ctx.opset > TABLE_OPSET) {
    ctx.findings.push({
      kind: "fallback",
      path: label || "model",
      op: "",
      message:
        `opset ${ctx.opset} is newer than the kernel table (lib/cuda/kernels.ts, opset <= ${TABLE_OPSET})`,
    });
    return ctx.findings;
  }
  const scope = new Scope();
  for (const i of m.graph.input ?? []) {
    scope.vals.set(i.name!, {
      dtype: dtypeOf(i.type?.tensorType?.elemType),
      host: true,
      small: false,
      elems: declaredElements(i),
    });
    scope.inputs.add(i.name!);
  }
  walk(ctx, m.graph, label ? `${label}:` : "", scope);
  return ctx.findings;
}

function walk(ctx: Ctx, g: IGraph, path: string, scope: Scope): void {
  for (const t of g.initializer ?? []) {
    scope.vals.set(t.name!, {
      dtype: dtypeOf(t.dataType),
      host: true,
      small: elements(t.dims) <= SMALL_INITIALIZER,
      elems: elements(t.dims),
    });
  }
  for (const n of g.node ?? []) visit(ctx, n, path, scope);
  for (const [name, v] of scope.vals) ctx.dtypes?.set(name, v.dtype);
}

function visit(ctx: Ctx, n: INode, path: string, scope: Scope): void {
  const op = n.opType ?? "";
  const where = `${path}${n.name || op}`;
  const report = (kind: FindingKind, message: string) =>
    ctx.findings.push({ kind, path: where, op, message });
  const inputs = (n.input ?? []).map((name) => (name ? { name, val: scope.get(name) } : undefined));
  const outs = n.output ?? [];
  const present = (n.input ?? []).filter((x) => x);
  const sizes = present.map((x) => scope.get(x)?.elems);
  const sizeBound = SIZE_BOUNDED.has(op) && outs.length === 1 && sizes.every((e) => e !== undefined)
    ? (sizes as number[]).reduce((a, b) => a * b, 1)
    : undefined;
  const tiny = sizes.length > 0 && sizes.every((e) => e !== undefined && e <= SMALL_INITIALIZER);
  const setOut = (dtypes: (DType | undefined)[], host: boolean, small = false) =>
    outs.forEach((o, j) =>
      o && scope.vals.set(o, { dtype: dtypes[j], host, small, elems: sizeBound })
    );

  const entry = n.domain && n.domain !== "ai.onnx" ? undefined : CUDA_OPS[op];
  if (!entry) {
    report("fallback", `no CUDA kernel: ${n.domain || "ai.onnx"}.${op} is not in the kernel table`);
    setOut(outs.map(() => undefined), true);
    markCpu(scope, n);
    return;
  }
  if (entry.placement.kind === "initializer") {
    const t = attrOf(n, "value")?.t;
    const size = elements(t?.dims);
    for (const o of outs) {
      if (o) {
        scope.vals.set(o, {
          dtype: dtypeOf(t?.dataType) ?? "float32",
          host: true,
          small: size <= SMALL_INITIALIZER,
          elems: size,
        });
      }
    }
    return;
  }
  const kernelOp = entry.placement.kind === "function" ? entry.placement.body : op;
  const kernel = CUDA_OPS[kernelOp];
  const reg = kernel.placement.kind === "kernel" ? kernel.placement.cuda : undefined;
  const inDtypes = inputs.map((i) => i?.val?.dtype);
  const { bound, checks, problems } = bind(op, entry, inDtypes);
  const outDtypes = outputDtypes(entry, n, bound);
  if (kernelOp === "Cast" && outDtypes[0]) {
    // CastLike expands into Cast(input 0) to input 1's dtype; Cast's T2 comes from "to".
    checks.length = 0;
    if (inDtypes[0]) checks.push(["T1", inDtypes[0]]);
    checks.push(["T2", outDtypes[0]]);
  }

  const version = schemaVersion(entry, ctx.opset);
  let fallback: string | undefined;
  if (!reg || version === undefined) fallback = `no CUDA kernel for ${op} at opset ${ctx.opset}`;
  else if (version < reg.since || (reg.until !== undefined && version > reg.until)) {
    fallback = `no CUDA kernel for ${op}-${version} (CUDA registers ${fmtRange(reg)})`;
  } else if (problems.length) fallback = problems.join("; ");
  else {
    for (const [tv, dt] of checks) {
      const allowed = reg.types[tv];
      if (allowed && !allowed.includes(dt)) {
        fallback = `no CUDA kernel for ${kernelOp} with ${tv}=${dt} (CUDA takes ${
          allowed.join(", ")
        })`;
        break;
      }
    }
  }

  // onnxruntime's CPU preference (fallback_cpu_capability.cc) for nodes fed by CPU tensors.
  const candidate = inputs.some((i) => i && scope.cpu.has(i.name));
  if (fallback) {
    report("fallback", fallback);
    setOut(outDtypes, true);
    if (candidate) markCpu(scope, n);
  } else if (candidate && cpuPreferred(entry, inputs, scope)) {
    report(
      "cpu-preferred",
      "runs on the CPU: every input is a CPU tensor, small initializer or graph input",
    );
    setOut(outDtypes, true);
    markCpu(scope, n);
  } else {
    setOut(outDtypes, false);
    for (const j of entry.hostOutputs ?? []) {
      if (outs[j]) {
        scope.vals.set(outs[j], { dtype: outDtypes[j], host: true, small: false });
        scope.cpu.add(outs[j]);
      }
    }
    for (const i of entry.hostInputs ?? []) {
      const inp = inputs[i];
      if (inp && inp.val && !inp.val.host) {
        report(
          "host-copy",
          `input ${i} (${inp.name}, ${
            inp.val.dtype ?? "?"
          }) is computed on the GPU and read from ` +
            `host memory: a device-to-host copy and stream sync`,
        );
      }
    }
    checkDeterminism(n, op, inDtypes[0], report);
    if (checks.some(([, dt]) => dt === "float64") && !MOVEMENT.has(op) && !tiny) {
      report(
        "float64",
        "computes in float64 on a tensor not known to be small (FP64 runs at a fraction of FP32 speed on most GPUs)",
      );
    }
  }

  for (const a of n.attribute ?? []) {
    if (a.g) walkSubgraph(ctx, n, a, `${where}/${a.name}/`, scope);
  }
}

function markCpu(scope: Scope, n: INode): void {
  for (const o of n.output ?? []) if (o) scope.cpu.add(o);
}

function cpuPreferred(
  entry: OpEntry,
  inputs: ({ name: string; val?: Val } | undefined)[],
  scope: Scope,
): boolean {
  for (const [i, inp] of inputs.entries()) {
    if (!inp) continue;
    if (inp.val?.small || scope.inputs.has(inp.name)) continue;
    if (!scope.cpu.has(inp.name)) return false;
    if (entry.hostInputs?.includes(i)) return false;
  }
  return true;
}

function checkDeterminism(
  n: INode,
  op: string,
  data: DType | undefined,
  report: (kind: FindingKind, message: string) => void,
): void {
  for (const nd of NONDETERMINISTIC) {
    if (nd.op !== op) continue;
    const v = stringAttr(n, nd.attr, nd.deterministic);
    if (v !== nd.deterministic && data && nd.dtypes.includes(data)) {
      report("nondeterministic", `${nd.attr}="${v}" on ${data}: ${nd.why}`);
    }
  }
  for (const h of INTEGER_HAZARDS) {
    if (h.op !== op) continue;
    const v = stringAttr(n, h.attr, h.none);
    if (v !== h.none && (data === "int32" || data === "int64" || data === "uint64")) {
      report("integer", `${h.attr}="${v}" on ${data}: ${h.why}`);
    }
  }
}

/** Binds the signature's type variables to the actual input dtypes: [variable, dtype] checks. */
function bind(
  op: string,
  e: OpEntry,
  dtypes: (DType | undefined)[],
): { bound: Map<string, DType>; checks: [string, DType][]; problems: string[] } {
  const bound = new Map<string, DType>();
  const checks: [string, DType][] = [];
  const problems: string[] = [];
  dtypes.forEach((dt, i) => {
    const slot = slotAt(e.inputs, i);
    if (!dt || !slot) return;
    if (isDType(slot)) {
      if (slot !== dt) problems.push(`input ${i} of ${op} is ${dt}, the op takes ${slot}`);
      return;
    }
    checks.push([slot, dt]);
    if (!bound.has(slot)) bound.set(slot, dt);
  });
  return { bound, checks, problems };
}

/** The formal parameter (without "?" / "...") serving position i. */
function slotAt(slots: readonly string[], i: number): string | undefined {
  const last = slots[slots.length - 1];
  const s = i < slots.length ? slots[i] : last?.endsWith("...") ? last : undefined;
  return s?.replace(/\?$|\.\.\.$/, "");
}

const DTYPES: ReadonlySet<string> = new Set([
  "float32",
  "float64",
  "int32",
  "int64",
  "uint64",
  "bool",
]);
function isDType(s: string): s is DType {
  return DTYPES.has(s);
}

function outputDtypes(e: OpEntry, n: INode, bound: Map<string, DType>): (DType | undefined)[] {
  const outs = n.output ?? [];
  if (e.outputFrom === "subgraph") {
    const g = attrOf(n, n.opType === "Loop" ? "body" : "then_branch")?.g;
    const skip = n.opType === "Loop" ? 1 : 0;
    return outs.map((_, j) => dtypeOf(g?.output?.[j + skip]?.type?.tensorType?.elemType));
  }
  return outs.map((_, j) => {
    const tv = slotAt(e.outputs, j) ?? "";
    if (isDType(tv)) return tv;
    switch (e.outputFrom) {
      case "attr:to":
        return dtypeOf(num(attrOf(n, "to")?.i ?? 0));
      case "attr:dtype": {
        const a = attrOf(n, "dtype");
        return a ? dtypeOf(num(a.i)) : "float32";
      }
      case "attr:value": {
        const t = attrOf(n, "value")?.t;
        return t ? dtypeOf(t.dataType) : "float32";
      }
    }
    if (bound.has(tv)) return bound.get(tv);
    const only = e.placement.kind === "kernel" ? e.placement.cuda.types[tv] : undefined;
    return only?.length === 1 ? only[0] : undefined;
  });
}

function walkSubgraph(ctx: Ctx, n: INode, a: IAttr, path: string, outer: Scope): void {
  const g = a.g!;
  const inner = new Scope(outer);
  (g.input ?? []).forEach((i, idx) => {
    // onnxruntime's Loop hands the body its iteration number and condition as CPU tensors.
    const host = n.opType === "Loop" && idx < 2;
    inner.vals.set(i.name!, {
      dtype: dtypeOf(i.type?.tensorType?.elemType),
      host,
      small: false,
      elems: declaredElements(i),
    });
    inner.inputs.add(i.name!);
  });
  walk(ctx, g, path, inner);
}
