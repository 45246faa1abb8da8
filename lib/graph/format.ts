/**
 * Readable listings of graphs, one line per node, for debugging and for build errors:
 *
 *     moe0/router/MatMul_2: MatMul(x: float32[B, 4], moe0.router.weight: float32[4, 8]) -> MatMul_2_1: float32[B, 8]
 */
import type { Attr, Graph, Node, Value } from "./builder.ts";
import type { HostTensor } from "./tensor.ts";

/** A node's name qualified by its scope: `moe0/sparse/MatMul_3` (unique, as names are). */
export function qualifiedName(n: Node): string {
  return n.scope ? `${n.scope}/${n.name}` : n.name;
}

const fmtValue = (v: Value | undefined): string => (v ? v.toString() : "-");

function fmtTensor(t: HostTensor): string {
  const vals = t.data.length <= 4
    ? ` ${JSON.stringify(Array.from(t.data as ArrayLike<number | bigint>, Number))}`
    : "";
  return `<${t.dtype}[${t.dims.join(", ")}]${vals}>`;
}

function fmtAttr(a: Attr): string {
  switch (a.type) {
    case "float":
    case "int":
      return String(a.value);
    case "string":
      return JSON.stringify(a.value);
    case "floats":
    case "ints":
      return `[${a.value.join(", ")}]`;
    case "tensor":
      return fmtTensor(a.value);
    case "graph":
      return `<graph ${a.value.name}: ${a.value.nodes.length} nodes>`;
  }
}

/** One line: `name: Op(inputs) -> outputs {attributes}`, values with dtype and shape. */
export function formatNode(n: Node): string {
  const attrs = [...n.attrs].map(([k, a]) => `${k}=${fmtAttr(a)}`);
  return `${qualifiedName(n)}: ${n.opType}(${n.inputs.map(fmtValue).join(", ")}) -> ${
    n.outputs.map(fmtValue).join(", ")
  }${attrs.length ? ` {${attrs.join(", ")}}` : ""}`;
}

/**
 * The graph as text: a header with its inputs and outputs, then one line per node in build
 * order; Loop and If bodies follow their node, indented.
 */
export function formatGraph(g: Graph, indent = ""): string {
  const lines = [
    `${indent}graph ${g.name} (${g.nodes.length} nodes, ${g.initializers.size} initializers)`,
    `${indent}  inputs: ${g.inputs.map(fmtValue).join(", ") || "-"}`,
    `${indent}  outputs: ${g.outputs.map(fmtValue).join(", ") || "-"}`,
  ];
  for (const n of g.nodes) {
    lines.push(`${indent}  ${formatNode(n)}`);
    for (const a of n.attrs.values()) {
      if (a.type === "graph") lines.push(formatGraph(a.value, `${indent}    `));
    }
  }
  return lines.join("\n");
}

/** For a build error: where each input of the failing node comes from. */
export function inputsContext(inputs: readonly unknown[]): string {
  const lines = inputs.flatMap((x, i) => {
    if (!isValue(x)) return [];
    const from = x.producer ? formatNode(x.producer) : "a graph input or initializer";
    return [`\n  input ${i} ${x.toString()} from ${from}`];
  });
  return lines.join("");
}

function isValue(x: unknown): x is Value {
  return typeof x === "object" && x !== null && "graph" in x && "producer" in x && "dtype" in x;
}
