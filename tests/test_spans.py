"""Short answers keep whole brackets, quotes and lists of names; the answer path uses them through the reader."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from rag.spans import tidy, whole_list

TEXT = ("Carter and French Defense Minister Jean-Yves Le Drian co-chaired a meeting with Australia, Britain, "
        "Germany, Italy and the Netherlands; it cost 260.75bn roubles ($3.37bn; £2.7bn) and (Cristiano) Ronaldo "
        "and (Ryan) Giggs called it \"a very good day\" on Monday.")


def span(text: str, first: str, last: str) -> tuple[int, int]:
    start = text.index(first)
    return start, text.index(last, start) + len(last)


@pytest.mark.parametrize("first, last, expected", [
    ("260.75bn", "$3.37bn", "260.75bn roubles ($3.37bn; £2.7bn)"),  # an open bracket is closed
    ("Cristiano", "(Ryan", "(Cristiano) Ronaldo and (Ryan)"),  # a closing one gets its opener
    ("\"a very", "good", "\"a very good day\""),  # a straight quote is closed
    ("Monday", "Monday", "Monday"),
    ("Giggs called", "it \"a", "Giggs called it \"a very good day\""),  # a quote opened is taken in whole
    ("Netherlands; it", "cost", "Netherlands; it cost"),
    ("Italy", "Italy and the", "Italy"),  # a dangling "and the" goes
])
def test_tidy_closes_or_cuts_what_the_span_opens(first, last, expected):
    start, end = tidy(TEXT, *span(TEXT, first, last), 0, len(TEXT))
    assert TEXT[start:end] == expected


@pytest.mark.parametrize("name, expected", [
    ("Jean-Yves Le Drian", "Carter and French Defense Minister Jean-Yves Le Drian"),
    ("Carter", "Carter and French Defense Minister Jean-Yves Le Drian"),
    ("Germany", "Australia, Britain, Germany, Italy and the Netherlands"),
    ("Netherlands", "Australia, Britain, Germany, Italy and the Netherlands"),
    ("Monday", None),
    ("roubles", None),  # not a name
])
def test_whole_list_finds_the_list_a_name_belongs_to(name, expected):
    start = TEXT.index(name)
    found = whole_list(TEXT, start, start + len(name), 0, len(TEXT))
    assert (TEXT[found[0]:found[1]] if found else None) == expected


@given(st.text(alphabet="ab ()[]\"“”,.and", max_size=40), st.data())
def test_tidy_only_moves_edges_within_the_sentence(text, data):
    if not text:
        return
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    new_start, new_end = tidy(text, start, end, 0, len(text))
    assert 0 <= new_start < new_end <= len(text)


def test_the_readme_question_gets_both_chairs_as_its_short_answer():
    import rag

    answer = rag.ask("who chaired the Paris meeting?")
    assert "Carter" in answer.short_answer and "Le Drian" in answer.short_answer
    quoted = answer.citations[0]
    assert quoted.start <= answer.short_start < answer.short_end <= quoted.end
