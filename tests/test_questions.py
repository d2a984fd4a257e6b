from __future__ import annotations

import pytest

from rag.questions import accepted_labels, asks_for_a_thing, expected_labels, is_content_piece


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
