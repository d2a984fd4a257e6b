from __future__ import annotations

import pytest

from rag.index import load_index


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
