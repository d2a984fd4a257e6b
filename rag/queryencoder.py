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
process: importing it starts a thread, and a process forked after that (a
gunicorn worker under ``--preload``) hangs or aborts in onnxruntime's exit
handlers, waiting for a thread it does not have.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from .embedder import Encoded, prepare

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
    """Encodes questions with an ONNX export; the same API as Embedder.encode."""

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
        self.folder, self.threads = folder, threads
        self._session: object = None
        self._opening = threading.Lock()

    @property
    def session(self):  # type: ignore[no-untyped-def]
        """The onnxruntime session of this process, made (and onnxruntime imported) on first use."""
        with self._opening:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                if self.threads > 0:
                    options.intra_op_num_threads = self.threads
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options,
                                                             providers=["CPUExecutionProvider"])
            return self._session

    def encode(self, texts: list[str], progress: bool = False) -> Encoded:
        """Return mean-pooled, normalized vectors and normalized word-piece vectors, as the Embedder does.

        Many texts are run in batches of similar length, so little time goes to padding.
        """
        if len(texts) <= BATCH:
            return self._encode(texts)
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        parts = [self._encode([texts[n] for n in order[at:at + BATCH]]) for at in range(0, len(order), BATCH)]
        place = np.argsort(order)
        token_vectors = [rows for part in parts for rows in part.token_vectors]
        token_ids = [ids for part in parts for ids in part.token_ids]
        return Encoded(np.vstack([part.vectors for part in parts])[place], [token_vectors[n] for n in place],
                       [token_ids[n] for n in place])

    def _encode(self, texts: list[str]) -> Encoded:
        if not texts:
            return Encoded(np.zeros((0, self.dimension), dtype=np.float32), [], [])
        batch = self.tokenizer.encode_batch([prepare(text) for text in texts])
        ids = np.array([item.ids for item in batch], dtype=np.int64)
        mask = np.array([item.attention_mask for item in batch], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                         "token_type_ids": np.zeros_like(ids)})[0].astype(np.float32)
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        vectors = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        token_vectors, token_ids = [], []
        for row, length in zip(range(len(texts)), mask.sum(axis=1)):
            tokens = hidden[row, 1:int(length) - 1]
            token_vectors.append(tokens / np.maximum(np.linalg.norm(tokens, axis=1, keepdims=True), 1e-12))
            token_ids.append(ids[row, 1:int(length) - 1].astype(np.int32))
        return Encoded(vectors.astype(np.float32), token_vectors, token_ids)

    def vocabulary(self) -> list[str]:
        """Return the word pieces, indexed by id."""
        pieces = self.tokenizer.get_vocab(with_added_tokens=True)
        vocabulary = [""] * (max(pieces.values()) + 1)
        for piece, number in pieces.items():
            vocabulary[number] = piece
        return vocabulary


def load_onnx_encoder(model_id: str, threads: int = 0) -> OnnxEncoder | None:
    """Return the ONNX encoder of ``model_id`` if an export exists and loads, else None."""
    folder = export_folder(model_id)
    if not (folder / "meta.json").is_file():
        return None
    try:
        return OnnxEncoder(folder, threads)
    except Exception:  # a damaged or foreign export: the Embedder still works, and re-exports
        return None
