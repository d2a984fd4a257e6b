"""The support checks (rag.support): what a question asks for, and an answer that fails a check is hedged."""
from __future__ import annotations

import dataclasses

import pytest

from rag.answerer import UNSURE, Policy
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.needs import needs
from rag.support import CHECKS, kind_agrees


@pytest.mark.parametrize("question, kind, terms", [
    ("How much is Halvorsen paying for Carrow?", "money", ("halvorsen", "carrow")),
    ("How much will the repairs cost?", "money", ()),
    ("How much bottled water can each household collect?", "quantity", ()),
    ("How much did prices rise?", "number", ()),
    ("How long does the planet take to orbit its star?", "duration", ()),
    ("How many turbines will the 2027 wind farm have?", "number", ("2027",)),
    ("On which day did the water main burst?", "date", ()),
    ("When did Hervé serve as a Byzantine general?", "date", ("herv", "byzantin")),
    ("Who is Carrow's lawyer?", "person", ("carrow",)),
    ('Which culture\'s arrival is known as the "Davidian Revolution"?', "", ("davidian", "revolut")),
    ("Why did the cost grow?", "", ()),
])
def test_what_a_question_asks_for(question: str, kind: str, terms: tuple[str, ...]):
    asked = needs(question)
    assert asked.kind == kind and asked.terms == terms and asked.text == question


def test_accents_and_generic_counts():
    assert needs("When did Herve serve?").terms == needs("When did Hervé serve?").terms
    assert needs("How many cars will each ferry carry?").counted == ("car",)
    assert needs("How many main goals does it set?").counted == ("main", "goal")
    assert needs("How many people donated?").counted == ()  # any noun counts people


@pytest.mark.parametrize("kind, span, unit, agrees", [
    ("money", "80 million", "80 million pounds.", True),  # the currency just after the span
    ("money", "38%", "38% premium", False),
    ("quantity", "up to 12 litres a day", "", True),
    ("quantity", "£30", "£30", False),  # how much water: not an amount of money
    ("duration", "27 days", "", True),
    ("duration", "97 light years", "", False),  # a distance
    ("number", "eleven", "", True),
    ("date", "Saturday afternoon", "", True),
    ("date", "Redbridge", "", False),
    ("person", "Eleanor Voss", "", True),
    ("person", "city-owned operator", "", False),
    ("", "anything", "", True),
])
def test_kind_agreement(kind: str, span: str, unit: str, agrees: bool):
    assert kind_agrees(kind, span, unit) is agrees


@pytest.fixture(scope="module")
def sure_at_any_margin(bundled_index_dir, embedder) -> Assistant:
    """The bundled index with the reader's lines out of the way: only the support checks can hedge an answer."""
    return Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder,
                     policy=Policy(answer_above=float("-inf"), sure_above=float("-inf"), off_topic_below=None))


def test_an_answer_about_something_the_article_never_names_is_hedged_not_sure(sure_at_any_margin):
    """Whatever span the reader picks, the question's name is nowhere near it: hedged, with the same quotes."""
    assistant = sure_at_any_margin
    question = "Who chaired the Halvorsen meeting?"
    text = assistant.index.articles[0].text
    unchecked = dataclasses.replace(assistant.policy, checks=())
    checked = assistant.ask(question)
    assistant.policy, shipped = unchecked, assistant.policy
    try:
        plain = assistant.ask(question)
    finally:
        assistant.policy = shipped
    assert plain.found and plain.sure
    assert checked.found and not checked.sure and checked.answer.startswith(UNSURE + "\n\n")
    assert checked.citations == plain.citations and checked.short_answer == plain.short_answer
    for citation in checked.citations:
        assert text[citation.start:citation.end] == citation.text


def test_a_plain_supported_answer_stays_sure(assistant, sure_at_any_margin):
    for asker in (assistant, sure_at_any_margin):  # the shipped policy, and the checks alone
        answer = asker.ask("Where will the 27 defense ministers meet?")
        assert answer.found and answer.sure and answer.short_answer == "Brussels"
        assert answer.answer.startswith("Brussels\n\n")
        text = asker.index.articles[0].text
        assert all(text[c.start:c.end] == c.text for c in answer.citations)


def test_the_shipped_policy_names_known_checks():
    assert set(Policy().checks) <= set(CHECKS)
