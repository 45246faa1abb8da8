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
  sum 1); `expert-choice` (arXiv 2202.09368: P = softmax(s) over the m experts, each expert
  takes the c = ceil(k B / m) tokens of its batch with the largest P[:, e], ties to the lower
  token, with gate P[t, e]; a token no expert takes gets 0 from the routed experts); every gate
  times `routedScale` when the config has one;
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

For training with the toolkit's balancing (lib/nn/balance.ts), each `MoELayer` has
`route(x)` (scores, selected experts, gates), `aux_loss`, `z_loss` and `balance_select_bias_`
(the aux-loss-free bias update of DeepSeek-V3, arXiv 2412.19437).

`save` writes a model back in the toolkit's format (IR 8, opset 17, one input `x` [batch, dIn],
one output `y` [batch, dOut], the parameters as initializers, the metadata `importModel` reads), a
dense graph of standard ONNX ops that onnxruntime runs as is. A saved MoE layer can be a sweep's
`--teacher-file`.

Needs only the standard library, numpy, onnx (>= 1.12) and torch (>= 1.13). Files: config.py
(configs, layouts, the toolkit's checks), model.py (the modules), reader.py (`load`), writer.py
(`save`).
"""
from .config import (ACTIVATIONS, BATCH_DIM, DEEP_DEFAULTS, DEEP_FIELDS, FORMAT_VERSION, GATES,
                     INIT_SCHEMES, IR_VERSION, KINDS, METADATA_KEY, MODEL_FORMAT, MOE_DEFAULTS,
                     MOE_FIELDS, MOE_OPTIONAL_FIELDS, OPSET, STRATEGIES, TOOLKIT_VERSION,
                     check_config, deep_config, moe_config, param_shapes)
from .model import MoELayer, MoEModel, deep, moe
from .reader import from_onnx, load, metadata
from .writer import save, to_onnx

__all__ = [
    "ACTIVATIONS", "BATCH_DIM", "DEEP_DEFAULTS", "DEEP_FIELDS", "FORMAT_VERSION", "GATES",
    "INIT_SCHEMES", "IR_VERSION", "KINDS", "METADATA_KEY", "MODEL_FORMAT", "MOE_DEFAULTS",
    "MOE_FIELDS", "MOE_OPTIONAL_FIELDS", "OPSET", "STRATEGIES", "TOOLKIT_VERSION", "check_config",
    "deep_config", "moe_config", "param_shapes", "MoELayer", "MoEModel", "deep", "moe",
    "from_onnx", "load", "metadata", "save", "to_onnx",
]
