/** Control flow: If and Loop nodes with their subgraphs (`g.ifElse`, `g.loop`). */
import type { Graph, Operand, Value } from "./builder.ts";
import { GraphError } from "./errors.ts";

/**
 * Builds an If: `thenBranch` and `elseBranch` each build a subgraph (which may read this
 * graph's values) and return its outputs; both must return the same number of values with
 * the same dtypes. Returns the If node's outputs.
 */
export function buildIf(
  outer: Graph,
  cond: Value,
  thenBranch: (g: Graph) => Value[],
  elseBranch: (g: Graph) => Value[],
  name = "if",
): Value[] {
  const branch = (label: string, build: (g: Graph) => Value[]) => {
    const g = outer.subgraph(`${name}_${label}`);
    for (const v of build(g)) g.output(v, g.freshName(`${name}_${label}_${v.name}`));
    return g;
  };
  const thenG = branch("then", thenBranch);
  const elseG = branch("else", elseBranch);
  const [a, b] = [thenG.outputs, elseG.outputs];
  if (a.length !== b.length || a.some((v, i) => v.dtype !== b[i].dtype)) {
    throw new GraphError(
      `${name}: branches return different outputs (then: ${
        a.map((v) => v.dtype).join(", ")
      }; else: ${b.map((v) => v.dtype).join(", ")})`,
    );
  }
  return outer.node("If", [cond], { then_branch: thenG, else_branch: elseG }, {
    outputs: a.length,
    outputNames: a.map((_, i) => `${name}_out${i}`),
  });
}

/**
 * Builds a Loop. `body` receives the iteration number, and the carried values; it returns
 * the carried values for the next iteration and any per-iteration scan outputs (stacked
 * along a new leading axis). Returns the final carried values, then the scan outputs.
 */
export function buildLoop(
  outer: Graph,
  tripCount: Operand,
  initial: readonly Value[],
  body: (g: Graph, iter: Value, carried: Value[]) => { carried: Value[]; scans?: Value[] },
  name = "loop",
): Value[] {
  const g = outer.subgraph(`${name}_body`);
  const iter = g.input(g.freshName(`${name}_iter`), "int64", []);
  const condIn = g.input(g.freshName(`${name}_cond_in`), "bool", []);
  const carriedIn = initial.map((v) =>
    g.input(g.freshName(`${v.name}_in`), v.dtype, v.shape ?? [])
  );
  const res = body(g, iter, carriedIn);
  if (res.carried.length !== initial.length) {
    throw new GraphError(
      `${name}: body returned ${res.carried.length} carried values, expected ${initial.length}`,
    );
  }
  // Body outputs keep the names of the values they return: renaming them through Identity
  // nodes makes onnxruntime copy every carried tensor each iteration. A value that cannot be
  // an output under its own name (a body input, an outer value, one already returned) is
  // renamed.
  const used = new Set<Value>();
  const emit = (v: Value, hint: string) => {
    const own = v.graph === g && v.producer !== undefined && !used.has(v);
    used.add(v);
    return own ? g.output(v) : g.output(v, g.freshName(hint));
  };
  emit(condIn, `${name}_cond_out`);
  res.carried.forEach((v, i) => {
    if (v.dtype !== initial[i].dtype) {
      throw new GraphError(
        `${name}: carried value ${i} changes dtype (${initial[i].dtype} -> ${v.dtype})`,
      );
    }
    emit(v, `${initial[i].name}_next`);
  });
  for (const s of res.scans ?? []) emit(s, `${s.name}_scan`);
  return outer.node("Loop", [tripCount, undefined, ...initial], { body: g }, {
    outputs: initial.length + (res.scans?.length ?? 0),
    outputNames: [
      ...initial.map((v) => `${v.name}_final`),
      ...(res.scans ?? []).map((s) => `${s.name}_all`),
    ],
  });
}
