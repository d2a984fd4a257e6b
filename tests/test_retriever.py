from __future__ import annotations

import numpy as np
import pytest

from rag.index import load_index
from rag.stores.folder import top


@pytest.mark.parametrize("question, needle", [
    ("What is Task Force 50?", "Task Force 50"),
    ("101st Airborne", "101st Airborne Division"),
    ("Which aircraft carrier is sailing in the Arabian Gulf?", "Charles de Gaulle"),
    ("What did the defense chiefs say about working together with American commandos?", "get on very well"),
])
def test_names_numbers_and_paraphrases_are_in_the_first_passages(assistant, question: str, needle: str):
    vector = assistant.encoder.embed([question])[0]
    passages = assistant.retriever.retrieve(question, vector, 3)
    assert [p.rank for p in passages] == [1, 2, 3]
    assert passages[0].score >= passages[1].score >= passages[2].score
    assert any(needle in p.chunk.text for p in passages)


def test_passages_carry_citation_data(assistant, bundled_index_dir):
    index = load_index(bundled_index_dir)
    vector = assistant.encoder.embed(["Where will the next meeting be held?"])[0]
    for passage in assistant.retriever.retrieve("Where will the next meeting be held?", vector, 5):
        assert passage.title == "Paris coalition meeting" and len(passage.doc_id) == 12
        assert index.article(passage.chunk.source).text[passage.chunk.start:passage.chunk.end] == passage.chunk.text
        assert index.chunks[passage.number] == passage.chunk
        assert [number for number, _ in passage.sentences] == list(range(*index.chunk_sentences[passage.number]))
        for number, sentence in passage.sentences:
            assert index.sentences[number] == sentence
            assert passage.chunk.start < sentence.end and sentence.start < passage.chunk.end
        assert passage.dense == pytest.approx(float(index.chunk_vectors.reconstruct(passage.number) @ vector), abs=1e-5)


@pytest.mark.parametrize("size", [10, 300, 5000])
def test_top_scores_come_in_argsort_order(size: int):
    scores = np.random.default_rng(size).integers(0, 7, size).astype(np.float32)  # many ties
    assert np.array_equal(top(scores, 50), np.argsort(-scores, kind="stable")[:50])
