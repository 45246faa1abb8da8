"""moe-onnx models in PyTorch, both ways.

    import moe_onnx_torch as mot
    teacher = mot.load("models/teacher-16e8a-d64-seed0.onnx")   # a torch.nn.Module
    y = teacher(x)                                              # x: [batch, dIn] float32
    student = mot.moe(m=16, k=8, w=10, dIn=64)                  # toolkit layout, torch init
    ...train student with any torch optimizer...
    mot.save(student, "student.onnx")                           # `--teacher-file student.onnx`

`load` reads any `.onnx` file the toolkit exports (`deno task export`, `--save-models`, the files
in models/): an (m, k, w, d)-MoE layer (arXiv 2505.06839) or a deep L-E-MoE (arXiv 2505.24205),
with every gate, activation, bias and expert-depth option. The config comes from the file's
metadata (`metadata_props["moe_onnx"]`), the weights from its initializers; the graph itself is
not interpreted. The module computes the same function as the file under onnxruntime:

- router scores s = x @ router.weight (+ router.bias); affinities a = s, or sigma(s) for the
  `sigmoid-topk` gate; the k selected experts are the k largest a (+ router.select_bias, the
  selection-only balancing bias, with `selectBias`), ties going to the lower expert index
  (onnxruntime's TopK order);
- gates: `softmax-topk` (softmax over the k selected unbiased scores), `equal` (1 each; the
  router gets no gradient), `softmax-all` (softmax over all m scores, the selected k kept),
  `sigmoid-topk` (DeepSeek-V3, arXiv 2412.19437: the selected unbiased sigma(s) normalized to
  sum 1); every gate times `routedScale` when the config has one;
- expert j: A_j act(B_j^T x + c_j) + e_j with `relu`, `linear`, exact (erf) `gelu` or `constant`
  (act = 1: the expert outputs A_j 1 + e_j whatever its input); deeper experts apply
  act(h @ wh_i[j] + bh_i[j]) in between;
- shared experts (DeepSeekMoE, arXiv 2401.06066), with `sharedExperts`: n_s experts of width
  `sharedWidth` (default w) that every token uses with weight 1, added to the routed sum;
- deep models: residual connections where a layer's input and output dims agree, and dense
  layers act(h @ dense<l>.weight + dense<l>.bias) between MoE layers.

Parameter names are the toolkit's (lib/nn/layout.ts): `model.state_dict()` keys are exactly the
ONNX initializer names (`moe0.router.weight` [dIn, m], `moe0.experts.w1` [dIn, m*w],
`moe0.experts.b1` [m*w], `moe0.experts.wh1` [m, w, w], `moe0.experts.w2` [m*w, dOut],
`moe0.experts.b2` [m, dOut], `dense0.weight` [h, h], ...), in the toolkit's order, so weights
move between the two sides without any reshaping. `router.select_bias` is a buffer, not a
parameter: it only selects, gets no gradient, and a balancing rule updates it in place.

`save` writes a model back in the toolkit's format (IR 8, opset 17, one input `x` [batch, dIn],
one output `y` [batch, dOut], the parameters as initializers, the metadata `importModel` reads), a
dense graph of standard ONNX ops that onnxruntime runs as is. A saved MoE layer can be a sweep's
`--teacher-file`.

Needs only the standard library, numpy, onnx (>= 1.12) and torch (>= 1.13).
"""
import json
import math
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

__all__ = [
    "GATES", "ACTIVATIONS", "STRATEGIES", "INIT_SCHEMES", "moe_config", "deep_config",
    "check_config", "param_shapes", "MoEModel", "MoELayer", "moe", "deep", "load", "from_onnx",
    "save", "to_onnx", "metadata",
]

METADATA_KEY = "moe_onnx"
MODEL_FORMAT = "moe-onnx-model"
FORMAT_VERSION = 1
BATCH_DIM = "batch"
IR_VERSION = 8
OPSET = 17

GATES = ("softmax-topk", "equal", "softmax-all", "sigmoid-topk")
ACTIVATIONS = ("relu", "linear", "constant", "gelu")
STRATEGIES = ("dense", "sparse", "auto")
INIT_SCHEMES = ("torch", "paper")
KINDS = ("moe", "deep")

#: Optional layer fields: absent from a config at their defaults (no selection bias, scale 1).
MOE_OPTIONAL_FIELDS = ("selectBias", "routedScale", "sharedExperts", "sharedWidth")
MOE_FIELDS = ("m", "k", "w", "dIn", "dOut", "gate", "activation", "routerBias", "expertBias",
              "strategy") + MOE_OPTIONAL_FIELDS
DEEP_FIELDS = ("dIn", "dOut", "layers", "experts", "k", "expertDepth", "expertWidth", "residual",
               "denseBetween", "hiddenDim", "gate", "activation", "routerBias", "expertBias",
               "strategy")
#: Defaults of an MoE layer: the authors' teacher (lib/nn/config.ts MOE_DEFAULTS).
MOE_DEFAULTS = {"gate": "softmax-topk", "activation": "relu", "routerBias": False,
                "expertBias": True, "strategy": "auto"}
#: Defaults of a deep model (lib/nn/config.ts DEEP_DEFAULTS).
DEEP_DEFAULTS = {"k": 1, "expertDepth": 1, "residual": False, "denseBetween": False,
                 "gate": "softmax-topk", "activation": "relu", "routerBias": True,
                 "expertBias": True, "strategy": "auto"}


def _toolkit_version():
    """deno.json's "version" when this file sits in the toolkit's checkout."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deno.json")
    try:
        with open(here) as f:
            return str(json.load(f)["version"])
    except (OSError, ValueError, KeyError):
        return "0.1.0"


TOOLKIT_VERSION = _toolkit_version()


# ---------------------------------------------------------------------------------------------
# configs


def _pos_int(field, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{field}: must be an integer >= 1, got {v!r}")


def _one_of(field, v, allowed):
    if v not in allowed:
        raise ValueError(f"{field}: unknown value {json.dumps(v)} (allowed: {', '.join(allowed)})")


def _bool(field, v):
    if not isinstance(v, bool):
        raise ValueError(f"{field}: must be true or false, got {v!r}")


def check_config(kind, config):
    """A copy of `config` with its fields in the toolkit's canonical order, after the toolkit's
    checks (canonicalModel in lib/export/). Raises ValueError naming the field."""
    _one_of("kind", kind, KINDS)
    if not isinstance(config, dict):
        raise ValueError(f"config: must be an object, got {config!r}")
    fields = MOE_FIELDS if kind == "moe" else DEEP_FIELDS
    for f in config:
        if f not in fields:
            raise ValueError(f"config: unknown field '{f}' (allowed: {', '.join(fields)})")
    # Optional fields stay absent when not given, as the toolkit writes them.
    c = {f: config.get(f) for f in fields
         if f not in MOE_OPTIONAL_FIELDS or config.get(f) is not None}
    n = "m" if kind == "moe" else "experts"
    for f in ("dIn", "dOut", n) + (("w",) if kind == "moe" else
                                   ("layers", "expertDepth", "expertWidth", "hiddenDim")):
        _pos_int(f, c[f])
    if isinstance(c["k"], bool) or not isinstance(c["k"], int) or not 1 <= c["k"] <= c[n]:
        raise ValueError(f"k: must be an integer between 1 and {n} (={c[n]}), got {c['k']!r}")
    _one_of("gate", c["gate"], GATES)
    _one_of("activation", c["activation"], ACTIVATIONS)
    for f in ("routerBias", "expertBias") + (("residual", "denseBetween") if kind == "deep" else ()):
        _bool(f, c[f])
    if kind == "deep" and c["denseBetween"] and c["activation"] == "constant":
        raise ValueError("denseBetween: dense layers cannot use activation 'constant' "
                         "(allowed: relu, linear, gelu)")
    _one_of("strategy", c["strategy"], STRATEGIES)
    if "selectBias" in c:
        _bool("selectBias", c["selectBias"])
    r = c.get("routedScale")
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float))
                          or not math.isfinite(r) or r <= 0):
        raise ValueError(f"routedScale: must be a finite number > 0, got {r!r}")
    if "sharedExperts" in c:
        _pos_int("sharedExperts", c["sharedExperts"])
    if "sharedWidth" in c:
        _pos_int("sharedWidth", c["sharedWidth"])
        if "sharedExperts" not in c:
            raise ValueError("sharedWidth: needs sharedExperts (the number of shared experts)")
    return c


def moe_config(m, k, w, dIn, **opts):
    """A complete (m, k, w, d)-MoE layer config: dOut defaults to dIn, the rest to MOE_DEFAULTS."""
    return check_config("moe", {**MOE_DEFAULTS, "m": m, "k": k, "w": w, "dIn": dIn, "dOut": dIn,
                                **opts})


def deep_config(dIn, dOut, layers, experts, expertWidth, **opts):
    """A complete deep L-E-MoE config: hiddenDim defaults to expertWidth, the rest to
    DEEP_DEFAULTS."""
    return check_config("deep", {**DEEP_DEFAULTS, "dIn": dIn, "dOut": dOut, "layers": layers,
                                 "experts": experts, "expertWidth": expertWidth,
                                 "hiddenDim": expertWidth, **opts})


def _layer_configs(kind, c):
    """The per-layer (m, k, w, dIn, dOut, ..., depth) configs of a model."""
    if kind == "moe":
        return [{"selectBias": False, **c, "depth": 1}]
    out = []
    for l in range(c["layers"]):
        out.append({
            "m": c["experts"], "k": c["k"], "w": c["expertWidth"],
            "dIn": c["dIn"] if l == 0 else c["hiddenDim"],
            "dOut": c["dOut"] if l == c["layers"] - 1 else c["hiddenDim"],
            "gate": c["gate"], "activation": c["activation"], "routerBias": c["routerBias"],
            "expertBias": c["expertBias"], "strategy": c["strategy"], "depth": c["expertDepth"],
            **{f: c[f] for f in MOE_OPTIONAL_FIELDS if f in c},
        })
    return out


def _layer_shapes(s):
    """(name, dims, fan_in, role) of one MoE layer's tensors, in layout order."""
    m, w, d_in, d_out = s["m"], s["w"], s["dIn"], s["dOut"]
    out = [("router.weight", [d_in, m], d_in, "router.weight")]
    if s["routerBias"]:
        out.append(("router.bias", [m], d_in, "bias"))
    if s.get("selectBias"):
        out.append(("router.select_bias", [m], d_in, "state"))
    out.append(("experts.w1", [d_in, m * w], d_in, "w1"))
    if s["expertBias"]:
        out.append(("experts.b1", [m * w], d_in, "bias"))
    for i in range(1, s["depth"]):
        out.append((f"experts.wh{i}", [m, w, w], w, "wh"))
        if s["expertBias"]:
            out.append((f"experts.bh{i}", [m, w], w, "bias"))
    out.append(("experts.w2", [m * w, d_out], w, "w2"))
    if s["expertBias"]:
        out.append(("experts.b2", [m, d_out], w, "bias"))
    if s.get("sharedExperts"):
        n, ws = s["sharedExperts"], s.get("sharedWidth", w)
        out.append(("shared.w1", [d_in, n * ws], d_in, "w1"))
        if s["expertBias"]:
            out.append(("shared.b1", [n * ws], d_in, "bias"))
        out.append(("shared.w2", [n * ws, d_out], ws, "w2"))
        if s["expertBias"]:
            out.append(("shared.b2", [n, d_out], ws, "bias"))
    return out


def param_shapes(kind, config):
    """[(name, dims)] of a model's parameters in the toolkit's layout order (modelParamShapes)."""
    c = check_config(kind, config)
    out = []
    for l, s in enumerate(_layer_configs(kind, c)):
        out += [(f"moe{l}.{n}", d) for n, d, _, _ in _layer_shapes(s)]
        if kind == "deep" and c["denseBetween"] and l < c["layers"] - 1:
            h = c["hiddenDim"]
            out += [(f"dense{l}.weight", [h, h]), (f"dense{l}.bias", [h])]
    return out


# ---------------------------------------------------------------------------------------------
# the PyTorch model


def _act(z, a):
    if a == "relu":
        return torch.relu(z)
    if a == "linear":
        return z
    if a == "gelu":  # exact: z Phi(z)
        return torch.nn.functional.gelu(z)
    raise ValueError(f"activation: {a!r} has no elementwise form")


class _Params(torch.nn.Module):
    """A bag of named tensors (names as in the toolkit's layout): parameters, and buffers for
    the `state` ones (no gradient)."""

    def __init__(self, shapes, dtype):
        super().__init__()
        for name, dims, role in shapes:
            if role == "state":
                self.register_buffer(name, torch.zeros(dims, dtype=dtype))
            else:
                setattr(self, name, torch.nn.Parameter(torch.zeros(dims, dtype=dtype)))


class MoELayer(torch.nn.Module):
    """One MoE layer: `router.*` (weight [dIn, m], bias [m], the select_bias buffer [m]),
    `experts.*` and, with shared experts, `shared.*` (see the module doc for the forward).

    `forward(x)` gives y [B, dOut]; `route(x)` gives the scores [B, m], the selected experts
    [B, k] (decreasing biased affinity, lower index first among ties) and their gate weights
    [B, k] (a balancing rule reads the selection counts off the indices and updates
    `router.select_bias` in place). `strategy`
    decides only how y is computed (identical results): `dense` runs every expert as one wide
    matmul and masks, `sparse` runs each expert on its own tokens; `auto` is dense for m <= 8 k.
    """

    def __init__(self, spec, dtype=torch.float32):
        super().__init__()
        self.spec = dict(spec)
        shapes = _layer_shapes(spec)
        self.router = _Params([(n[7:], d, r) for n, d, _, r in shapes if n.startswith("router.")],
                              dtype)
        self.experts = _Params([(n[8:], d, r) for n, d, _, r in shapes
                                if n.startswith("experts.")], dtype)
        if spec.get("sharedExperts"):
            self.shared = _Params([(n[7:], d, r) for n, d, _, r in shapes
                                   if n.startswith("shared.")], dtype)
        self.strategy = spec["strategy"]

    def _p(self, name):
        return getattr(self.experts, name, None)

    def route(self, x):
        s = self.spec
        scores = x @ self.router.weight
        if s["routerBias"]:
            scores = scores + self.router.bias
        affinity = torch.sigmoid(scores) if s["gate"] == "sigmoid-topk" else scores
        ranked = affinity + self.router.select_bias if s.get("selectBias") else affinity
        # A stable descending sort keeps the lower expert index first among equal scores; the
        # selection bias only selects (the weights read the unbiased affinities).
        idx = torch.sort(ranked.detach(), dim=1, descending=True, stable=True).indices
        idx = idx[:, :s["k"]]
        gate = s["gate"]
        if gate == "softmax-topk":
            gates = torch.softmax(affinity.gather(1, idx), dim=1)
        elif gate == "softmax-all":
            gates = torch.softmax(scores, dim=1).gather(1, idx)
        elif gate == "sigmoid-topk":
            a = affinity.gather(1, idx)
            gates = a / a.sum(1, keepdim=True)
        elif gate == "equal":  # built from the shape only, so no gradient reaches the router
            gates = torch.ones(idx.shape, dtype=x.dtype, device=x.device)
        else:
            raise ValueError(f"gate: unknown value {gate!r} (allowed: {', '.join(GATES)})")
        if s.get("routedScale", 1) != 1:
            gates = gates * s["routedScale"]
        return scores, idx, gates

    def _resolved_strategy(self):
        st = self.strategy
        _one_of("strategy", st, STRATEGIES)
        if st == "auto":
            return "dense" if self.spec["m"] <= 8 * self.spec["k"] else "sparse"
        return st

    def forward(self, x):
        y = self._routed(x)
        return y + self._shared(x) if self.spec.get("sharedExperts") else y

    def _shared(self, x):
        """The shared experts' sum: one dense MLP of width n_s w_s (weight 1 each)."""
        sh, bias = self.shared, self.spec["expertBias"]
        if self.spec["activation"] == "constant":  # each outputs A^s_j 1 + e^s_j
            v = sh.w2.sum(0)
            return v + sh.b2.sum(0) if bias else v
        pre = x @ sh.w1
        y = _act(pre + sh.b1 if bias else pre, self.spec["activation"]) @ sh.w2
        return y + sh.b2.sum(0) if bias else y

    def _routed(self, x):
        s = self.spec
        m, w, d_out, depth = s["m"], s["w"], s["dOut"], s["depth"]
        _, idx, gates = self.route(x)
        bias = s["expertBias"]
        w2 = self.experts.w2
        b2 = self.experts.b2 if bias else None
        strategy = self._resolved_strategy()
        full = None
        if strategy == "dense" or s["activation"] == "constant":
            full = torch.zeros(x.shape[0], m, dtype=x.dtype, device=x.device)
            full = full.scatter(1, idx, gates)  # [B, m]: 0 for unselected experts
        if s["activation"] == "constant":  # expert j outputs v_j = A_j 1 + e_j
            v = w2.reshape(m, w, d_out).sum(1)
            if bias:
                v = v + b2
            return full @ v if strategy == "dense" else (v[idx] * gates[..., None]).sum(1)
        a = s["activation"]
        if strategy == "dense":
            pre = x @ self.experts.w1
            if bias:
                pre = pre + self.experts.b1
            h = _act(pre, a).reshape(-1, m, w)
            if depth > 1:
                h = h.transpose(0, 1)  # [m, B, w]
                for i in range(1, depth):
                    z = h @ self._p(f"wh{i}")
                    if bias:
                        z = z + self._p(f"bh{i}")[:, None, :]
                    h = _act(z, a)
                h = h.transpose(0, 1)
            y = (h * full[..., None]).reshape(-1, m * w) @ w2
            return y + full @ b2 if bias else y
        y = torch.zeros(x.shape[0], d_out, dtype=x.dtype, device=x.device)
        for j in range(m):
            tok, rank = (idx == j).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            cols = slice(j * w, (j + 1) * w)
            z = x[tok] @ self.experts.w1[:, cols]
            if bias:
                z = z + self.experts.b1[cols]
            h = _act(z, a)
            for i in range(1, depth):
                z = h @ self._p(f"wh{i}")[j]
                if bias:
                    z = z + self._p(f"bh{i}")[j]
                h = _act(z, a)
            yj = h @ w2[cols]
            if bias:
                yj = yj + b2[j]
            y = y.index_add(0, tok, gates[tok, rank, None] * yj)
        return y


class _Dense(torch.nn.Module):
    """act(h @ weight + bias): weight [in, out], as the toolkit stores it."""

    def __init__(self, h, dtype):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(h, h, dtype=dtype))
        self.bias = torch.nn.Parameter(torch.zeros(h, dtype=dtype))


class MoEModel(torch.nn.Module):
    """A toolkit model: `kind` "moe" (one layer, `moe0`) or "deep" (`moe0` .. `moe<L-1>`, with
    `dense<l>` between them when `denseBetween`). `config` is the toolkit's config (camelCase
    fields as in the file's metadata); `metadata` is the metadata it was loaded with (None for a
    model built here). Parameters are zero until `reset_parameters` or `load_state_dict`."""

    def __init__(self, kind, config, dtype=torch.float32):
        super().__init__()
        self.kind = kind
        self.config = check_config(kind, config)
        self.metadata = None
        c = self.config
        specs = _layer_configs(kind, c)
        for l, s in enumerate(specs):
            setattr(self, f"moe{l}", MoELayer(s, dtype))
            if kind == "deep" and c["denseBetween"] and l < c["layers"] - 1:
                setattr(self, f"dense{l}", _Dense(c["hiddenDim"], dtype))
        self._n_layers = len(specs)

    @property
    def layers(self):
        """The MoE layers, in order."""
        return [getattr(self, f"moe{l}") for l in range(self._n_layers)]

    def set_strategy(self, strategy):
        """How every layer computes (dense, sparse, auto); results do not depend on it."""
        _one_of("strategy", strategy, STRATEGIES)
        for layer in self.layers:
            layer.strategy = strategy
        return self

    def forward(self, x):
        c = self.config
        h = x
        for l, layer in enumerate(self.layers):
            y = layer(h)
            s = layer.spec
            h = y + h if self.kind == "deep" and c["residual"] and s["dIn"] == s["dOut"] else y
            if self.kind == "deep" and c["denseBetween"] and l < c["layers"] - 1:
                d = getattr(self, f"dense{l}")
                h = _act(h @ d.weight + d.bias, c["activation"])
        return h

    @torch.no_grad()
    def reset_parameters(self, scheme="torch", generator=None):
        """Fresh parameters drawn with torch's RNG (or `generator`) from the toolkit's init
        schemes (lib/nn/init.ts): `torch`, nn.Linear's default (uniform +-1/sqrt(fan_in) for
        weights and biases), or `paper` (the paper's Gaussian constructions, zero biases)."""
        _one_of("init", scheme, INIT_SCHEMES)
        for layer in self.layers:
            s = layer.spec
            for name, _, fan_in, role in _layer_shapes(s):
                group, short = name.split(".", 1)
                p = getattr(getattr(layer, group), short)
                if role == "state":  # the selection bias starts at 0 in both schemes
                    p.zero_()
                elif scheme == "torch":
                    b = 1 / math.sqrt(fan_in)
                    p.uniform_(-b, b, generator=generator)
                elif role == "bias":
                    p.zero_()
                else:
                    if role == "router.weight":
                        std = 1.0
                    elif role == "w1":
                        std = math.sqrt(1 / s["dIn"])
                    elif role == "wh":
                        std = math.sqrt(1 / s["w"])
                    elif s["activation"] == "constant":  # fan_in: the expert's width
                        std = math.sqrt(1 / (2 * s["dOut"] * s["k"] * fan_in))
                    else:
                        std = math.sqrt(1 / (s["k"] * fan_in))
                    p.normal_(0, std, generator=generator)
        for name, mod in self.named_children():
            if isinstance(mod, _Dense):
                b = 1 / math.sqrt(mod.weight.shape[0])
                if scheme == "torch":
                    mod.weight.uniform_(-b, b, generator=generator)
                    mod.bias.uniform_(-b, b, generator=generator)
                else:
                    mod.weight.normal_(0, b, generator=generator)
                    mod.bias.zero_()
        return self


def moe(m, k, w, dIn, dtype=torch.float32, init="torch", generator=None, **opts):
    """A freshly initialized (m, k, w, d)-MoE layer (options as in `moe_config`)."""
    model = MoEModel("moe", moe_config(m, k, w, dIn, **opts), dtype)
    return model.reset_parameters(init, generator)


def deep(dIn, dOut, layers, experts, expertWidth, dtype=torch.float32, init="torch",
         generator=None, **opts):
    """A freshly initialized deep L-E-MoE (options as in `deep_config`)."""
    model = MoEModel("deep", deep_config(dIn, dOut, layers, experts, expertWidth, **opts), dtype)
    return model.reset_parameters(init, generator)


# ---------------------------------------------------------------------------------------------
# reading .onnx files

_DTYPES = {"float32": (TensorProto.FLOAT, torch.float32, np.float32),
           "float64": (TensorProto.DOUBLE, torch.float64, np.float64)}


def _dims(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value if d.HasField("dim_value")
            else None for d in value_info.type.tensor_type.shape.dim]


def metadata(model_proto):
    """The JSON metadata (`metadata_props["moe_onnx"]`) of a loaded onnx.ModelProto."""
    props = {p.key: p.value for p in model_proto.metadata_props}
    if METADATA_KEY not in props:
        raise ValueError(f"metadata_props: missing '{METADATA_KEY}' (not a moe-onnx export)")
    try:
        meta = json.loads(props[METADATA_KEY])
    except ValueError as e:
        raise ValueError(f"metadata_props.{METADATA_KEY}: invalid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError("metadata: must be a JSON object")
    return meta


def from_onnx(model_proto, label="<model>", dtype=None):
    """An MoEModel from an onnx.ModelProto the toolkit wrote (see `load`)."""
    def fail(msg):
        raise ValueError(f"{label}: {msg}")

    try:
        meta = metadata(model_proto)
    except ValueError as e:
        fail(str(e))
    if meta.get("format") != MODEL_FORMAT:
        fail(f"metadata.format: expected '{MODEL_FORMAT}', got {json.dumps(meta.get('format'))}")
    if meta.get("formatVersion") != FORMAT_VERSION:
        fail(f"metadata.formatVersion: unsupported {json.dumps(meta.get('formatVersion'))} "
             f"(allowed: {FORMAT_VERSION})")
    try:
        _one_of("kind", meta.get("kind"), KINDS)
        config = check_config(meta["kind"], meta.get("config"))
    except ValueError as e:
        msg = str(e)
        fail(f"metadata.{'' if msg.startswith(('kind', 'config')) else 'config.'}{msg}")
    file_dtype = meta.get("dtype")
    if file_dtype not in _DTYPES:
        fail(f"metadata.dtype: unknown value {json.dumps(file_dtype)} (allowed: float32, float64)")
    kind = meta["kind"]
    g = model_proto.graph
    xs = [v for v in g.input if v.name == "x"]
    ys = [v for v in g.output if v.name == "y"]
    if not xs or _dims(xs[0])[1:] != [config["dIn"]] or len(_dims(xs[0])) != 2:
        fail(f"graph.input: expected 'x' [{BATCH_DIM}, {config['dIn']}]")
    if not ys or _dims(ys[0])[1:] != [config["dOut"]] or len(_dims(ys[0])) != 2:
        fail(f"graph.output: expected 'y' [{BATCH_DIM}, {config['dOut']}]")
    onnx_type, torch_dtype, _ = _DTYPES[file_dtype]
    torch_dtype = dtype or torch_dtype
    inits = {t.name: t for t in g.initializer}
    model = MoEModel(kind, config, torch_dtype)
    state = {}
    for name, dims in param_shapes(kind, config):
        t = inits.get(name)
        if t is None:
            fail(f"params: missing initializer '{name}' (expected {file_dtype} {dims})")
        if list(t.dims) != dims:
            fail(f"params: '{name}' has dims {list(t.dims)}, expected {dims}")
        if t.data_type != onnx_type:
            fail(f"params: '{name}' has ONNX element type {t.data_type}, expected {file_dtype}")
        state[name] = torch.from_numpy(numpy_helper.to_array(t).copy()).to(torch_dtype)
    model.load_state_dict(state)
    model.metadata = meta
    return model


def load(source, dtype=None):
    """Loads a toolkit `.onnx` file (a path, or its bytes) as an MoEModel.

    The config comes from the metadata, the parameters (dtype of the file, or `dtype`) from the
    initializers; errors are one-line ValueErrors naming the file and the field."""
    if isinstance(source, (bytes, bytearray)):
        return from_onnx(onnx.load_from_string(bytes(source)), "<bytes>", dtype)
    return from_onnx(onnx.load(source), str(source), dtype)


# ---------------------------------------------------------------------------------------------
# writing .onnx files


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
        m, k, w, d_out, bias = s["m"], s["k"], s["w"], s["dOut"], s["expertBias"]
        scores = (self.op("Gemm", x, p("router.weight"), p("router.bias")) if s["routerBias"]
                  else self.op("MatMul", x, p("router.weight")))
        affinity = self.op("Sigmoid", scores) if s["gate"] == "sigmoid-topk" else scores
        ranked = (self.op("Add", affinity, p("router.select_bias")) if s.get("selectBias")
                  else affinity)
        vals, idx = self.op("TopK", ranked, self.i64([k]), outputs=2, axis=-1, largest=1,
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
        full = self.op("ScatterElements", zeros, idx, gates, axis=1)  # [B, m]
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
    proto = helper.make_model(graph, producer_name="moe-onnx (python/moe_onnx_torch.py)",
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
