"""Answers by kind through the real pipeline: lists, explanations, yes/no; short facts unchanged."""
from __future__ import annotations

from rag.answerer import UNSURE, compose_answer
from rag.kinds import analyse


def grounded(assistant, answer) -> None:
    for citation in answer.citations:
        assert assistant.index.article(citation.source).text[citation.start:citation.end] == citation.text


def test_a_list_that_runs_over_two_sentences_is_cited_whole(kinds_assistant):
    answer = kinds_assistant.ask("What are the three objectives of the military plan?")
    assert answer.answer_kind == "list" and answer.found
    texts = [c.text for c in answer.citations]
    assert texts[0].startswith("The military plan has three key objectives")
    assert texts[1].startswith('"Combat the metastasis')
    assert not answer.answer.startswith((answer.short_answer or "-") + "\n\n")  # one objective is not all three
    grounded(kinds_assistant, answer)


def test_a_list_in_one_sentence(kinds_assistant):
    answer = kinds_assistant.ask("Which countries took part in the meeting?")
    assert answer.answer_kind == "list"
    assert "Australia, Britain, Germany, Italy and the Netherlands" in answer.citations[0].text
    grounded(kinds_assistant, answer)


def test_why_quotes_the_sentence_that_gives_the_reason_first(kinds_assistant):
    answer = kinds_assistant.ask("Why was the meeting held in Paris?")
    assert answer.answer_kind == "explanation"
    assert "which is why the meeting of the seven nations was held here" in answer.citations[0].text
    grounded(kinds_assistant, answer)


def test_yes_no_quotes_the_evidence_without_a_short_answer_above(kinds_assistant):
    answer = kinds_assistant.ask("Did everyone welcome the museum's decision?")
    assert answer.answer_kind == "yesno" and answer.found
    assert not answer.short_answer or not answer.answer.startswith(answer.short_answer + "\n\n")
    grounded(kinds_assistant, answer)


def test_a_short_fact_takes_exactly_the_short_fact_path(kinds_assistant):
    question = "Who chaired the Paris meeting?"
    assistant = kinds_assistant
    answer = assistant.ask("Where will the core nations meet next?")
    assert answer.answer_kind == "fact"
    timings = {"embed": 0.0, "retrieve": 0.0, "read": 0.0}
    findings = assistant._find(question, question, 8, None, assistant._loaded, timings, assistant.plan)
    from rag.compose import compose
    asked = analyse(question)
    assert asked.kind == "fact" and asked.read == question
    assert compose(asked, findings, assistant.index, 3, assistant.policy) == \
        compose_answer(asked, findings, assistant.index, 3, assistant.policy)


def test_a_list_questions_bold_answer_is_a_whole_list_or_nothing(assistant):
    answer = assistant.ask("Which countries took part?")
    assert answer.answer_kind == "list" and answer.citations
    headline = answer.answer.split("\n\n")[0]
    if answer.sure and not headline.endswith("]"):  # a bold short answer above the quotes: it must be a list
        assert any(mark in headline for mark in (",", " and ", " or "))
    if not answer.sure:  # hedged: the warning, then the quotes, and no short answer above them
        assert headline == UNSURE and answer.answer.split("\n\n")[1].endswith("]")
    text = assistant.index.article(answer.citations[0].source).text
    assert all(text[c.start:c.end] == c.text for c in answer.citations)
