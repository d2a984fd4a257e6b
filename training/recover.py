"""Recover trainable float weights from a shipped int8 reader (``rag/models/reader/model.onnx``).

Dynamic quantization keeps every matrix as int8 with a scale and zero point
per output channel, and every other tensor (biases, layer norms) as float, so
``(q - zero_point) * scale`` gives back a network within rounding of the one
exported. A later training stage can start from the shipped model this way
when the run that made it is not at hand. Names come from the export: a
quantized MatMul's output is named after the module it came from.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def weights_from_onnx(path: Path) -> dict[str, torch.Tensor]:
    """Return a ReaderNet state dict dequantized from the int8 ONNX reader at ``path``."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith("_quantized") and name.startswith("encoder.embeddings."):
            stem = name[:-len("_quantized")]
            state[stem] = _dequantize(value, tensors[stem + "_scale"], tensors[stem + "_zero_point"], axis=0)
        elif not name.startswith("onnx::") and not name.endswith(("_scale", "_zero_point", "_quantized")):
            state[name] = value
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        weight = node.input[1]
        stem = weight[:-len("_quantized")]
        module = node.output[0].split("/MatMul_output")[0].strip("/").replace("/", ".")
        matrix = _dequantize(tensors[weight], tensors[stem + "_scale"], tensors[stem + "_zero_point"], axis=1)
        state[module + ".weight"] = matrix.T
    return {name: torch.from_numpy(np.array(value, dtype=np.float32)) for name, value in state.items()}


def _dequantize(values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int) -> np.ndarray:
    """Return ``(values - zero_point) * scale`` with per-channel parameters along ``axis`` (or one for all)."""
    shape = [1] * values.ndim
    if scale.size > 1:
        shape[axis] = scale.size
    return (values.astype(np.float32) - zero_point.astype(np.float32).reshape(shape)) * scale.reshape(shape)
