from __future__ import annotations

import pytest

from rag.errors import InputError
from rag.followup import Turn, check_history, condense, fill_in

EARLIER = [Turn("user", "What will US special operations forces do?"), Turn("assistant", "They deploy in December.")]


@pytest.mark.parametrize("question, leans_back", [
    ("When will they be deployed?", True),
    ("And why?", True),
    ("When?", True),
    ("What about Britain?", True),
    ("Which aircraft carrier is sailing in the Arabian Gulf?", False),
])
def test_only_questions_that_lean_back_borrow_the_last_user_question(question: str, leans_back: bool):
    query = condense(question, EARLIER)
    assert query.startswith(question)
    assert (query != question) == leans_back
    if leans_back:
        assert query.endswith("What will US special operations forces do?")


def test_no_history_means_the_question_alone():
    assert condense("When will they be deployed?", []) == "When will they be deployed?"
    assert condense("When?", [Turn("assistant", "Hello")]) == "When?"


@pytest.mark.parametrize("history, message", [
    ([Turn("system", "x")], "role"),
    ([Turn("user", "x")] * 51, "at most 50"),
    ([Turn("user", "x" * 30_000)], "characters"),
])
def test_bad_history_is_refused(history, message: str):
    with pytest.raises(InputError, match=message):
        check_history(history)


def test_history_changes_what_a_bare_follow_up_finds(assistant):
    alone = assistant.ask("When?")
    followed = assistant.ask("When?", history=[Turn("user", "Where will the 27 defense ministers meet?")])
    assert not alone.found
    assert followed.found and "three weeks" in followed.answer and followed.question == "When?"


def test_a_complete_question_is_not_answered_from_the_previous_topic(assistant):
    london = "Where will the core nations hold their follow-up meeting?"
    assert "London" in assistant.ask(london).answer
    answer = assistant.ask("Who chaired the Paris meeting?", history=[Turn("user", london)])
    alone = assistant.ask("Who chaired the Paris meeting?")
    assert answer.found and "co-chaired" in answer.citations[0].text and "London" not in answer.short_answer
    assert answer.citations == alone.citations  # the history changed nothing


@pytest.mark.parametrize("question, earlier, expected", [
    ("When?", "Where will the ministers meet?", "When will the ministers meet?"),
    ("and why?", "How did the plan change?", "Why did the plan change?"),
    ("When?", "Tell me about the plan.", "When?"),
    ("When will they meet?", "Where will the ministers meet?", "When will they meet?"),
])
def test_a_bare_question_word_borrows_the_previous_question(question: str, earlier: str, expected: str):
    assert fill_in(question, [Turn("user", earlier), Turn("assistant", "Somewhere.")]) == expected
    assert fill_in(question, []) == question
