"""Writing MoEModels as the toolkit's .onnx files: a dense inference graph built with the onnx
helper API, the parameters as initializers and the metadata `importModel` reads."""
import json
import math
import os

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from .config import (BATCH_DIM, FORMAT_VERSION, GATES, INIT_SCHEMES, IR_VERSION, METADATA_KEY,
                     MODEL_FORMAT, OPSET, TOOLKIT_VERSION, _layer_configs, _one_of, check_config,
                     param_shapes)
from .model import MoEModel
from .reader import _DTYPES

class _GraphWriter:
    """Builds a dense inference graph with the onnx helper API (names are unique and stable)."""

    def __init__(self, elem):
        self.elem = elem
        self.np = np.float32 if elem == TensorProto.FLOAT else np.float64
        self.nodes = []
        self.n = 0

    def op(self, op_type, *inputs, outputs=1, **attrs):
        self.n += 1
        names = [f"{op_type.lower()}_{self.n}" + (f"_{i}" if outputs > 1 else "")
                 for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names,
                                           name=f"{op_type}_{self.n}", **attrs))
        return names if outputs > 1 else names[0]

    def const(self, values, dtype=None):
        arr = np.asarray(values, dtype=dtype or self.np)
        self.n += 1
        name = f"const_{self.n}"
        self.nodes.append(helper.make_node("Constant", [], [name], name=f"Constant_{self.n}",
                                           value=numpy_helper.from_array(arr, name)))
        return name

    def i64(self, values):
        return self.const(values, np.int64)

    def act(self, z, a):
        if a == "relu":
            return self.op("Relu", z)
        if a == "linear":
            return z
        if a == "gelu":  # 0.5 z (1 + erf(z / sqrt 2)); onnxruntime's CPU Erf is float32 only
            u = self.op("Mul", z, self.const(math.sqrt(0.5)))
            if self.elem == TensorProto.FLOAT:
                e = self.op("Erf", u)
            else:
                e = self.op("Cast", self.op("Erf", self.op("Cast", u, to=TensorProto.FLOAT)),
                            to=self.elem)
            return self.op("Mul", self.op("Mul", z, self.const(0.5)),
                           self.op("Add", e, self.const(1.0)))
        raise ValueError(f"activation: {a!r} has no elementwise form")

    def layer(self, s, prefix, x):
        y = self.routed(s, prefix, x)
        return self.op("Add", y, self.shared(s, prefix, x)) if s.get("sharedExperts") else y

    def shared(self, s, prefix, x):
        p = lambda n: prefix + "shared." + n  # noqa: E731
        bias = s["expertBias"]
        if s["activation"] == "constant":
            v = self.op("ReduceSum", p("w2"), self.i64([0]))  # [1, dOut]
            return self.op("Add", v, self.op("ReduceSum", p("b2"), self.i64([0]))) if bias else v
        pre = (self.op("Gemm", x, p("w1"), p("b1")) if bias else self.op("MatMul", x, p("w1")))
        y = self.op("MatMul", self.act(pre, s["activation"]), p("w2"))
        return self.op("Add", y, self.op("ReduceSum", p("b2"), self.i64([0]))) if bias else y

    def routed(self, s, prefix, x):
        p = lambda n: prefix + n  # noqa: E731
        m, w, d_out, bias = s["m"], s["w"], s["dOut"], s["expertBias"]
        scores = (self.op("Gemm", x, p("router.weight"), p("router.bias")) if s["routerBias"]
                  else self.op("MatMul", x, p("router.weight")))
        full = (self.expert_choice(s, scores) if s["gate"] == "expert-choice"
                else self.token_choice(s, p, scores))  # [B, m]: 0 where not selected
        if s["activation"] == "constant":
            v = self.op("ReduceSum", self.op("Reshape", p("experts.w2"), self.i64([m, w, d_out])),
                        self.i64([1]), keepdims=0)
            if bias:
                v = self.op("Add", v, p("experts.b2"))
            return self.op("MatMul", full, v)
        pre = (self.op("Gemm", x, p("experts.w1"), p("experts.b1")) if bias
               else self.op("MatMul", x, p("experts.w1")))
        h = self.op("Reshape", self.act(pre, s["activation"]), self.i64([-1, m, w]))
        if s["depth"] > 1:
            h = self.op("Transpose", h, perm=[1, 0, 2])
            for i in range(1, s["depth"]):
                z = self.op("MatMul", h, p(f"experts.wh{i}"))
                if bias:
                    z = self.op("Add", z, self.op("Unsqueeze", p(f"experts.bh{i}"),
                                                  self.i64([1])))
                h = self.act(z, s["activation"])
            h = self.op("Transpose", h, perm=[1, 0, 2])
        hg = self.op("Reshape", self.op("Mul", h, self.op("Unsqueeze", full, self.i64([2]))),
                     self.i64([-1, m * w]))
        y = self.op("MatMul", hg, p("experts.w2"))
        return self.op("Add", y, self.op("MatMul", full, p("experts.b2"))) if bias else y

    def token_choice(self, s, p, scores):
        """[B, m] gates of the top-k selection (each gate family; see the module doc)."""
        affinity = self.op("Sigmoid", scores) if s["gate"] == "sigmoid-topk" else scores
        ranked = (self.op("Add", affinity, p("router.select_bias")) if s.get("selectBias")
                  else affinity)
        vals, idx = self.op("TopK", ranked, self.i64([s["k"]]), outputs=2, axis=-1, largest=1,
                            sorted=1)
        picked = (self.op("GatherElements", affinity, idx, axis=1) if s.get("selectBias")
                  else vals)
        if s["gate"] == "softmax-topk":
            gates = self.op("Softmax", picked, axis=-1)
        elif s["gate"] == "softmax-all":
            gates = self.op("GatherElements", self.op("Softmax", scores, axis=-1), idx, axis=1)
        elif s["gate"] == "sigmoid-topk":
            gates = self.op("Div", picked, self.op("ReduceSum", picked, self.i64([1])))
        elif s["gate"] == "equal":
            gates = self.op("ConstantOfShape", self.op("Shape", vals),
                            value=numpy_helper.from_array(np.ones(1, self.np)))
        else:
            raise ValueError(f"gate: unknown value {s['gate']!r} (allowed: {', '.join(GATES)})")
        if s.get("routedScale", 1) != 1:
            gates = self.op("Mul", gates, self.const(s["routedScale"]))
        zeros = self.op("ConstantOfShape", self.op("Shape", scores),
                        value=numpy_helper.from_array(np.zeros(1, self.np)))
        return self.op("ScatterElements", zeros, idx, gates, axis=1)

    def expert_choice(self, s, scores):
        """[B, m] gates of expert choice: expert e takes the c = ceil(k B / m) tokens of largest
        softmax(s)[:, e] (TopK over the batch), weighted by that probability."""
        m = s["m"]
        probs_t = self.op("Transpose", self.op("Softmax", scores, axis=-1), perm=[1, 0])
        batch = self.op("Shape", scores, start=0, end=1)
        cap = self.op("Div", self.op("Add", self.op("Mul", batch, self.i64([s["k"]])),
                                     self.i64([m - 1])), self.i64([m]))
        vals, tokens = self.op("TopK", probs_t, cap, outputs=2, axis=1, largest=1, sorted=1)
        if s.get("routedScale", 1) != 1:
            vals = self.op("Mul", vals, self.const(s["routedScale"]))
        zeros = self.op("ConstantOfShape", self.op("Shape", probs_t),
                        value=numpy_helper.from_array(np.zeros(1, self.np)))
        full_t = self.op("ScatterElements", zeros, tokens, vals, axis=1)  # [m, B]
        return self.op("Transpose", full_t, perm=[1, 0])


def _describe(kind, c, meta):
    tail = (f"{meta['init'] or 'unknown'} init, seed "
            f"{'unknown' if meta['seed'] is None else meta['seed']}; {meta['dtype']}; dense graph "
            f"written from PyTorch. Input x [batch, {c['dIn']}], output y [batch, {c['dOut']}].")
    if kind == "moe":
        extras = "" if c.get("routedScale") is None else f", routed scale {c['routedScale']}"
        shared = (f", {c['sharedExperts']} shared expert(s) of width {c.get('sharedWidth', c['w'])}"
                  if c.get("sharedExperts") else "")
        return (f"({c['m']}, {c['k']}, {c['w']}, {c['dIn']})-MoE layer {c['m']}e{c['k']}a: "
                f"{c['m']} experts, {c['k']} active, expert width {c['w']}, {c['dIn']} -> "
                f"{c['dOut']}, gate {c['gate']}, activation {c['activation']}, "
                f"{'router bias' if c['routerBias'] else 'no router bias'}, "
                f"{'expert biases' if c['expertBias'] else 'no expert biases'}"
                f"{', selection bias' if c.get('selectBias') else ''}"
                f"{shared}"
                f"{extras}"
                f"; {tail}")
    return (f"{c['layers']}-{c['experts']}-MoE deep model: {c['layers']} MoE layers of "
            f"{c['experts']} experts, {c['k']} active, experts with {c['expertDepth']} hidden "
            f"layer(s) of width {c['expertWidth']}, hidden dim {c['hiddenDim']}, {c['dIn']} -> "
            f"{c['dOut']}, gate {c['gate']}, activation {c['activation']}"
            f"{', residual' if c['residual'] else ''}"
            f"{', dense layers between' if c['denseBetween'] else ''}; {tail}")


def to_onnx(model, seed=None, init=None, preset=None, description=None):
    """The onnx.ModelProto of an MoEModel in the toolkit's format (see `save`)."""
    if not isinstance(model, MoEModel):
        raise TypeError(f"model: expected an MoEModel, got {type(model).__name__}")
    kind, c = model.kind, check_config(model.kind, model.config)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed: must be an integer or None, got {seed!r}")
    if init is not None:
        _one_of("init", init, INIT_SCHEMES)
    state = model.state_dict()
    shapes = param_shapes(kind, c)
    if sorted(state) != sorted(n for n, _ in shapes):
        raise ValueError(f"params: {sorted(state)} do not match the layout "
                         f"{[n for n, _ in shapes]}")
    dtypes = {str(t.dtype) for t in state.values()}
    if len(dtypes) != 1 or dtypes.pop() not in ("torch.float32", "torch.float64"):
        raise ValueError(f"params: must all be float32 or all float64, got {sorted(dtypes)}")
    dtype = "float32" if next(iter(state.values())).dtype == torch.float32 else "float64"
    elem, _, np_dtype = _DTYPES[dtype]
    inits = []
    for name, dims in shapes:
        t = state[name].detach().cpu()
        if list(t.shape) != dims:
            raise ValueError(f"params: '{name}' has dims {list(t.shape)}, expected {dims}")
        inits.append(numpy_helper.from_array(t.numpy().astype(np_dtype, copy=False), name))

    gw = _GraphWriter(elem)
    h = "x"
    for l, s in enumerate(_layer_configs(kind, c)):
        y = gw.layer(s, f"moe{l}.", h)
        h = gw.op("Add", y, h) if kind == "deep" and c["residual"] and s["dIn"] == s["dOut"] else y
        if kind == "deep" and c["denseBetween"] and l < c["layers"] - 1:
            h = gw.act(gw.op("Gemm", h, f"dense{l}.weight", f"dense{l}.bias"), c["activation"])
    gw.nodes.append(helper.make_node("Identity", [h], ["y"], name="output"))

    meta = {"format": MODEL_FORMAT, "formatVersion": FORMAT_VERSION, "kind": kind, "config": c,
            "seed": seed, "init": init, "preset": preset, "dtype": dtype, "strategy": "dense",
            "params": sum(int(np.prod(d)) for _, d in shapes),
            "x": [BATCH_DIM, c["dIn"]], "y": [BATCH_DIM, c["dOut"]],
            "toolkitVersion": TOOLKIT_VERSION}
    meta["description"] = description or _describe(kind, c, meta)
    graph = helper.make_graph(
        gw.nodes, "moe" if kind == "moe" else "deep_moe",
        [helper.make_tensor_value_info("x", elem, [BATCH_DIM, c["dIn"]])],
        [helper.make_tensor_value_info("y", elem, [BATCH_DIM, c["dOut"]])],
        initializer=inits)
    proto = helper.make_model(graph, producer_name="moe-onnx (python/moe_onnx_torch/)",
                              producer_version=TOOLKIT_VERSION, doc_string=meta["description"],
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta, separators=(",", ":"))})
    return proto


def save(model, path, seed=None, init=None, preset=None, description=None):
    """Writes an MoEModel as a toolkit `.onnx` file (IR 8, opset 17, the model's float dtype):
    input `x` [batch, dIn], output `y` [batch, dOut], the parameters as initializers named as in
    `state_dict()`, and the metadata `importModel` reads (`seed`, `init` and `preset` are
    recorded as given; None means unknown). The file goes to `path` atomically; returns the
    bytes. A saved MoE layer works as `deno task sweep --teacher-file PATH`."""
    data = to_onnx(model, seed, init, preset, description).SerializeToString()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data
