/** Encodes a built `Graph` as an ONNX ModelProto (IR 8, opset 17 by default). */
import onnx from "onnx-proto";
import type { Attr, Graph, Shape, Value } from "./builder.ts";
import { ONNX_DTYPE } from "./dtype.ts";
import type { HostTensor } from "./tensor.ts";
import { qualifiedName } from "./format.ts";
import { TOOLKIT_VERSION } from "../version.ts";

const P = onnx.onnx;

/** The ONNX IR version of encoded models. */
export const IR_VERSION = 8;
/** The default ONNX opset of encoded models. */
export const OPSET = 17;

/** Model-level fields of an encoded ModelProto. */
export interface ModelOptions {
  /** The opset to declare (default OPSET). */
  opset?: number;
  /** ModelProto.producer_version (default: the toolkit version). */
  producerVersion?: string;
  /** ModelProto.doc_string. */
  docString?: string;
  /** Stored as ModelProto.metadata_props. */
  metadata?: Record<string, string>;
  /** Node names qualified by their scope (`moe0/sparse/MatMul_3`); default true. */
  scopedNames?: boolean;
}

function bytesOf(t: HostTensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

export function tensorProto(name: string, t: HostTensor): onnx.onnx.ITensorProto {
  return { name, dims: [...t.dims], dataType: ONNX_DTYPE[t.dtype], rawData: bytesOf(t) };
}

function valueInfo(v: Value, name = v.name): onnx.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ONNX_DTYPE[v.dtype], shape: shapeProto(v.shape) } },
  };
}

function shapeProto(s: Shape | undefined): onnx.onnx.ITensorShapeProto | undefined {
  if (!s) return undefined;
  return {
    dim: s.map((d) =>
      typeof d === "number" ? { dimValue: d } : typeof d === "string" ? { dimParam: d } : {}
    ),
  };
}

function attrProto(name: string, a: Attr, scoped: boolean): onnx.onnx.IAttributeProto {
  const T = P.AttributeProto.AttributeType;
  switch (a.type) {
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "int":
      return { name, type: T.INT, i: a.value };
    case "string":
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case "floats":
      return { name, type: T.FLOATS, floats: a.value };
    case "ints":
      return { name, type: T.INTS, ints: a.value };
    case "tensor":
      return { name, type: T.TENSOR, t: tensorProto("", a.value) };
    case "graph":
      return { name, type: T.GRAPH, g: graphProto(a.value, scoped) };
  }
}

export function graphProto(g: Graph, scoped = true): onnx.onnx.IGraphProto {
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      name: scoped ? qualifiedName(n) : n.name,
      opType: n.opType,
      domain: "",
      input: n.inputs.map((v) => v?.name ?? ""),
      output: n.outputs.map((v) => v.name),
      attribute: [...n.attrs].map(([k, a]) => attrProto(k, a, scoped)),
    })),
    input: g.inputs.map((v) => valueInfo(v)),
    output: g.outputs.map((v) => valueInfo(v)),
    initializer: [...g.initializers].map(([name, t]) => tensorProto(name, t)),
  };
}

/** The ModelProto object for `g` (not yet serialized). */
export function modelProto(g: Graph, opts: ModelOptions = {}): onnx.onnx.IModelProto {
  return {
    irVersion: IR_VERSION,
    producerName: "moe-onnx",
    producerVersion: opts.producerVersion ?? TOOLKIT_VERSION,
    docString: opts.docString,
    opsetImport: [{ domain: "", version: opts.opset ?? OPSET }],
    graph: graphProto(g, opts.scopedNames ?? true),
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** Serialized ONNX bytes for `g`. */
export function encodeModel(g: Graph, opts: ModelOptions = {}): Uint8Array {
  return P.ModelProto.encode(P.ModelProto.create(modelProto(g, opts))).finish();
}
