from __future__ import annotations

import pytest

from rag.questions import (accepted_labels, asks_for_a_thing, asks_for_words, asks_how_or_why, expected_labels,
                           is_content_piece, is_wrong_kind_of_date)
from rag.shortanswer import quotation


@pytest.mark.parametrize("question, first_label", [
    ("How many defense ministers will meet?", "CARDINAL"),
    ("How many years did it last?", "DATE"),
    ("When will they deploy?", "DATE"),
    ("In which year was it founded?", "DATE"),
    ("Where is the carrier sailing?", "GPE"),
    ("Which Iraqi city is targeted?", "GPE"),
    ("Who was the leader when the Franks arrived?", "PERSON"),
    ("Which defense minister co-chaired it?", "PERSON"),
    ("Which aircraft carrier is in the Gulf?", "PRODUCT"),
    ("What was the name of Bohemond's nephew?", "PERSON"),
    ("Which count ruled Apulia?", "PERSON"),
    ("What is the population of Rouen?", "CARDINAL"),
    ("What is the name of the ship?", "PERSON"),
])
def test_the_first_wh_word_and_its_noun_decide_the_answer_type(question: str, first_label: str):
    assert expected_labels(question)[0] == first_label
    assert set(expected_labels(question)) <= set(accepted_labels(question))


@pytest.mark.parametrize("question, open_phrase", [
    ("What did Washington request from the partners?", True),
    ("Which capability is on the list?", True),
    ("What did Le Drian say about the special forces?", False),
    ("How did Carter characterize American opinion?", False),
    ("Why were the nations brought together?", False),
])
def test_noun_phrase_answers_only_for_what_and_which(question: str, open_phrase: bool):
    assert asks_for_a_thing(question) == open_phrase


def test_content_pieces():
    assert is_content_piece("carrier") and is_content_piece("##ly") and is_content_piece("50")
    assert not is_content_piece("the") and not is_content_piece("?") and not is_content_piece("which")


@pytest.mark.parametrize("question, accepted", [
    ("What is the estimated cost of the campaign?", {"MONEY", "CARDINAL"}),  # a number with a currency
    ("How much did the new carrier cost?", {"MONEY", "CARDINAL"}),
    ("Who is the commander of US Central Command?", {"PERSON", "PROPN"}),  # a name the entity model missed
    ("At what venue did the ministers meet?", {"FAC", "ORG", "LOC"}),
    ("On what exact date will they meet?", {"DATE", "TIME"}),
])
def test_narrow_types_make_a_question_declinable(question: str, accepted: set[str]):
    assert set(accepted_labels(question)) == accepted


def test_a_noun_after_an_auxiliary_is_the_subject_not_the_answer_type():
    assert accepted_labels("What did the ministers promise to review?") == ()
    assert "PERSON" in accepted_labels("Which minister co-chaired the meeting?")


def test_a_length_of_time_is_not_a_date():
    assert is_wrong_kind_of_date("On what date will they meet?", "three weeks")
    assert is_wrong_kind_of_date("What was the exact date of the talks?", "a few days")
    assert not is_wrong_kind_of_date("On what date will they meet?", "Nov. 13")
    assert not is_wrong_kind_of_date("When will they meet?", "three weeks")


@pytest.mark.parametrize("question, wanted", [
    ("What did Le Drian say about the special forces?", True),
    ("What remark did Carter make on the ship?", True),
    ("How did Carter characterize American opinion?", True),
    ("Who said the plan was sound?", False),
    ("What did Washington request?", False),
])
def test_questions_about_what_was_said(question: str, wanted: bool):
    assert asks_for_words(question) == wanted


@pytest.mark.parametrize("sentence, quoted", [
    ('"We agreed we all must do more," he said.', "We agreed we all must do more"),
    ("Carter said, \u201cWe are all one family.\u201d", "We are all one family"),
    ('He said: "It goes on into the next sentence', "It goes on into the next sentence"),
    ('we have the funding and we are grateful." he said.', "we have the funding and we are grateful"),
    ('It has "a" and "a longer one" in it.', "a longer one"),
    ("There is no quotation here.", None),
])
def test_quotations_are_found_without_their_marks(sentence: str, quoted: str | None):
    text = "Before. " + sentence + " After."
    span = quotation(text, 8, 8 + len(sentence))
    assert (text[span[0]:span[1]] if span else None) == quoted


@pytest.mark.parametrize("question, kind", [
    ("How will the plan collapse the ISIL core?", "how"),
    ("Why was the meeting held in Paris?", "why"),
    ("And why did they meet?", "why"),
    ("How many ministers met?", None),
    ("How long will it take?", None),
    ("Who met in Paris?", None),
])
def test_how_and_why_questions(question: str, kind: str | None):
    assert asks_how_or_why(question) == kind
