"""Configs and parameter layouts of the toolkit's models, as its file metadata stores them
(lib/nn/config.ts, lib/nn/layout.ts, lib/export/fields.ts), with the toolkit's checks."""
import json
import math
import os

METADATA_KEY = "moe_onnx"
MODEL_FORMAT = "moe-onnx-model"
FORMAT_VERSION = 1
BATCH_DIM = "batch"
IR_VERSION = 8
OPSET = 17

GATES = ("softmax-topk", "equal", "softmax-all", "sigmoid-topk", "expert-choice")
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
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deno.json")
    try:
        with open(here) as f:
            return str(json.load(f)["version"])
    except (OSError, ValueError, KeyError):
        return "0.1.0"


TOOLKIT_VERSION = _toolkit_version()


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
        if c["selectBias"] and c["gate"] == "expert-choice":
            raise ValueError("selectBias: not with gate expert-choice "
                             "(its loads are balanced by construction)")
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
