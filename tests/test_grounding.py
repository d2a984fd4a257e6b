"""Checking an LLM's quotes: where a quote is found (whitespace and quote marks only), how a reply is read."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.grounding import _normalized, locate
from rag.llm import Claim, WriterError, _AnswerField, free_text_claims, read_reply, sentence_spans

TEXT = ('Carter and French Defense Minister Jean-Yves Le Drian co-chaired a meeting.\n\n'
        '"We agreed to review regularly the coalition\'s campaign plan," the seven countries said.')


@pytest.mark.parametrize("quote, expected", [
    ("Jean-Yves Le Drian co-chaired a meeting", "Jean-Yves Le Drian co-chaired a meeting"),
    ("Jean-Yves  Le\nDrian co-chaired", "Jean-Yves Le Drian co-chaired"),  # whitespace differs
    ("meeting. \u201cWe agreed", 'meeting.\n\n"We agreed'),  # curly for straight, a paragraph break for a space
    ("the coalition\u2019s campaign plan", "the coalition's campaign plan"),  # a curly apostrophe
    ('"co-chaired a meeting"', "co-chaired a meeting"),  # the model wrapped the quote in quote marks
    ('"We agreed to review', '"We agreed to review'),  # ... but a quote mark of the article's own is kept
])
def test_a_quote_is_found_up_to_whitespace_and_quote_marks(quote: str, expected: str) -> None:
    start, end = locate(quote, TEXT)
    assert TEXT[start:end] == expected


@pytest.mark.parametrize("quote", [
    "jean-yves le drian co-chaired",  # case differs
    "Le Drian chaired a meeting",  # a word changed
    "Jean-Yves Le Drian co-chaired the meeting",  # paraphrased
    "Carter and French Defense Minister Jean Yves",  # a hyphen dropped
    "the",  # too short to prove anything
    "...",
    "",
])
def test_anything_else_is_not_found(quote: str) -> None:
    assert locate(quote, TEXT) is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \n\t\"'\u201c\u2019.")), min_size=1, max_size=60), st.data())
def test_any_stretch_of_a_text_is_found_as_its_own_characters(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    quote = " ".join(text[start:end].split())  # the model's spacing may differ
    wanted = _normalized(quote)[0]
    found = locate(quote, text)
    if len(wanted) < 4 or not any(c.isalnum() for c in wanted):
        return  # too short to prove anything: may or may not be found
    assert found is not None
    assert _normalized(text[found[0]:found[1]])[0] == wanted  # the article's characters, the quote's words


def test_a_structured_reply_is_read() -> None:
    reply = json.dumps({"found": True, "answer": "They met in Paris [1].",
                        "citations": [{"marker": 1, "passage": 2, "quote": "met in Paris"},
                                      {"marker": "x", "passage": 2, "quote": "bad marker"}]})
    draft = read_reply("m", reply)
    assert draft.found and draft.answer == "They met in Paris [1]."
    assert draft.claims == (Claim(1, 2, "met in Paris"),)


def test_a_decline_is_read() -> None:
    assert not read_reply("m", json.dumps({"found": False, "answer": "", "citations": []})).found
    assert not read_reply("m", json.dumps({"found": True, "answer": " ", "citations": []})).found
    assert not read_reply("m", "NOT FOUND").found


def test_free_text_is_read_with_quotes_before_markers() -> None:
    draft = read_reply("m", 'The ministers "agreed to review" the plan [2]. They met in Paris [1].')
    assert draft.found and draft.claims == (Claim(2, 2, "agreed to review"), Claim(1, 1, "They met in Paris."))
    assert free_text_claims("No markers at all.") == ()


@pytest.mark.parametrize("content", ["", "   ", "<!doctype html><html><body>502</body></html>"])
def test_an_empty_or_html_reply_is_refused(content: str) -> None:
    with pytest.raises(WriterError, match="so this answer is extractive"):
        read_reply("m", content)


def test_sentences_keep_the_markers_after_their_full_stop() -> None:
    text = "A b [1]. C d. [2] E\n\nF [3]"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["A b [1].", "C d. [2]", "E", "F [3]"]


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 8])
def test_the_answer_field_streams_out_of_the_json_in_any_pieces(cut: int) -> None:
    reply = json.dumps({"found": True, "answer": 'He said "caf\u00e9 \\ ok" [1].\nNext.', "citations": []})
    field = _AnswerField()
    shown = "".join(field.feed(reply[at:at + cut]) for at in range(0, len(reply), cut))
    assert shown == 'He said "caf\u00e9 \\ ok" [1].\nNext.'
