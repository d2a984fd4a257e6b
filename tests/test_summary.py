"""Summaries and overview answers: the summarizer's invariants, then overviews through the real pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from rag.summary import sentence_count, summarize


def test_summarize_keeps_article_order_skips_repeats_and_the_very_short():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(8, 16))
    vectors[3] = vectors[0] + 1e-3  # a repeat of the lead
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [20, 20, 2, 20, 20, 20, 20, 20]
    chosen = summarize(vectors, words, 3)
    assert chosen == sorted(chosen) and len(chosen) == 3
    assert not {0, 3} <= set(chosen) and 2 not in chosen


@pytest.mark.parametrize("total, count", [(1, 1), (2, 2), (12, 3), (40, 3), (60, 4), (200, 5)])
def test_three_to_five_sentences_by_length(total: int, count: int):
    assert sentence_count(total) == count


def test_overview_of_a_chosen_article_cites_its_sentences_in_order(kinds_assistant):
    index = kinds_assistant.index
    info = next(i for i in index.manifest.sources if i.source.endswith("museum-returns.txt"))
    text = index.article(info.source).text
    answer = kinds_assistant.ask("Summarize this article", article=info.doc_id)
    assert (answer.answer_kind, answer.found, answer.short_answer) == ("overview", True, None)
    assert len(answer.citations) == 3
    assert all(text[c.start:c.end] == c.text and c.doc_id == info.doc_id for c in answer.citations)
    assert [c.start for c in answer.citations] == sorted(c.start for c in answer.citations)
    assert "return 32 bronze sculptures" in answer.citations[0].text  # the lead
    assert answer.answer == " ".join(f"{c.text} [{c.n}]" for c in answer.citations)
    again = kinds_assistant.ask("What are the key points?", article=info.doc_id, k=5)
    assert 3 <= len(again.citations) <= 5 and again.timings_ms["total"] < 1000


def test_overview_of_several_articles_is_one_cited_sentence_each(kinds_assistant):
    answer = kinds_assistant.ask("What are these articles about?", k=5)
    sources = kinds_assistant.index.manifest.sources
    assert answer.answer_kind == "overview" and len(answer.citations) == len(sources) == 3
    assert {c.doc_id for c in answer.citations} == {i.doc_id for i in sources}
    for citation in answer.citations:
        assert kinds_assistant.index.article(citation.source).text[citation.start:citation.end] == citation.text
        assert f"{citation.title}: {citation.text} [{citation.n}]" in answer.answer


def test_an_article_named_in_an_overview_question_is_the_one_summarized(kinds_assistant):
    answer = kinds_assistant.ask("Summarize the story about the dockworkers' strike")
    assert answer.answer_kind == "overview" and answer.citations
    assert {c.source for c in answer.citations} == {next(i.source for i in kinds_assistant.index.manifest.sources
                                                         if i.source.endswith("port-strike.txt"))}
