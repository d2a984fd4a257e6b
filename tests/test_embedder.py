from __future__ import annotations

import numpy as np
import pytest

from rag.embedder import Embedder, model_id
from rag.errors import ModelError


def test_vectors_are_normalized_float32(embedder):
    vectors = embedder.embed(["Carter met Le Drian in Paris.", "Caf\u00e9\u00a0news", "🎉"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_text(embedder):
    a, b, c = embedder.embed(["Who chaired the meeting?", "Carter co-chaired the meeting.", "Bread needs yeast."])
    assert a @ b > a @ c + 0.2


def test_fits_knows_the_model_limit(embedder):
    assert embedder.fits("word " * 200)
    assert not embedder.fits("word " * 300)


def test_default_model_id_and_unknown_model():
    assert model_id("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(ModelError, match="could not be loaded offline"):
        Embedder("no-such-org/no-such-model")
