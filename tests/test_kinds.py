"""Question analysis: the kind of answer a question wants, from its form only; unclear questions stay facts."""
from __future__ import annotations

import pytest

from rag.followup import Turn
from rag.kinds import analyse


@pytest.mark.parametrize("question, kind", [
    ("Summarize the article", "overview"), ("summarise this story please", "overview"),
    ("What is this article about?", "overview"), ("What are the key points?", "overview"),
    ("Main takeaways?", "overview"), ("TL;DR", "overview"), ("Give me the gist", "overview"),
    ("What happened?", "overview"), ("Can you give me a summary of the ferry story?", "overview"),
    ("What did Carter say about Le Drian?", "quote"), ("How did the union react?", "quote"),
    ("What was the mayor's reaction to the vote?", "quote"),
    ("Which countries took part in the meeting?", "list"), ("What are the three objectives of the plan?", "list"),
    ("Who co-chaired the meeting?", "list"), ("List the stops", "list"),
    ("Why was the meeting held in Paris?", "explanation"), ("How does the plan work?", "explanation"),
    ("What caused the fire?", "explanation"),
    ("Did France confirm it had sent special forces?", "yesno"), ("Is the strike over?", "yesno"),
    # short facts keep today's path
    ("Who chaired the Paris meeting?", "fact"), ("Where will the core nations meet next?", "fact"),
    ("How many ships were waiting?", "fact"), ("How long does the crossing take?", "fact"),
    ("What happened to the ferry?", "fact"), ("Which shipyard won the contract?", "fact"),
    ("What name comes from the English words Normans?", "fact"), ("What was the Norman religion?", "fact"),
    ("When?", "fact"), ("What did it say?", "fact"),
])
def test_kind_of_question(question: str, kind: str):
    assert analyse(question).kind == kind


def test_a_quote_question_names_its_speaker_and_topic():
    asked = analyse("What did the transport minister say about the strike?")
    assert (asked.kind, asked.speaker, asked.topic) == ("quote", "the transport minister", "the strike")
    assert analyse("What did Rosa Mendes say?").topic is None


def test_a_bare_follow_up_is_analysed_as_read_after_the_conversation():
    history = [Turn("user", "How many ships were waiting at the port?"), Turn("assistant", "Twelve [1]")]
    asked = analyse("Why?", history)
    assert (asked.question, asked.read, asked.kind) == ("Why?", "Why ships were waiting at the port?", "explanation")
    assert asked.needs.text == asked.read and "ship" in asked.needs.words
    alone = analyse("How many ships were waiting at the port?")
    assert (alone.kind, alone.needs.kind, alone.read) == ("fact", "number", alone.question)
