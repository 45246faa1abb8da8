"""The toolkit's models as torch.nn.Modules (see the package doc for the forward)."""
import math

import torch

from .config import (INIT_SCHEMES, STRATEGIES, GATES, _layer_configs, _layer_shapes, _one_of,
                     check_config, deep_config, moe_config)


def _act(z, a):
    if a == "relu":
        return torch.relu(z)
    if a == "linear":
        return z
    if a == "gelu":  # exact: z Phi(z)
        # Written out rather than F.gelu: the gelu backward of Debian's torch 1.13 reads
        # uninitialized memory on some inputs of deep models (gradients of 1e21 or NaN that
        # change from call to call); this form is deterministic and equal to 1 ulp.
        return 0.5 * z * (1.0 + torch.erf(z * 0.7071067811865476))
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
    [B, k] (gate `expert-choice`: each expert's tokens [m, c] and their gates) (a balancing rule reads the selection counts off the indices and updates
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
        if s["gate"] == "expert-choice":
            return (scores, *self._expert_choice(scores))
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

    def _expert_choice(self, scores):
        """Expert choice (arXiv 2202.09368): P = softmax(s) over the m experts; expert e takes the
        c = ceil(k B / m) tokens of largest P[:, e] (lower token first among ties), weighted by
        P[t, e]. Returns tokens [m, c] and gates [m, c]."""
        s = self.spec
        c = -(-s["k"] * scores.shape[0] // s["m"])
        probs_t = torch.softmax(scores, dim=1).T  # [m, B]
        tokens = torch.sort(probs_t.detach(), dim=1, descending=True, stable=True).indices[:, :c]
        gates = probs_t.gather(1, tokens)
        if s.get("routedScale", 1) != 1:
            gates = gates * s["routedScale"]
        return tokens, gates

    # The toolkit's balancing (lib/nn/balance.ts), for training in PyTorch: call `route(x)`
    # (or keep its outputs) and use these on the scores and selected experts.

    def loads(self, idx):
        """Token-slots routed to each expert, [m] (float counts, no gradient)."""
        return torch.bincount(idx.reshape(-1), minlength=self.spec["m"]).to(
            self.router.weight.dtype)

    def aux_loss(self, scores, idx, alpha):
        """alpha m sum_i f_i P_i (Switch Transformer, arXiv 2101.03961): f_i the fraction of the
        B k token-slots routed to expert i, P_i the batch mean of expert i's router probability
        (softmax of the scores; sigma(s) normalized over the m experts for `sigmoid-topk`)."""
        if self.spec["gate"] == "expert-choice":
            raise ValueError("auxLoss: not with gate expert-choice "
                             "(its loads are balanced by construction)")
        m = self.spec["m"]
        f = self.loads(idx) / idx.numel()
        if self.spec["gate"] == "sigmoid-topk":
            a = torch.sigmoid(scores)
            prob = a / a.sum(1, keepdim=True)
        else:
            prob = torch.softmax(scores, dim=1)
        return alpha * m * (f * prob.mean(0)).sum()

    @staticmethod
    def z_loss(scores, beta):
        """beta mean_t logsumexp(s_t)^2 (ST-MoE, arXiv 2202.08906)."""
        return beta * (torch.logsumexp(scores, dim=1) ** 2).mean()

    @torch.no_grad()
    def balance_select_bias_(self, idx, rate):
        """Aux-loss-free balancing (DeepSeek-V3, arXiv 2412.19437), after an optimizer step:
        b_i += rate * sign(mean load - load_i), loads counted on that step's selection."""
        if not self.spec.get("selectBias"):
            raise ValueError("biasRate: needs a layer with a selection bias (selectBias: true)")
        loads = self.loads(idx)
        self.router.select_bias += rate * torch.sign(loads.mean() - loads)

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
        ec = s["gate"] == "expert-choice"  # idx, gates: each expert's tokens [m, c]
        full = None
        if strategy == "dense" or s["activation"] == "constant":
            # [B, m]: 0 for the (token, expert) pairs not selected
            if ec:
                full = torch.zeros(m, x.shape[0], dtype=x.dtype, device=x.device)
                full = full.scatter(1, idx, gates).T
            else:
                full = torch.zeros(x.shape[0], m, dtype=x.dtype, device=x.device)
                full = full.scatter(1, idx, gates)
        if s["activation"] == "constant":  # expert j outputs v_j = A_j 1 + e_j
            v = w2.reshape(m, w, d_out).sum(1)
            if bias:
                v = v + b2
            if strategy == "dense" or ec:
                return full @ v
            return (v[idx] * gates[..., None]).sum(1)
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
            if ec:
                tok, gj = idx[j], gates[j, :, None]
            else:
                tok, rank = (idx == j).nonzero(as_tuple=True)
                gj = gates[tok, rank, None]
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
            y = y.index_add(0, tok, gj * yj)
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
