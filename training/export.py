"""Export a trained reader to ONNX, quantize it to int8, and write the folder the runtime loads.

The folder holds ``model.onnx``, ``tokenizer.json`` and ``manifest.json``
(format, sha256 of the model, window size, training data and dev figures).
Dynamic int8 quantization (onnxruntime) of the matrix multiplications and the
embedding tables; the float export is kept beside it only for measuring.
The runtime reads one window per model run, never padded, so the exported
graph takes no attention mask (``unmasked``): the same outputs, a little faster.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path

import torch

from rag.reader import FORMAT, MAX_TOKENS

from .model import ReaderNet


def export_float(net: ReaderNet, path: Path, masked: bool = False) -> None:
    """Write ``net`` as an ONNX graph with dynamic batch and length; without an attention mask (so for unpadded
    windows only) unless ``masked``, the graph of readers before format v2."""
    net.eval()
    ids = torch.tensor([[101, 2054, 102, 1037, 2204, 102], [101, 2054, 102, 1037, 102, 0]])
    mask = (ids > 0).long()
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about code paths we don't use
        torch.onnx.export(net, (ids, mask, types), str(path), input_names=["input_ids", "attention_mask",
                          "token_type_ids"], output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "logits": axes})
    if not masked:
        unmasked(path)


def unmasked(path: Path) -> None:
    """Rewrite the ONNX reader at ``path`` without its attention mask, for unpadded windows (all ones).

    The mask's additions to the attention scores (zeros then) and the guard that zeroes a softmax row of NaN
    (a row with every token masked) are cut out, and so is ``attention_mask`` as an input: the outputs are
    the same to the bit, and a warm ask is about 5% faster (the mask's work is on every layer's
    tokens x tokens scores). Example: ``Add(scores, Where(mask, 0, -inf))`` becomes ``scores``.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    producer = {output: node for node in graph.node for output in node.output}

    def made_by(name: str, kind: str) -> bool:
        return name in producer and producer[name].op_type == kind

    replaced = {}
    for node in graph.node:
        if node.op_type == "Add" and "/attention/" in node.name and made_by(node.input[1], "Where"):
            replaced[node.output[0]] = node.input[0]
        elif node.op_type == "Where" and made_by(node.input[0], "IsNaN"):
            replaced[node.output[0]] = node.input[2]
    for node in graph.node:
        for number, name in enumerate(node.input):
            while name in replaced:
                name = replaced[name]
            node.input[number] = name
    needed, kept = {output.name for output in graph.output}, []
    for node in reversed(graph.node):  # keep only the nodes the outputs still need
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    if "attention_mask" in needed:
        raise ValueError(f"{path}: the attention mask is still used after taking its known uses out")
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inputs = [i for i in graph.input if i.name != "attention_mask"]
    del graph.input[:]
    graph.input.extend(inputs)
    onnx.save(model, str(path))


def quantize(source: Path, target: Path) -> None:
    """Write an int8 (dynamic, per-channel weights) copy of the ONNX model at ``source``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm", "Gather"])


def write_folder(model: Path, tokenizer: Path, folder: Path, figures: dict[str, object]) -> str:
    """Put ``model`` and ``tokenizer`` into ``folder`` with a manifest; return the model's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / "model.onnx")
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    manifest = {"format": FORMAT, "sha256": digest, "max_tokens": MAX_TOKENS,
                "made": time.strftime("%Y-%m-%d"), "figures": figures}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return digest
