/**
 * Checking a node against its op's declaration (lib/graph/ops/): input slots and their type
 * variables, attribute tags, output dtypes.
 */
import type { Attr, AttrInput, Graph, Operand, Value } from "./builder.ts";
import { type DType, dtypeFromOnnx, isFloat, ONNX_DTYPE } from "./dtype.ts";
import type { HostTensor } from "./tensor.ts";
import type { AttrType, OpDef } from "./ops/def.ts";
import { GraphError } from "./errors.ts";

/** True for a HostTensor-shaped object. */
export function isHostTensor(x: unknown): x is HostTensor {
  return typeof x === "object" && x !== null && "dims" in x && "data" in x && "dtype" in x;
}

export function isFixed(type: string): boolean {
  return type in ONNX_DTYPE;
}

interface Slot {
  type: string;
  optional: boolean;
}

function parseSlot(s: string): Slot & { variadic: boolean } {
  const variadic = s.endsWith("...");
  const optional = s.endsWith("?");
  return { type: s.replace(/\.\.\.$|\?$/, ""), optional, variadic };
}

export function expandSlots(where: string, spec: string[], n: number): Slot[] {
  const parsed = spec.map(parseSlot);
  const out: Slot[] = [];
  for (let i = 0; i < n; i++) {
    const p = parsed[Math.min(i, parsed.length - 1)];
    if (i >= parsed.length && !p?.variadic) {
      throw new GraphError(`${where}: takes at most ${parsed.length} inputs, got ${n}`);
    }
    out.push({ type: p.type, optional: p.optional });
  }
  const required = parsed.filter((p) => !p.optional && !p.variadic).length;
  if (n < required) throw new GraphError(`${where}: needs ${required} inputs, got ${n}`);
  return out;
}

export function tagAttrs(
  where: string,
  schema: OpDef,
  attrs: Record<string, AttrInput | undefined>,
): Map<string, Attr> {
  const out = new Map<string, Attr>();
  for (const [k, raw] of Object.entries(attrs)) {
    if (raw === undefined) continue;
    const want: AttrType | undefined = schema.attrs?.[k];
    if (!want) {
      throw new GraphError(
        `${where}: unknown attribute '${k}' (allowed: ${
          Object.keys(schema.attrs ?? {}).join(", ") || "none"
        })`,
      );
    }
    const a = tagOne(raw, want);
    if (!a || a.type !== want) {
      throw new GraphError(`${where}: attribute '${k}' must be ${want}, got ${describe(raw)}`);
    }
    out.set(k, a);
  }
  return out;
}

function describe(x: AttrInput): string {
  if (Array.isArray(x)) return "a list";
  if (isGraph(x)) return "a graph";
  return typeof x === "object" ? "a tensor" : `${typeof x} ${JSON.stringify(x)}`;
}

function tagOne(x: AttrInput, want: AttrType): Attr | undefined {
  if (isGraph(x)) return { type: "graph", value: x };
  if (isHostTensor(x)) return { type: "tensor", value: x };
  if (typeof x === "string") return { type: "string", value: x };
  if (typeof x === "number") {
    if (want === "float") return { type: "float", value: x };
    if (want === "int" && Number.isInteger(x)) return { type: "int", value: x };
    return undefined;
  }
  if (Array.isArray(x)) {
    if (want === "floats") return { type: "floats", value: x };
    if (want === "ints" && x.every(Number.isInteger)) return { type: "ints", value: x };
  }
  return undefined;
}

export function outputDTypes(
  where: string,
  schema: OpDef,
  ins: (Value | undefined)[],
  attrs: Map<string, Attr>,
  nOut: number | undefined,
): DType[] {
  if (schema.outputs[0] === "graph") {
    const g = (attrs.get("body") ?? attrs.get("then_branch"))?.value as Graph | undefined;
    if (!g) throw new GraphError(`${where}: missing subgraph attribute`);
    const outs = attrs.has("body") ? g.outputs.slice(1) : g.outputs;
    return outs.map((o) => o.dtype);
  }
  const slots = expandSlots(where, schema.inputs, ins.length);
  const bound = new Map<string, DType>();
  ins.forEach((v, i) => v && bound.set(slots[i].type, v.dtype));
  const one = (s: string): DType => {
    const base = s.replace(/\.\.\.$/, "");
    if (isFixed(base)) return base as DType;
    if (base.startsWith("attr:")) {
      const a = attrs.get(base.slice(5));
      if (base === "attr:value") return a ? (a.value as HostTensor).dtype : "float32";
      return a ? dtypeFromOnnx(a.value as number) : "float32";
    }
    const dt = bound.get(base);
    if (!dt) throw new GraphError(`${where}: cannot infer output dtype`);
    return dt;
  };
  if (schema.outputs.length === 1 && schema.outputs[0].endsWith("...")) {
    return Array.from({ length: nOut ?? 1 }, () => one(schema.outputs[0]));
  }
  return schema.outputs.map(one);
}

function isGraph(x: unknown): x is Graph {
  return typeof x === "object" && x !== null && "nodes" in x && "initializers" in x;
}

/**
 * The node's inputs as Values: checks each against its slot (visibility, fixed dtypes, type
 * variables that must agree, floats), then promotes literals to constants of the slot's dtype.
 */
export function resolveInputs(
  g: Graph,
  where: string,
  schema: OpDef,
  inputs: readonly (Operand | undefined)[],
): (Value | undefined)[] {
  const slots = expandSlots(where, schema.inputs, inputs.length);
  // Bind type variables from the Value inputs first, then promote literals to match.
  const bound = new Map<string, DType>();
  inputs.forEach((x, i) => {
    const slot = slots[i];
    if (isValue(x)) {
      g.checkVisible(x, where);
      if (isFixed(slot.type)) {
        if (x.dtype !== slot.type) {
          throw new GraphError(
            `${where}: input ${i} ('${x.name}') must be ${slot.type}, got ${x.dtype}`,
          );
        }
      } else if (slot.type !== "*") {
        const prev = bound.get(slot.type);
        if (prev && prev !== x.dtype) {
          throw new GraphError(
            `${where}: dtype clash: input ${i} ('${x.name}') is ${x.dtype} but an earlier input of the same type is ${prev}`,
          );
        }
        bound.set(slot.type, x.dtype);
      }
    } else if (x === undefined && !slot.optional) {
      throw new GraphError(`${where}: input ${i} is required`);
    }
  });
  for (const v of schema.floatOnly ?? []) {
    const dt = bound.get(v);
    if (dt && !isFloat(dt)) throw new GraphError(`${where}: needs a float input, got ${dt}`);
  }
  return inputs.map((x, i) => {
    if (x === undefined || isValue(x)) return x;
    const slot = slots[i];
    const dt = isFixed(slot.type) ? slot.type as DType : bound.get(slot.type) ??
      (slot.type === "I" || slot.type === "J" ? "int64" : bound.get("T")); // Pow's exponent
    if (!dt) {
      throw new GraphError(
        `${where}: cannot infer the dtype of literal input ${i}; pass a Value`,
      );
    }
    if (isHostTensor(x) && x.dtype !== dt) {
      throw new GraphError(
        `${where}: dtype clash: literal input ${i} is ${x.dtype}, expected ${dt}`,
      );
    }
    return g.literal(x, dt);
  });
}

function isValue(x: unknown): x is Value {
  return typeof x === "object" && x !== null && "producer" in x && "graph" in x;
}
