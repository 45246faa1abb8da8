/**
 * A typed builder for ONNX graphs. A `Graph` owns nodes, inputs, outputs and initializers;
 * every `Value` knows its dtype and (where cheap to infer) its shape. Mistakes are reported
 * while building, naming the node: a value from an unrelated graph, a dtype clash, an
 * attribute of the wrong type, a missing input.
 */
import type { DType } from "./dtype.ts";
import { type HostTensor, scalar, tensor } from "./tensor.ts";
import { makeOps, OPS, type Ops } from "./ops.ts";
import { isHostTensor, outputDTypes, resolveInputs, tagAttrs } from "./signature.ts";
import { GraphError } from "./errors.ts";
import { inputsContext } from "./format.ts";
import { buildIf, buildLoop } from "./control.ts";

/** A dimension: a size, a symbolic name such as "batch", or null (unknown). */
export type Dim = number | string | null;
/** A static shape: one Dim per axis. */
export type Shape = readonly Dim[];

/** A tagged attribute value, as it will be encoded. */
export type Attr =
  | { type: "float"; value: number }
  | { type: "int"; value: number }
  | { type: "string"; value: string }
  | { type: "floats"; value: number[] }
  | { type: "ints"; value: number[] }
  | { type: "tensor"; value: HostTensor }
  | { type: "graph"; value: Graph };

/** An attribute as a caller writes it: plain values are tagged from the op's declaration. */
export type AttrInput = number | string | number[] | HostTensor | Graph;

/** A node of a graph: an op applied to values, with its attributes. */
export interface Node {
  /** Unique in the root graph; output value names derive from it. */
  readonly name: string;
  /** The named scope the node was built in (`moe0/sparse`), "" for none. */
  readonly scope: string;
  /** The ONNX op type (a key of OPS). */
  readonly opType: string;
  /** `undefined` marks an omitted optional input (encoded as ""). */
  readonly inputs: readonly (Value | undefined)[];
  /** The values it produces. */
  readonly outputs: readonly Value[];
  /** Its attributes, tagged, in the order they are encoded. */
  readonly attrs: ReadonlyMap<string, Attr>;
}

/** A named value in a graph: a graph input, initializer or node output. */
export class Value {
  /** Made by the builder (Graph.input, initializer, node); not called directly. */
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape | undefined,
    readonly producer: Node | undefined,
  ) {}
  /** The number of axes, when known. */
  get rank(): number | undefined {
    return this.shape?.length;
  }
  /** `name: dtype[dims]`, `?` for unknown dims. */
  toString(): string {
    const s = this.shape ? `[${this.shape.map((d) => d ?? "?").join(", ")}]` : "[?]";
    return `${this.name}: ${this.dtype}${s}`;
  }
}

/** What an op accepts as an input: a value, or a literal promoted to a named constant. */
export type Operand = Value | number | bigint | readonly number[] | HostTensor;

/** How `Graph.node` names and sizes a node. */
export interface NodeOptions {
  /** Number of outputs for variadic-output ops (Split, Loop, If). */
  outputs?: number;
  /** An exact node name (must be unused). */
  name?: string;
  /** Hints for output names (made unique). */
  outputNames?: string[];
}

interface RootState {
  names: Set<string>;
  counters: Map<string, number>;
  constCache: Map<string, Value>;
  scope: string[];
}

export { GraphError };

/** An ONNX graph under construction (the main graph or a Loop/If body). */
export class Graph {
  /** The nodes, in build order (a topological order). */
  readonly nodes: Node[] = [];
  /** The graph inputs, in declaration order. */
  readonly inputs: Value[] = [];
  /** The graph outputs, in declaration order. */
  readonly outputs: Value[] = [];
  /** Initializers (weights and constants) by name. */
  readonly initializers = new Map<string, HostTensor>();
  /** The enclosing graph of a Loop/If body; undefined for the main graph. */
  readonly parent: Graph | undefined;
  private readonly state: RootState;
  /** Known constant contents of values (initializers, Constant nodes), for shape inference. */
  private readonly constants = new Map<Value, HostTensor>();
  /** The op namespace bound to this graph: `g.op.MatMul(a, b)`. */
  readonly op: Ops;

  /** A new graph; pass `parent` for a Loop/If body (or use `subgraph`). */
  constructor(readonly name = "main", parent?: Graph) {
    this.parent = parent;
    this.state = parent
      ? parent.state
      : { names: new Set(), counters: new Map(), constCache: new Map(), scope: [] };
    this.op = makeOps(this);
  }

  /**
   * Builds with node names under the scope `name` (nested scopes join with "/"), so profiles
   * and formatGraph read like the model: `moe0/sparse/MatMul_3`. Only node names change;
   * value, input and initializer names do not.
   */
  scope<T>(name: string, build: () => T): T {
    if (!/^[A-Za-z0-9_.:-]+(\/[A-Za-z0-9_.:-]+)*$/.test(name)) {
      throw new GraphError(
        `scope: '${name}' is not a valid scope name (letters, digits, _.:- and /)`,
      );
    }
    return this.atScope(this.scopePath ? `${this.scopePath}/${name}` : name, build);
  }

  /** Builds under the absolute scope path `path` ("" = no scope). */
  atScope<T>(path: string, build: () => T): T {
    const st = this.state.scope;
    const saved = st.splice(0, st.length);
    if (path) st.push(path);
    try {
      return build();
    } finally {
      st.splice(0, st.length, ...saved);
    }
  }

  /** The current scope path ("" outside any scope). */
  get scopePath(): string {
    return this.state.scope.join("/");
  }

  /** The main graph (this one, or the outermost enclosing graph). */
  get root(): Graph {
    return this.parent ? this.parent.root : this;
  }

  /** An unused name based on `hint`, not yet reserved (pass it to input/output). */
  freshName(hint: string): string {
    const name = this.uniqueName(hint);
    this.state.names.delete(name);
    return name;
  }

  /** Reserves and returns a name unique across the root graph and all its subgraphs. */
  uniqueName(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_.:/-]/g, "_") || "v";
    if (!this.state.names.has(base)) {
      this.state.names.add(base);
      return base;
    }
    let i = this.state.counters.get(base) ?? 1;
    while (this.state.names.has(`${base}_${i}`)) i++;
    this.state.counters.set(base, i + 1);
    const name = `${base}_${i}`;
    this.state.names.add(name);
    return name;
  }

  /** Reserves `name` exactly, or throws naming `what`. */
  private claim(name: string, what: string): string {
    if (this.state.names.has(name)) {
      throw new GraphError(`${what} '${name}': name already used in graph '${this.root.name}'`);
    }
    this.state.names.add(name);
    return name;
  }

  /** Declares a graph input; string dims are symbolic (e.g. "batch"). */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.claim(name, "input"), dtype, shape, undefined);
    this.inputs.push(v);
    return v;
  }

  /** Adds a named initializer (a weight or constant stored in the model). */
  initializer(name: string, t: HostTensor): Value {
    return this.addInitializer(this.claim(name, "initializer"), t);
  }

  /** Stores an initializer under an already reserved name. */
  private addInitializer(name: string, t: HostTensor): Value {
    const v = new Value(this, name, t.dtype, t.dims, undefined);
    this.initializers.set(v.name, t);
    this.constants.set(v, t);
    return v;
  }

  /**
   * A named constant, deduplicated and stored once in the root graph, so literals used inside
   * Loop bodies are not re-materialized every iteration.
   */
  constant(t: HostTensor, name?: string): Value {
    const root = this.root;
    const key = `${t.dtype}|${t.dims.join(",")}|${
      Array.from(t.data as ArrayLike<number>).join(",")
    }`;
    if (name === undefined && t.data.length <= 64) {
      const hit = this.state.constCache.get(key);
      if (hit) return hit;
    }
    const hint = name ?? (t.dims.length === 0 ? `c_${t.dtype}_${fmtScalar(t)}` : `c_${t.dtype}`);
    const v = root.addInitializer(root.uniqueName(hint), t);
    if (name === undefined && t.data.length <= 64) this.state.constCache.set(key, v);
    return v;
  }

  /** The constant contents of `v` when known at build time. */
  constValue(v: Value): HostTensor | undefined {
    return this.constants.get(v) ?? this.parent?.constValue(v) ?? v.graph.constants.get(v);
  }

  /** Marks `v` as a graph output, renaming through Identity when a name is requested. */
  output(v: Value, name?: string): Value {
    this.checkVisible(v, `output '${name ?? v.name}'`);
    let out = v;
    if (name !== undefined && (name !== v.name || v.graph !== this || this.isInputOrInit(v))) {
      out = this.node("Identity", [v], {}, { outputNames: [name], exactNames: true })[0];
    }
    this.outputs.push(out);
    return out;
  }

  /** True for a graph input, initializer or output of this graph. */
  private isInputOrInit(v: Value): boolean {
    return this.inputs.includes(v) || this.initializers.has(v.name) || this.outputs.includes(v);
  }

  /** A subgraph (Loop/If body) that may read this graph's values. */
  subgraph(name: string): Graph {
    return new Graph(name, this);
  }

  /** True when `v` may be read from this graph (it belongs to it or to an enclosing graph). */
  sees(v: Value): boolean {
    return v.graph === this || (this.parent?.sees(v) ?? false);
  }

  /** Throws unless `v` is a Value this graph may read. */
  checkVisible(v: Value, where: string): void {
    if (!(v instanceof Value)) throw new GraphError(`${where}: not a Value (${String(v)})`);
    if (!this.sees(v)) {
      throw new GraphError(
        `${where}: input '${v.name}' belongs to graph '${v.graph.name}', which is not this graph ('${this.name}') or an enclosing one (dangling value)`,
      );
    }
  }

  /** Promotes a literal to a constant of `dtype`. */
  literal(x: Operand, dtype: DType): Value {
    if (x instanceof Value) return x;
    if (typeof x === "number" || typeof x === "bigint") return this.constant(scalar(dtype, x));
    if (isHostTensor(x)) return this.constant(x);
    return this.constant(tensor(dtype, [x.length], x));
  }

  /**
   * Appends a node. Inputs may be literals; they take the dtype their schema slot implies.
   * Returns the output values.
   */
  node(
    opType: string,
    inputs: readonly (Operand | undefined)[],
    attrs: Record<string, AttrInput | undefined> = {},
    opts: NodeOptions & { exactNames?: boolean } = {},
  ): Value[] {
    const schema = Object.hasOwn(OPS, opType) ? OPS[opType] : undefined;
    const nodeName = opts.name ? this.claim(opts.name, "node") : this.uniqueName(opType);
    const scope = this.scopePath;
    const where = `node ${scope ? `${scope}/` : ""}${nodeName} (${opType})`;
    if (!schema) {
      throw new GraphError(`${where}: unknown op (declare it in lib/graph/ops/)`);
    }
    const node: {
      name: string;
      scope: string;
      opType: string;
      inputs: (Value | undefined)[];
      outputs: Value[];
      attrs: Map<string, Attr>;
    } = { name: nodeName, scope, opType, inputs: [], outputs: [], attrs: new Map() };
    let dtypes: DType[];
    let shapes: (Shape | undefined)[] | undefined;
    try {
      node.attrs = tagAttrs(where, schema, attrs);
      node.inputs = resolveInputs(this, where, schema, inputs);
      dtypes = outputDTypes(where, schema, node.inputs, node.attrs, opts.outputs);
      shapes = schema.shape?.({
        where,
        g: this,
        ins: node.inputs,
        s0: node.inputs[0]?.shape,
        attrs: node.attrs,
        nOut: dtypes.length,
      });
    } catch (e) {
      // Show the neighbourhood: where the failing node's inputs come from.
      if (e instanceof GraphError) e.message += inputsContext(inputs);
      throw e;
    }
    const tagged = node.attrs;
    dtypes.forEach((dt, i) => {
      const hint = opts.outputNames?.[i] ??
        (dtypes.length === 1 ? nodeName : `${nodeName}_out${i}`);
      const name = opts.exactNames ? this.claim(hint, "output") : this.uniqueName(hint);
      node.outputs.push(new Value(this, name, dt, shapes?.[i], node));
    });
    if (opType === "Constant") {
      this.constants.set(node.outputs[0], tagged.get("value")!.value as HostTensor);
    }
    this.nodes.push(node);
    return node.outputs;
  }

  /**
   * Builds an If: `thenBranch` and `elseBranch` each build a subgraph (which may read this
   * graph's values) and return its outputs; both must return the same number of values with
   * the same dtypes. Returns the If node's outputs.
   */
  ifElse(
    cond: Value,
    thenBranch: (g: Graph) => Value[],
    elseBranch: (g: Graph) => Value[],
    name = "if",
  ): Value[] {
    return buildIf(this, cond, thenBranch, elseBranch, name);
  }

  /**
   * Builds a Loop. `body` receives the iteration number, and the carried values; it returns
   * the carried values for the next iteration and any per-iteration scan outputs (stacked
   * along a new leading axis). Returns the final carried values, then the scan outputs.
   */
  loop(
    tripCount: Operand,
    initial: readonly Value[],
    body: (g: Graph, iter: Value, carried: Value[]) => { carried: Value[]; scans?: Value[] },
    name = "loop",
  ): Value[] {
    return buildLoop(this, tripCount, initial, body, name);
  }
}

function fmtScalar(t: HostTensor): string {
  return String(Number(t.data[0])).replace("-", "m").replace(".", "p").replace("+", "");
}

export { isHostTensor };
export { formatGraph, formatNode, qualifiedName } from "./format.ts";
