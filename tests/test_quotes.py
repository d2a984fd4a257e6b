"""Who said what: attribution read from the article's own structure, and quote answers through the pipeline."""
from __future__ import annotations

from rag.quotes import attribute, quoted_sentences

TEXTS = ['"We will build it," said Anna Berg, the mayor of Veldhaven.',
         '"And we will build it fast."',
         "The council voted on Tuesday.",
         "Opposition leader Tom Vos said the plan was too costly.",
         '"Nobody believes these numbers," he said.',
         "The transport minister, Carla Nunes, urged both sides to talk."]


def test_attribution_follows_names_pronouns_and_continued_quotes():
    keys = [a.key if a else None for a in attribute(TEXTS)]
    assert keys == ["Berg", "Berg", None, "Vos", "Vos", "Nunes"]


def test_speakers_are_found_by_name_or_by_role():
    assert quoted_sentences(TEXTS, "the mayor", None, 5)[0] == [0, 1]
    assert quoted_sentences(TEXTS, "Tom Vos", None, 5)[0] == [3, 4]
    assert quoted_sentences(TEXTS, "the transport minister", None, 5)[0] == [5]
    assert quoted_sentences(TEXTS, "the bishop", None, 5)[0] == []


def test_what_did_carter_say_about_le_drian(kinds_assistant):
    answer = kinds_assistant.ask("What did Carter say about Le Drian?")
    assert answer.answer_kind == "quote" and answer.found and answer.short_answer is None
    assert "commend Mr Le Drian" in answer.citations[0].text
    text = kinds_assistant.index.article(answer.citations[0].source).text
    assert all(text[c.start:c.end] == c.text for c in answer.citations)
    assert answer.answer == " ".join(f"{c.text} [{c.n}]" for c in answer.citations)


def test_a_speaker_named_by_role_in_another_article(kinds_assistant):
    answer = kinds_assistant.ask("What did the transport minister say?")
    assert answer.answer_kind == "quote"
    assert answer.citations[0].text.startswith("The transport minister, Carla Nunes, urged")
    assert any("hurts everybody" in c.text for c in answer.citations)
