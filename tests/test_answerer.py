from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answerer import NOT_FOUND, UNSURE, Policy, answer_to_dict
from rag.errors import InputError


def assert_grounded(answer, text: str) -> None:
    for citation in answer.citations:
        assert text[citation.start:citation.end] == citation.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)
    if answer.short_answer is not None:
        assert answer.short_answer in text
    for piece in re.split(r"\s*\[\d+\]\s*|\n\n", answer.answer):
        assert not piece.strip() or piece.strip() in text or piece in (NOT_FOUND, UNSURE)


def test_the_readme_question_names_both_chairs(assistant):
    answer = assistant.ask("who chaired the Paris meeting?")
    text = assistant.index.articles[0].text
    assert answer.found
    assert "Carter" in answer.answer and "Le Drian" in answer.answer
    assert "co-chaired" in answer.citations[0].text
    assert_grounded(answer, text)
    assert len(answer.answer.split()) < 80


@pytest.mark.parametrize("question", [
    "What is the capital of Peru?",
    "How do I bake sourdough bread?",
    "What is the boiling point of water?",
    "What is the population of Paris?",
    "When?",
    "Why?",
])
def test_questions_the_article_cannot_answer_are_declined(assistant, question: str):
    answer = assistant.ask(question)
    assert not answer.found
    assert answer.answer == NOT_FOUND and answer.citations == () and answer.short_answer is None
    assert answer.short_start is None and answer.short_end is None


@pytest.mark.parametrize("question", ["How much will the campaign cost?", "Who is the leader of ISIS?"])
def test_plausible_questions_the_article_cannot_answer_are_never_answered_as_sure(assistant, question: str):
    answer = assistant.ask(question)
    assert not answer.sure
    assert answer.answer == NOT_FOUND or answer.answer.startswith(UNSURE + "\n\n")
    assert_grounded(answer, assistant.index.articles[0].text)


def test_an_unsure_reader_quotes_the_passage_under_a_warning_instead_of_a_short_answer(assistant, bundled_index_dir,
                                                                                        embedder):
    from rag.pipeline import Assistant
    from rag.settings import Settings

    question = "Where will the 27 defense ministers meet?"
    text = assistant.index.articles[0].text
    plain = assistant.ask(question)
    assert plain.found and plain.sure and plain.answer.startswith(plain.short_answer + "\n\n")
    wary = Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder,
                     policy=Policy(sure_above=1e9))
    unsure = wary.ask(question)
    assert unsure.found and not unsure.sure
    warning, quoted = unsure.answer.split("\n\n", 1)
    assert warning == UNSURE and plain.short_answer in quoted
    assert unsure.citations == plain.citations and unsure.short_answer == plain.short_answer
    assert_grounded(unsure, text)
    declined = assistant.ask("What is the capital of Peru?")
    assert not declined.found and not declined.sure


@pytest.mark.parametrize("question, short", [
    ("Where will the 27 defense ministers meet?", "Brussels"),
    ("When will US special operations forces be deployed?", "December"),
    ("How many defense ministers will meet in Brussels?", "27"),
    ("What is the name of the French aircraft carrier?", "Charles de Gaulle"),
])
def test_short_answers_are_verbatim_spans_of_the_first_citation(assistant, question: str, short: str):
    answer = assistant.ask(question)
    assert answer.found and answer.short_answer and short in answer.short_answer
    assert len(answer.short_answer.split()) <= 6
    first = answer.citations[0]
    assert answer.short_answer == assistant.index.articles[0].text[answer.short_start:answer.short_end]
    assert first.start <= answer.short_start < answer.short_end <= first.end
    assert_grounded(answer, assistant.index.articles[0].text)


def test_k_limits_citations_and_json_has_the_documented_keys(assistant):
    answer = assistant.ask("What did Le Drian say about special forces?", k=1)
    assert len(answer.citations) == 1
    data = answer_to_dict(assistant.ask("What did Le Drian say about special forces?", k=5))
    assert set(data) == {"question", "answer", "short_answer", "found", "citations", "timings_ms",
                         "short_start", "short_end", "sure", "answer_kind", "generated", "model", "notice",
                         "unsupported", "quotes_dropped"}
    assert data["answer_kind"] == "quote"
    assert 1 <= len(data["citations"]) <= 5
    assert {"n", "source", "title", "start", "end", "text", "score"} <= set(data["citations"][0])
    assert data["timings_ms"]["total"] > 0


@pytest.mark.parametrize("question, message", [
    ("", "empty"), ("   \t\n", "empty"), ("?!?", "no words"), ("x" * 5000, "characters long"),
])
def test_bad_questions_are_refused_with_one_sentence(assistant, question: str, message: str):
    with pytest.raises(InputError, match=message):
        assistant.ask(question)


@pytest.mark.parametrize("question", [
    "who chaired\u200b the meeting\u202e?", "Wer leitete das Treffen in Paris?", "🎉🎉 who met? 🎉",
    "<script>alert(1)</script> who met?", "'; DROP TABLE articles; -- who met?", "who\x00 met\x07?",
])
def test_odd_questions_still_get_a_grounded_reply(assistant, question: str):
    answer = assistant.ask(question)
    assert_grounded(answer, assistant.index.articles[0].text)


def test_a_cost_is_a_number_with_its_currency_and_a_missing_fact_is_declined(tmp_path, embedder):
    from rag.articles import read_article
    from rag.build import update_index
    from rag.pipeline import Assistant
    from rag.settings import Settings

    page = read_article(Path(__file__).parent / "data" / "harbour-page.html")
    settings = Settings(index_dir=tmp_path / "index")
    update_index([page], settings.index_dir, embedder, settings)
    harbour = Assistant(settings, build_missing=False, embedder=embedder)
    assert harbour.ask("How much will the tunnel cost?").short_answer == "480 million euros"
    chair = harbour.ask("Who chaired the session?").short_answer
    assert chair and "Lena Brandt" in chair and len(chair.split()) <= 3
    assert not harbour.ask("What colour was the lighthouse painted?").found
