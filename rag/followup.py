"""Follow-up questions: fold the recent conversation into the retrieval query.

"When will they be deployed?" says nothing about *who*; the question before
it did. When a question leans on earlier turns (a pronoun, "what about ...",
very few content words), the last user question is appended to it. The
pipeline then reads the passages found for both the question alone and the
condensed one, and keeps the clearer answer, so a complete question is never
answered from the previous topic. A question with nothing of its own to look
for ("When?") borrows the previous question with its question word swapped,
or else is looked up only through the conversation. Nothing is invented: the query only ever
holds words the user typed.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .cleaning import clean_turn
from .errors import InputError
from .lexical import terms

MAX_TURNS = 50
MAX_TURN_CHARS = 20_000
_LEANS_BACK = re.compile(
    r"\b(they|them|their|theirs|it|its|he|him|his|she|her|hers|this|that|these|those|there|then|such|the same)\b"
    r"|^\s*(and|also|what about|how about|why|and why)\b",
    re.IGNORECASE)


_MEASURES = "many much long old far big large often soon"  # after "how": part of the question word
_ASKING = frozenset(terms(f"what when where who whom whose which why how {_MEASURES}"))


def asks_something(question: str) -> bool:
    """Return whether ``question`` names anything to look for beyond a question word ("When?" does not)."""
    return bool(set(terms(question)) - _ASKING)


_ASKING_PHRASE = re.compile(rf"\b(?:how (?:{'|'.join(_MEASURES.split())})|what|when|where|who|whom|whose|which|why|how)\b",
                            re.IGNORECASE)


def fill_in(question: str, history: Sequence[Turn]) -> str:
    """Return a bare follow-up ("When?") as the previous question with its question word swapped, else
    ``question``: after "Where will the ministers meet?", "When?" reads "When will the ministers meet?"; after
    "How many ships waited?", "Why?" reads "Why ships waited?"."""
    earlier = _user_questions(history)
    asked = _ASKING_PHRASE.search(question)
    if asks_something(question) or not earlier or asked is None:
        return question
    previous = _ASKING_PHRASE.match(earlier[-1])
    if previous is None:
        return question
    return asked.group(0).capitalize() + earlier[-1][previous.end():]


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: str
    content: str


def check_history(history: Sequence[Turn]) -> list[Turn]:
    """Return ``history``'s turns cleaned (``cleaning.clean_turn``); raise InputError unless it is a short list
    of user/assistant turns."""
    if len(history) > MAX_TURNS:
        raise InputError(f"The history has {len(history)} turns; send at most {MAX_TURNS}.")
    cleaned = []
    for turn in history:
        if turn.role not in ("user", "assistant"):
            raise InputError("Each history turn needs a role of 'user' or 'assistant'.")
        if not isinstance(turn.content, str) or len(turn.content) > MAX_TURN_CHARS:
            raise InputError(f"Each history turn needs a content text of at most {MAX_TURN_CHARS} characters.")
        cleaned.append(Turn(turn.role, clean_turn(turn.content, "history")))
    return cleaned


def condense(question: str, history: Sequence[Turn]) -> str:
    """Return the retrieval query for ``question`` given the earlier turns.

    Example: ('When will they be deployed?', [user: 'What will US special operations forces do?'])
    -> 'When will they be deployed? What will US special operations forces do?'
    """
    earlier = _user_questions(history)
    if not earlier:
        return question
    if _LEANS_BACK.search(question) or len(terms(question)) <= 2:
        return f"{question} {' '.join(earlier[-1].split()[:200])}"
    return question


def _user_questions(history: Sequence[Turn]) -> list[str]:
    """Return the user's earlier questions, oldest first, without surrounding space (empty ones left out)."""
    return [turn.content.strip() for turn in history if turn.role == "user" and turn.content.strip()]
