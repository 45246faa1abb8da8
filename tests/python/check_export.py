#!/usr/bin/python3
"""Checks moe-onnx's exported .onnx files from Python (run by tests/export_test.ts).

usage: /usr/bin/python3 tests/python/check_export.py DIR

DIR holds cases.json and, per case, a model (.onnx) and the input x and the output y that
onnxruntime-node computed on the TypeScript side (raw little-endian .bin files; dtype and dims
in cases.json). For each case this script checks that:
  1. onnx.checker.check_model(model, full_check=True) passes, IR 8, opset 17;
  2. onnx.shape_inference.infer_shapes (strict) gives x [batch, d_in] and y [batch, d_out];
  3. metadata_props["moe_onnx"] is JSON naming the kind and the full config;
  4. a numpy forward written from the paper's formula, with the exported initializers, matches
     onnxruntime-node's y: scores s = x R (+ b), top-k with the lowest index winning ties, gates
     (softmax over the k selected / all ones / softmax over all m, keep the k / sigmoid
     affinities selected with the selection bias, the unbiased ones normalized; times the
     routed scale), experts
     A_j act(B_j x + c_j) + e_j, summed with the gates.
onnxruntime is not needed here (nor installed): Python checks the formula, the TypeScript side
ran onnxruntime. Exit status: 0 all passed, 1 a check failed, 3 a Python package is missing.
"""
import json
import math
import os
import sys

from cases_dir import read_cases

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # the TS test turns this into a failure with the install hint
    print(f"missing Python package ({e}): apt-get install python3-onnx python3-numpy")
    sys.exit(3)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def act(z, name):
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "linear":
        return z
    if name == "gelu":  # exact GELU: z Phi(z)
        return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))
    raise ValueError(f"activation: unexpected {name!r}")


def softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def moe_layer(x, c, W, prefix, depth):
    """One (m, k, w, d)-MoE layer on x [B, dIn] (float64), parameters in lib/nn/layout.ts."""
    m, k, w, d_in, d_out = c["m"], c["k"], c["w"], c["dIn"], c["dOut"]
    p = lambda name: W.get(prefix + name)  # noqa: E731
    s = x @ p("router.weight")
    if c["routerBias"]:
        s = s + p("router.bias")
    if c["gate"] == "expert-choice":
        # Expert e takes the c = ceil(k B / m) tokens of largest softmax(s)[:, e] (stable: the
        # lower token first among ties) with gate P[t, e]: as a [B, m] gate matrix over all m.
        P = softmax(s)
        cap = -(-k * x.shape[0] // m)
        tok = np.argsort(-P.T, axis=1, kind="stable")[:, :cap]  # [m, c]
        gates = np.zeros_like(P)
        for j in range(m):
            gates[tok[j], j] = P[tok[j], j]
        gates = gates * c.get("routedScale", 1.0)
        idx = np.tile(np.arange(m), (x.shape[0], 1))
        ranked = P  # only for the near-tie diagnostic below
    else:
        # Affinities: sigma(s) for the sigmoid gate, else s; the selection bias only selects.
        a = 1.0 / (1.0 + np.exp(-s)) if c["gate"] == "sigmoid-topk" else s
        ranked = a + p("router.select_bias") if c.get("selectBias") else a
        # Decreasing affinity; a stable sort of -a keeps the lower index first among ties.
        idx = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
        sel = np.take_along_axis(a, idx, axis=1)  # the unbiased affinities of the selected
        if c["gate"] == "softmax-topk":
            gates = softmax(sel)
        elif c["gate"] == "equal":
            gates = np.ones_like(sel)
        elif c["gate"] == "softmax-all":
            gates = np.take_along_axis(softmax(s), idx, axis=1)
        elif c["gate"] == "sigmoid-topk":
            gates = sel / sel.sum(axis=1, keepdims=True)
        else:
            raise ValueError(f"gate: unexpected {c['gate']!r}")
        gates = gates * c.get("routedScale", 1.0)

    W1 = p("experts.w1").reshape(d_in, m, w).transpose(1, 0, 2)  # B_j^T: [m, dIn, w]
    b1 = p("experts.b1").reshape(m, w) if c["expertBias"] else np.zeros((m, w))
    W2 = p("experts.w2").reshape(m, w, d_out)  # A_j^T: [m, w, dOut]
    b2 = p("experts.b2") if c["expertBias"] else np.zeros((m, d_out))
    hidden = [
        (p(f"experts.wh{i}"), p(f"experts.bh{i}") if c["expertBias"] else np.zeros((m, w)))
        for i in range(1, depth)
    ]
    y = np.zeros((x.shape[0], d_out))
    for r in range(idx.shape[1]):
        j = idx[:, r]
        if c["activation"] == "constant":
            h = np.ones((x.shape[0], w))  # sigma(t) = 1: the expert ignores its input
        else:
            h = act(np.einsum("bi,biu->bu", x, W1[j]) + b1[j], c["activation"])
            for Wh, bh in hidden:
                h = act(np.einsum("bu,buv->bv", h, Wh[j]) + bh[j], c["activation"])
        y_j = np.einsum("bu,buo->bo", h, W2[j]) + b2[j]
        y += gates[:, r : r + 1] * y_j
    n_s = c.get("sharedExperts", 0)
    if n_s:  # shared experts: always active, weight 1, width w_s
        ws = c.get("sharedWidth", w)
        S1 = p("shared.w1").reshape(d_in, n_s, ws).transpose(1, 0, 2)
        S2 = p("shared.w2").reshape(n_s, ws, d_out)
        c1 = p("shared.b1").reshape(n_s, ws) if c["expertBias"] else np.zeros((n_s, ws))
        c2 = p("shared.b2") if c["expertBias"] else np.zeros((n_s, d_out))
        for j in range(n_s):
            if c["activation"] == "constant":
                h = np.ones((x.shape[0], ws))
            else:
                h = act(x @ S1[j] + c1[j], c["activation"])
            y += h @ S2[j] + c2[j]
    return y, ranked


def deep_layer_config(c, l):
    return {
        "m": c["experts"],
        "k": c["k"],
        "w": c["expertWidth"],
        "dIn": c["dIn"] if l == 0 else c["hiddenDim"],
        "dOut": c["dOut"] if l == c["layers"] - 1 else c["hiddenDim"],
        "gate": c["gate"],
        "activation": c["activation"],
        "routerBias": c["routerBias"],
        "expertBias": c["expertBias"],
    }


def forward(kind, c, W, x):
    """y [B, dOut] and the router scores of every layer."""
    if kind == "moe":
        y, s = moe_layer(x, c, W, "moe0.", 1)
        return y, [s]
    h, scores = x, []
    for l in range(c["layers"]):
        lc = deep_layer_config(c, l)
        y, s = moe_layer(h, lc, W, f"moe{l}.", c["expertDepth"])
        scores.append(s)
        h = y + h if c["residual"] and lc["dIn"] == lc["dOut"] else y
        if c["denseBetween"] and l < c["layers"] - 1:
            h = act(h @ W[f"dense{l}.weight"] + W[f"dense{l}.bias"], c["activation"])
    return h, scores


def read_bin(d, spec):
    dt = {"float32": "<f4", "float64": "<f8"}[spec["dtype"]]
    return np.fromfile(os.path.join(d, spec["file"]), dtype=dt).reshape(spec["dims"])


def dims_of(value_info):
    return [
        d.dim_param if d.HasField("dim_param") else d.dim_value if d.HasField("dim_value") else None
        for d in value_info.type.tensor_type.shape.dim
    ]


def check_case(d, case):
    path = case["model"] if os.path.isabs(case["model"]) else os.path.join(d, case["model"])
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 8, f"ir_version {model.ir_version}, expected 8"
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets.get("", opsets.get("ai.onnx")) == 17, f"opsets {opsets}, expected 17"

    meta = json.loads({p.key: p.value for p in model.metadata_props}["moe_onnx"])
    kind, c = meta["kind"], meta["config"]
    assert kind in ("moe", "deep"), f"kind {kind!r}"
    assert meta["description"], "empty description"

    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    g = inferred.graph
    x_dims = dims_of(next(v for v in g.input if v.name == "x"))
    y_dims = dims_of(next(v for v in g.output if v.name == "y"))
    assert x_dims == ["batch", c["dIn"]], f"x dims {x_dims}"
    assert y_dims == ["batch", c["dOut"]], f"y dims {y_dims}"

    W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    x = read_bin(d, case["x"])
    y_ort = read_bin(d, case["y"]).astype(np.float64)
    y_np, scores = forward(kind, c, W, x.astype(np.float64))
    assert y_np.shape == y_ort.shape, f"y shape {y_np.shape} vs {y_ort.shape}"
    assert np.abs(y_np).max() > 1e-3, "reference output is trivially 0"
    err = np.abs(y_np - y_ort).max()
    tol = case.get("tol", 1e-5)
    if not err <= tol:
        k = c["k"]
        gap = float("inf")  # a near-tie in the router explains a float32 vs float64 mismatch
        for s in scores:
            if s.shape[1] > k:
                desc = -np.sort(-s, axis=1)
                gap = min(gap, (desc[:, k - 1] - desc[:, k]).min())
        raise AssertionError(
            f"max |y_numpy - y_onnxruntime| = {err:.3e} > {tol:g} "
            f"(smallest top-k score gap {gap:.2e})"
        )
    return f"{kind} {meta['config'].get('gate')}/{c['activation']} {meta['dtype']} " \
        f"{meta['strategy']}: max err {err:.2e}"


def main(argv):
    args = read_cases(argv, __doc__)
    if args is None:
        return 2
    d, cases = args[0], args[1]["cases"]
    failed = 0
    for case in cases:
        try:
            print(f"ok   {case['name']}: {check_case(d, case)}")
        except Exception as e:  # report every case, then fail
            failed += 1
            print(f"FAIL {case['name']}: {type(e).__name__}: {e}")
    print(f"check_export: {failed} of {len(cases)} cases failed" if failed else
          f"check_export: all {len(cases)} cases passed")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
