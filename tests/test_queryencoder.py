"""The ONNX query encoder must give what sentence-transformers gives, so indexes built with one serve the other."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.articles import bundled_article, make_article
from rag.embedder import export_onnx
from rag.pipeline import Assistant
from rag.queryencoder import FORMAT, OnnxEncoder, export_folder, load_onnx_encoder
from rag.sentences import split_sentences
from rag.settings import Settings

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def onnx_encoder(embedder, tmp_path_factory) -> OnnxEncoder:
    folder = tmp_path_factory.mktemp("export") / "minilm"
    assert export_onnx(embedder, folder, FORMAT)
    return OnnxEncoder(folder)


@pytest.fixture(scope="module")
def real_sentences() -> list[str]:
    texts = []
    for article in (bundled_article(), make_article((DATA / "normans.txt").read_text(encoding="utf-8"), "n.txt")):
        texts += [article.text[s.start:s.end] for s in split_sentences(article)]
    texts += [line for line in (DATA / "paris_questions.jsonl").read_text(encoding="utf-8").splitlines()][:20]
    assert len(texts) >= 200
    return texts


def test_vectors_match_sentence_transformers(embedder, onnx_encoder, real_sentences):
    reference = embedder.embed(real_sentences)
    fast = onnx_encoder.embed(real_sentences)
    cosines = (reference * fast).sum(axis=1)
    assert cosines.min() >= 0.999, cosines.min()
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_model_id_and_shape(embedder, onnx_encoder):
    assert onnx_encoder.model_id == embedder.model_id and onnx_encoder.dimension == 384
    assert onnx_encoder.embed([]).shape == (0, 384)


def test_assistant_uses_an_export_made_on_first_use(bundled_index_dir, embedder, model_cache):
    first = Assistant(Settings(index_dir=bundled_index_dir), build_missing=False)
    assert isinstance(first.encoder, OnnxEncoder)
    assert (export_folder(embedder.model_id) / "model.onnx").is_file()
    reference = Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder)
    for question in ("who chaired the Paris meeting?", "Which aircraft carrier is in the Gulf?",
                     "What is the capital of Peru?"):
        fast, slow = first.ask(question), reference.ask(question)
        assert (fast.answer, fast.found, [c.start for c in fast.citations]) == \
               (slow.answer, slow.found, [c.start for c in slow.citations])


def test_missing_or_damaged_exports_are_ignored():
    assert load_onnx_encoder("test/never-exported") is None
    folder = export_folder("test/damaged")
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text("{broken", encoding="utf-8")
    assert load_onnx_encoder("test/damaged") is None
