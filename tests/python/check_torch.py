#!/usr/bin/python3
"""Checks python/moe_onnx_torch/ against onnxruntime-node (run by tests/torch_test.ts).

usage: /usr/bin/python3 tests/python/check_torch.py DIR

DIR/cases.json lists, in one file so that torch is imported once:
  forward: {name, model, x, y[, tol, grad]}: the loaded module (every torch strategy) gives
    onnxruntime-node's y within tol (1e-5); with grad, the gradient of a random linear function
    of y is finite and nonzero for every parameter that should get one (see should_get_grad)
    and absent or zero for the others, and matches a float64 central difference along a random
    direction;
  adamw: {name, teacher, student, steps, lr, batch}: PyTorch AdamW steps on a fresh student
    against the loaded teacher reduce the test loss;
  write: {name, out, from} (load a file, write it back) or {name, out, kind, config, seed, x,
    y} (a model built and initialized in PyTorch, two AdamW steps on a random target, written;
    its torch output on x is stored as y for the TypeScript side to compare with onnxruntime);
  toolkit: the toolkit's vocabulary (gates, activations, strategies, config fields, version):
    the module must know every value, in the toolkit's order, so a new option cannot go
    unnoticed;
  errors: {model}: damaged copies of this file fail to load with one-line errors naming the
    file and the field;
  readme: a path: the README's PyTorch snippet (the ```python block that imports
    moe_onnx_torch) runs as is, in DIR/readme (which links the repository's models/ and python/,
    so the files it writes stay out of the checkout).
Binary tensors are raw little-endian files ({file, dtype, dims}). Exit status: 0 all passed,
1 a check failed, 3 a Python package is missing.
"""
import contextlib
import io
import json
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

from cases_dir import read_cases  # noqa: E402 (beside this file)

try:
    import numpy as np
    import onnx  # noqa: F401
    import torch
    import moe_onnx_torch as mot
except ImportError as e:  # the TS test turns this into a failure with the install hint
    print(f"missing Python package ({e}): apt-get install python3-torch python3-onnx "
          "python3-numpy")
    sys.exit(3)

NP = {"float32": "<f4", "float64": "<f8"}


def path_in(d, p):
    return p if os.path.isabs(p) else os.path.join(d, p)


def read_bin(d, spec):
    a = np.fromfile(path_in(d, spec["file"]), dtype=NP[spec["dtype"]]).reshape(spec["dims"])
    return torch.from_numpy(a.copy())


def write_bin(d, name, t):
    a = t.detach().cpu().numpy()
    dtype = "float32" if a.dtype == np.float32 else "float64"
    a.astype(NP[dtype]).tofile(os.path.join(d, name))
    return {"file": name, "dtype": dtype, "dims": list(a.shape)}


def router_gets_grad(c):
    """softmax-all and expert-choice weights (softmax over all m) depend on all scores;
    softmax-topk and sigmoid-topk weights are normalized over the k selected, so constant (1)
    when k = 1; equal weights are constant."""
    return c["gate"] in ("softmax-all", "expert-choice") or (
        c["gate"] in ("softmax-topk", "sigmoid-topk") and c["k"] > 1)


def passes_input_grad(c, spec):
    """Whether an MoE layer's output gradient reaches its input (experts, router or residual)."""
    return (c["activation"] != "constant" or router_gets_grad(c)
            or (c.get("residual", False) and spec["dIn"] == spec["dOut"]))


def should_get_grad(model, name):
    """Parameters that get a gradient: expert input weights unless the activation is constant,
    the router when the gates depend on the scores, everything else; in a deep model only where
    the gradient reaches (equal gates and constant experts cut it off)."""
    c = model.config
    layer_name, part = name.split(".", 1)
    specs = [layer.spec for layer in model.layers]
    layer = int(layer_name[len("dense"):] if layer_name.startswith("dense") else layer_name[3:])

    def reaches_output(l):  # the gradient of the loss reaches moe<l>'s output
        return l == len(specs) - 1 or (reaches_output(l + 1)
                                       and passes_input_grad(c, specs[l + 1]))

    if layer_name.startswith("dense"):
        return reaches_output(layer + 1) and passes_input_grad(c, specs[layer + 1])
    if not reaches_output(layer):
        return False
    if part.startswith("router."):
        return router_gets_grad(c)
    if part in ("experts.w1", "experts.b1", "shared.w1", "shared.b1") or part.startswith(
            ("experts.wh", "experts.bh")):
        return c["activation"] != "constant"
    return True  # experts.w2, experts.b2, shared.w2, shared.b2


def check_grads(model, x):
    """Finite nonzero gradients where expected, and a float64 directional finite difference."""
    gen = torch.Generator().manual_seed(1)
    model.zero_grad()
    y = model(x)
    r = torch.randn(y.shape, generator=gen, dtype=y.dtype)
    (y * r).sum().backward()
    # The same backward twice gives the same bits (a kernel reading uninitialized memory does not).
    first = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    (model(x) * r).sum().backward()
    for n, p in model.named_parameters():
        if n in first:
            assert torch.equal(first[n], p.grad), f"{n}: gradient differs between two backwards"
    got = []
    # a / sum(a) over one selected expert is 1 up to rounding: "no gradient" allows rounding.
    scale = max(float(p.grad.abs().max()) for p in model.parameters() if p.grad is not None)
    for name, p in model.named_parameters():
        g = p.grad
        if should_get_grad(model, name):
            assert g is not None, f"{name}: no gradient"
            assert torch.isfinite(g).all(), f"{name}: gradient not finite"
            assert (g != 0).any(), f"{name}: gradient is all zero"
            got.append(name)
        else:
            assert g is None or float(g.abs().max()) <= 1e-6 * scale, \
                f"{name}: unexpected nonzero gradient (max {float(g.abs().max()):.3g})"
    # d/dt f(theta + t v) at t = 0 by central differences, in float64.
    m64 = mot.MoEModel(model.kind, model.config, torch.float64)
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    x64 = x.double()
    m64.zero_grad()
    y64 = m64(x64)
    (y64 * r.double()).sum().backward()
    vs = {n: torch.randn(p.shape, generator=gen, dtype=torch.float64)
          for n, p in m64.named_parameters()}
    analytic = sum(float((p.grad * vs[n]).sum()) for n, p in m64.named_parameters()
                   if p.grad is not None)
    eps = 1e-6
    base = {k: v.clone() for k, v in m64.state_dict().items()}
    vals = []
    with torch.no_grad():
        for sgn in (1, -1):
            m64.load_state_dict({k: base[k] + sgn * eps * vs[k] if k in vs else base[k]
                                 for k in base})  # buffers (the selection bias) stay
            vals.append(float((m64(x64) * r.double()).sum()))
    numeric = (vals[0] - vals[1]) / (2 * eps)
    assert abs(numeric - analytic) <= 1e-5 * max(1.0, abs(analytic)), \
        f"directional derivative {analytic:.9g} vs central difference {numeric:.9g}"
    return f"{len(got)} params with gradients, directional derivative {analytic:.6g}"


def check_forward(d, case):
    model = mot.load(path_in(d, case["model"]))
    x = read_bin(d, case["x"]).to(next(model.parameters()).dtype)
    y_ort = read_bin(d, case["y"]).double()
    tol = case.get("tol", 1e-5)
    errs = []
    for strategy in ("dense", "sparse"):
        model.set_strategy(strategy)
        with torch.no_grad():
            y = model(x).double()
        assert y.shape == y_ort.shape, f"y shape {tuple(y.shape)} vs {tuple(y_ort.shape)}"
        assert y.abs().max() > 1e-3, "output is trivially 0"
        err = float((y - y_ort).abs().max())
        assert err <= tol, f"{strategy}: max |y_torch - y_onnxruntime| = {err:.3e} > {tol:g}"
        errs.append(f"{strategy} {err:.1e}")
    msg = f"{model.kind} {model.config['gate']}/{model.config['activation']} " \
        f"{model.metadata['dtype']} {model.metadata['strategy']} file: max err {', '.join(errs)}"
    if case.get("grad"):
        model.set_strategy("dense")
        g_dense = check_grads(model, x)
        model.set_strategy("sparse")
        g_sparse = check_grads(model, x)
        msg += f"; dense: {g_dense}; sparse: {g_sparse}"
    return msg


def gaussian(gen, n, d):
    return torch.randn(n, d, generator=gen)


def check_adamw(d, case):
    teacher = mot.load(path_in(d, case["teacher"]))
    dim = teacher.config["dIn"]
    s = case["student"]
    torch.manual_seed(0)
    student = mot.moe(s["m"], s["k"], s["w"], dim)
    opt = torch.optim.AdamW(student.parameters(), lr=case["lr"], weight_decay=0.01)
    gen = torch.Generator().manual_seed(2)
    x_test = gaussian(gen, 1024, dim)
    with torch.no_grad():
        y_test = teacher(x_test)
        zero = float((y_test ** 2).sum(1).mean())

    def test_loss():
        with torch.no_grad():
            return float(((student(x_test) - y_test) ** 2).sum(1).mean()) / zero

    before = test_loss()
    for _ in range(case["steps"]):
        x = gaussian(gen, case["batch"], dim)
        with torch.no_grad():
            y = teacher(x)
        loss = ((student(x) - y) ** 2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = test_loss()
    assert after < 0.9 * before, f"normalized test loss {before:.4f} -> {after:.4f}"
    return f"normalized test loss {before:.4f} -> {after:.4f} in {case['steps']} AdamW steps"


def check_write(d, case):
    out = path_in(d, case["out"])
    if "from" in case:
        model = mot.load(path_in(d, case["from"]))
        meta = model.metadata
        mot.save(model, out, seed=meta.get("seed"), init=meta.get("init"),
                 preset=meta.get("preset"))
        return f"{case['from']} -> {case['out']}"
    torch.manual_seed(case["seed"])
    dtype = torch.float64 if case.get("dtype") == "float64" else torch.float32
    model = mot.MoEModel(case["kind"], case["config"], dtype).reset_parameters(
        case.get("init", "torch"))
    with torch.no_grad():  # a selection bias that changes the selection (a balancing rule's)
        for name, b in model.named_buffers():
            if name.endswith("router.select_bias"):
                b.copy_(torch.randn(b.shape, dtype=dtype))
    # A little training, so the written weights are not the init's.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    xt = torch.randn(64, model.config["dIn"], dtype=dtype)
    for _ in range(2):
        loss = ((model(xt) - 1.0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mot.save(model, out)
    back = mot.load(out)
    for (n, p), (n2, p2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert n == n2 and torch.equal(p, p2), f"{n}: changed by save + load"
    onnx.checker.check_model(onnx.load(out), full_check=True)
    x = read_bin(d, case["x"]).to(dtype)
    with torch.no_grad():
        y = model(x)
    case["y"] = write_bin(d, f"{case['name']}.y.bin", y)
    return f"{case['kind']} {model.config['gate']}/{model.config['activation']} -> {case['out']}"


def check_toolkit(t):
    mine = {"gates": mot.GATES, "activations": mot.ACTIVATIONS, "strategies": mot.STRATEGIES,
            "initSchemes": mot.INIT_SCHEMES, "moeFields": mot.MOE_FIELDS,
            "deepFields": mot.DEEP_FIELDS, "moeOptionalFields": mot.MOE_OPTIONAL_FIELDS,
            "version": mot.TOOLKIT_VERSION}
    for k, v in t.items():
        if isinstance(v, list):  # every toolkit value, in its order (newer ones may come first)
            got = [f for f in mine[k] if f in v]
        else:
            got = mine[k]
        assert got == v, f"{k}: the module has {got}, the toolkit {v} (update python/moe_onnx_torch/)"
    return f"{len(t)} lists agree"


def check_errors(d, case):
    path = path_in(d, case["model"])

    def expect(mutate, pattern):
        proto = onnx.load(path)
        mutate(proto)
        try:
            mot.from_onnx(proto, "f.onnx")
        except ValueError as e:
            msg = str(e)
            assert "\n" not in msg and re.match(pattern, msg), f"{msg!r} !~ {pattern!r}"
            return
        raise AssertionError(f"no error, expected {pattern!r}")

    def set_meta(**changes):
        def mutate(proto):
            for p in proto.metadata_props:
                if p.key == mot.METADATA_KEY:
                    meta = json.loads(p.value)
                    for k, v in changes.items():
                        if k.startswith("config."):
                            meta["config"][k[7:]] = v
                        else:
                            meta[k] = v
                    p.value = json.dumps(meta)
        return mutate

    expect(lambda p: p.ClearField("metadata_props"),
           r"^f\.onnx: metadata_props: missing 'moe_onnx'")
    expect(set_meta(**{"config.gate": "nope"}),
           r"^f\.onnx: metadata\.config\.gate: unknown value \"nope\" \(allowed: softmax-topk")
    expect(set_meta(**{"config.k": 99}), r"^f\.onnx: metadata\.config\.k: must be an integer")
    expect(set_meta(**{"config.extra": 1}), r"^f\.onnx: metadata\.config: unknown field 'extra'")
    expect(set_meta(kind="cnn"), r"^f\.onnx: metadata\.kind: unknown value \"cnn\"")
    expect(set_meta(formatVersion=2), r"^f\.onnx: metadata\.formatVersion: unsupported 2")
    expect(set_meta(dtype="int8"), r"^f\.onnx: metadata\.dtype: unknown value \"int8\"")
    def drop(name):
        def mutate(proto):
            keep = [t for t in proto.graph.initializer if t.name != name]
            del proto.graph.initializer[:]
            proto.graph.initializer.extend(keep)
        return mutate

    def reshape(name):
        def mutate(proto):
            next(t for t in proto.graph.initializer if t.name == name).dims.append(1)
        return mutate

    expect(drop("moe0.experts.b2"), r"^f\.onnx: params: missing initializer 'moe0\.experts\.b2'")
    expect(reshape("moe0.router.weight"),
           r"^f\.onnx: params: 'moe0\.router\.weight' has dims \[64, 16, 1\], expected")
    model = mot.load(path)
    model.moe0.experts.w2 = torch.nn.Parameter(torch.zeros(1))
    try:
        mot.to_onnx(model)
        raise AssertionError("to_onnx accepted a wrong shape")
    except ValueError as e:
        assert re.match(r"^params: 'moe0\.experts\.w2' has dims \[1\]", str(e)), str(e)
    return "11 damaged inputs rejected with one-line errors"


def check_balance(_d, _case):
    """The balancing helpers: the aux loss is alpha at uniform routing and larger when
    collapsed; the bias moves by +-rate toward the mean load, and evens a skewed router."""
    torch.manual_seed(3)
    m, k = 8, 2
    layer = mot.moe(m, k, 4, 6, gate="sigmoid-topk", selectBias=True).moe0
    idx = torch.arange(2 * m).reshape(m, 2) % m  # every expert twice
    scores = torch.zeros(m, m)
    assert abs(float(layer.aux_loss(scores, idx, 0.01)) - 0.01) < 1e-7
    collapsed = torch.zeros(m, k, dtype=torch.long) + torch.arange(k)
    skew = torch.zeros(m, m)
    skew[:, :k] = 3.0
    assert float(layer.aux_loss(skew, collapsed, 0.01)) > 0.015  # 0.0155: P is sigmoid-flat
    assert abs(float(layer.z_loss(scores, 1.0)) - math.log(m) ** 2) < 1e-5
    layer.balance_select_bias_(collapsed, 0.1)
    b = layer.router.select_bias
    assert torch.equal(b, torch.tensor([-0.1] * k + [0.1] * (m - k))), b
    # A router that prefers two experts: repeated bias updates spread the load.
    layer.router.select_bias.zero_()
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.bias = None
    x = torch.randn(512, 6)
    offset = torch.zeros(m)
    offset[:2] = 2.0

    def spread():
        with torch.no_grad():
            s = x @ layer.router.weight + offset + torch.randn(512, m)
            ranked = torch.sigmoid(s) + layer.router.select_bias
            idx = torch.sort(ranked, dim=1, descending=True, stable=True).indices[:, :k]
        return idx, float(layer.loads(idx).max() / layer.loads(idx).mean())

    _, before = spread()
    for _ in range(200):
        idx, _ = spread()
        layer.balance_select_bias_(idx, 0.01)
    _, after = spread()
    assert before > 2.5 and after < 1.5, f"max/mean load {before:.2f} -> {after:.2f}"
    return f"aux loss, z-loss, bias balancing: max/mean load {before:.2f} -> {after:.2f}"


def run_readme(path, workdir):
    """Runs the snippet in `workdir`, which links the repository's models/ and python/."""
    with open(path) as f:
        text = f.read()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "moe_onnx_torch" in b]
    assert len(blocks) == 1, f"expected one ```python block using moe_onnx_torch, got {len(blocks)}"
    repo = os.path.dirname(os.path.abspath(path))
    os.makedirs(workdir, exist_ok=True)
    for sub in ("models", "python"):
        os.symlink(os.path.join(repo, sub), os.path.join(workdir, sub))
    cwd = os.getcwd()
    buf = io.StringIO()
    try:
        os.chdir(workdir)
        with contextlib.redirect_stdout(buf):
            exec(compile(blocks[0], f"{path} (python snippet)", "exec"), {"__name__": "__main__"})
    finally:
        os.chdir(cwd)
    lines = buf.getvalue().strip().splitlines()
    assert lines, "the snippet printed nothing"
    return lines[-1]


def main(argv):
    args = read_cases(argv, __doc__)
    if args is None:
        return 2
    d, cases = args
    checks = [(f"forward {c['name']}", check_forward, (d, c)) for c in cases.get("forward", [])]
    checks += [(f"adamw {c['name']}", check_adamw, (d, c)) for c in cases.get("adamw", [])]
    checks += [(f"write {c['name']}", check_write, (d, c)) for c in cases.get("write", [])]
    checks.append(("balance helpers", check_balance, (d, None)))
    if cases.get("toolkit"):
        checks.append(("toolkit vocabulary", check_toolkit, (cases["toolkit"],)))
    checks += [(f"errors {c['model']}", check_errors, (d, c)) for c in cases.get("errors", [])]
    if cases.get("readme"):
        checks.append(("readme snippet", run_readme, (cases["readme"], os.path.join(d, "readme"))))
    failed = 0
    for name, fn, args in checks:
        try:
            print(f"ok   {name}: {fn(*args)}", flush=True)
        except Exception as e:  # report every check, then fail
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    with open(os.path.join(d, "written.json"), "w") as f:
        json.dump({"write": cases.get("write", [])}, f)
    print(f"check_torch: {failed} of {len(checks)} checks failed" if failed else
          f"check_torch: all {len(checks)} checks passed")
    return 1 if failed or not checks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
