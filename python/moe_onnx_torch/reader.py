"""Reading the toolkit's .onnx files into MoEModels."""
import json

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

from .config import (BATCH_DIM, FORMAT_VERSION, KINDS, METADATA_KEY, MODEL_FORMAT, _one_of,
                     check_config, param_shapes)
from .model import MoEModel

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
