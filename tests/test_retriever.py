from __future__ import annotations

import numpy as np
import pytest

from rag.articles import bundled_article
from rag.build import update_index
from rag.index import load_index
from rag.matching import TokenMatcher
from rag.retriever import Retriever
from rag.settings import Settings
from rag.stores.folder import FolderSnapshot, top


@pytest.mark.parametrize("question, needle", [
    ("What is Task Force 50?", "Task Force 50"),
    ("101st Airborne", "101st Airborne Division"),
    ("Which aircraft carrier is sailing in the Arabian Gulf?", "Charles de Gaulle"),
    ("What did the defense chiefs say about working together with American commandos?", "get on very well"),
])
def test_names_numbers_and_paraphrases_are_found_first(assistant, question: str, needle: str):
    encoded = assistant.encoder.encode([question])
    passages = assistant.retriever.retrieve(question, encoded, 3)
    assert [p.rank for p in passages] == [1, 2, 3]
    assert passages[0].score >= passages[1].score >= passages[2].score
    best = max((s for p in passages for s in p.sentences), key=lambda s: s.score)
    text = assistant.index.articles[0].text
    assert needle in text[best.start:best.end]


def test_passages_carry_citation_data(assistant, bundled_index_dir):
    index = load_index(bundled_index_dir)
    encoded = assistant.encoder.encode(["Where will the next meeting be held?"])
    for passage in assistant.retriever.retrieve("Where will the next meeting be held?", encoded, 5):
        assert passage.title == "Paris coalition meeting" and len(passage.doc_id) == 12
        assert index.article(passage.chunk.source).text[passage.chunk.start:passage.chunk.end] == passage.chunk.text
        for sentence in passage.sentences:
            assert passage.chunk.start < sentence.end and sentence.start < passage.chunk.end


@pytest.mark.parametrize("question", [
    "who chaired the Paris meeting?", "Which aircraft carrier is in the Gulf?", "What is Task Force 50?",
    "When will they meet again?"])
def test_sentences_encoded_at_query_time_score_like_stored_ones(tmp_path, embedder, assistant, question: str):
    settings = Settings(index_dir=tmp_path / "index", query_time_from=1)
    update_index([bundled_article()], settings.index_dir, embedder, settings)
    query_time = Retriever(FolderSnapshot.of(load_index(settings.index_dir)), assistant.encoder)
    assert query_time.index.sentence_vectors is None and assistant.retriever.index.sentence_vectors is not None
    encoded = assistant.encoder.encode([question])
    stored = assistant.retriever.retrieve(question, encoded, 8)
    computed = query_time.retrieve(question, encoded, 8)
    assert [p.chunk for p in stored] == [p.chunk for p in computed]
    for a, b in zip(stored, computed):
        assert [s.number for s in a.sentences] == [s.number for s in b.sentences]
        assert np.allclose([s.score for s in a.sentences], [s.score for s in b.sentences], atol=5e-3)
        assert np.allclose([s.dense for s in a.sentences], [s.dense for s in b.sentences], atol=2e-3)


@pytest.mark.parametrize("size", [10, 300, 5000])
def test_top_scores_come_in_argsort_order(size: int):
    scores = np.random.default_rng(size).integers(0, 7, size).astype(np.float32)  # many ties
    assert np.array_equal(top(scores, 50), np.argsort(-scores, kind="stable")[:50])


def test_word_rarity_is_counted_within_each_article(assistant):
    """A word piece found only in one article is rarer (weighs more) in the other, where it never occurs."""
    index = assistant.index
    count, half = len(index.sentences), len(index.sentences) // 2
    vocabulary = assistant.encoder.vocabulary()

    def pieces(starts):
        return lambda a: {n: np.asarray(index.token_ids[index.token_offsets[n]:index.token_offsets[n + 1]])
                          for n in range(starts[a], starts[a + 1])}

    matcher = TokenMatcher(pieces([0, half, count]), vocabulary)
    split = int(index.token_offsets[half])
    only_first = sorted(set(index.token_ids[:split].tolist()) - set(index.token_ids[split:].tolist()))
    piece = np.array(only_first[:1])
    assert len(piece) and matcher.idf(1, piece)[0] > matcher.idf(0, piece)[0]
    single = TokenMatcher(pieces([0, count]), vocabulary)
    holding = sum(piece[0] in index.token_ids[index.token_offsets[n]:index.token_offsets[n + 1]] for n in range(count))
    assert np.allclose(single.idf(0, piece), np.log((count + 1) / (holding + 0.5)))
