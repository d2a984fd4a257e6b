from __future__ import annotations

import numpy as np
import pytest

from rag.index import load_index
from rag.matching import TokenMatcher


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



def test_word_rarity_is_counted_within_each_article(assistant):
    """A word piece found only in one article is rarer (weighs more) in the other, where it never occurs."""
    index = assistant.index
    half = len(index.sentences) // 2
    owners = (np.arange(len(index.sentences)) >= half).astype(np.int64)
    matcher = TokenMatcher(index.token_vectors, index.token_ids, index.token_offsets, assistant.encoder.vocabulary(),
                           owners)
    split = int(index.token_offsets[half])
    only_first = sorted(set(index.token_ids[:split].tolist()) - set(index.token_ids[split:].tolist()))
    piece = np.array(only_first[:1])
    assert len(piece) and matcher.idf(1, piece)[0] > matcher.idf(0, piece)[0]
    single = TokenMatcher(index.token_vectors, index.token_ids, index.token_offsets, assistant.encoder.vocabulary())
    assert np.allclose(single.idf(0, piece), np.log((len(index.sentences) + 1) / (
        len({n for n in range(len(index.sentences)) if piece[0] in index.token_ids[
            index.token_offsets[n]:index.token_offsets[n + 1]]}) + 0.5)))
