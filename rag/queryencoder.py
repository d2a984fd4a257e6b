"""Query encoder: the same model as the Embedder, run with onnxruntime for a fast cold start.

Loading sentence-transformers costs seconds (torch, transformers); a question
needs one small forward pass. So the first time a model is used, the Embedder
exports its transformer to ONNX (``export_onnx``), and from then on questions
are encoded here with onnxruntime and the model's own ``tokenizers`` file:
imports and session take about 0.4 s instead of 6 s. Vectors match
sentence-transformers' to a cosine of 0.9999 (tests/test_queryencoder.py).
Only models whose pooling is a plain mean are exported; others keep using the
Embedder. This module never imports torch.

onnxruntime is imported, and its session made, on the first question in each
process (``sessions.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .embedder import prepare
from .sessions import LazySession

FORMAT = "rag-onnx v1"
BATCH = 8


def cache_dir() -> Path:
    """Return where ONNX exports are kept: ``RAG_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get("RAG_CACHE_DIR"):
        return Path(os.environ["RAG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rag-news"


def export_folder(model_id: str) -> Path:
    """Return the folder that holds (or will hold) the ONNX export of ``model_id``."""
    return cache_dir() / "onnx" / hashlib.sha1(model_id.encode("utf-8")).hexdigest()[:16]


class OnnxEncoder:
    """Encodes questions with an ONNX export; the same API as Embedder.embed."""

    def __init__(self, folder: Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown export format {meta.get('format')!r}")
        if not (folder / "model.onnx").stat().st_size:
            raise ValueError("the exported model is empty")
        self.model_id: str = meta["model_id"]
        self.dimension: int = int(meta["dimension"])
        self.max_length: int = int(meta["max_length"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding()
        self.session = LazySession(folder / "model.onnx", threads)

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return one mean-pooled, L2-normalized float32 row per text, as the Embedder does.

        Many texts are run in batches of similar length, so little time goes to padding.
        """
        if len(texts) <= BATCH:
            return self._embed(texts)
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        parts = [self._embed([texts[n] for n in order[at:at + BATCH]]) for at in range(0, len(order), BATCH)]
        return np.vstack(parts)[np.argsort(order)]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch = self.tokenizer.encode_batch([prepare(text) for text in texts])
        ids = np.array([item.ids for item in batch], dtype=np.int64)
        mask = np.array([item.attention_mask for item in batch], dtype=np.int64)
        hidden = self.session.run({"input_ids": ids, "attention_mask": mask,
                                   "token_type_ids": np.zeros_like(ids)})[0].astype(np.float32)
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def load_onnx_encoder(model_id: str, threads: int = 0) -> OnnxEncoder | None:
    """Return the ONNX encoder of ``model_id`` if an export exists and loads, else None."""
    folder = export_folder(model_id)
    if not (folder / "meta.json").is_file():
        return None
    try:
        return OnnxEncoder(folder, threads)
    except Exception:  # a damaged or foreign export: the Embedder still works, and re-exports
        return None
