"""Short answers: pick a verbatim span of the best sentence that answers the question's type.

The question's wh-word decides which mention labels fit ("who" -> people and
organisations, "when" -> dates, "how many" -> numbers...). Among the fitting
mentions of the sentence, those already named in the question are skipped and
the one closest to the question's words wins. Same-label mentions joined by
"and" or commas become one span ("Raqqa and Mosul"). No fitting mention means
no short answer: None, never a guess from outside the sentence.
"""
from __future__ import annotations

import re

from .lexical import terms
from .questions import NAMES, STOP_WORDS, accepted_labels, asks_for_a_thing, expected_labels, named_in_question
from .sentences import Mention

# Between two same-label mentions of one answer: a comma, "and" or "or", maybe with a title
# ("Carter and French Defense Minister Jean-Yves Le Drian").
_JOINER = re.compile(r"^(,\s*|\s+and\s+|,\s*and\s+|\s+or\s+)(the\s+)?([A-Z][\w.-]*\s+){0,4}$")


def pick_short_answer(question: str, text: str, start: int, end: int, mentions: tuple[Mention, ...]) -> tuple[int, int] | None:
    """Return the ``(start, end)`` of the short answer inside sentence ``text[start:end]``, or None."""
    labels, preferred = accepted_labels(question), expected_labels(question)
    if not labels and asks_for_a_thing(question):
        labels, preferred = NAMES + ("NP",), NAMES + ("NP",)
    if not labels:
        return None
    asked = set(terms(question))
    candidates = [m for m in mentions if m.label in labels and not named_in_question(text[m.start:m.end], asked)
                  and text[m.start:m.end].lower() not in STOP_WORDS]
    if not candidates:
        return None
    anchors = [m.start() + start for m in re.finditer(r"\w+", text[start:end])
               if set(terms(m.group())) & asked]

    def distance(mention: Mention) -> float:
        if not anchors:
            return 0.0
        return min(min(abs(a - mention.start), abs(a - mention.end)) for a in anchors)

    rank = {label: n for n, label in enumerate(preferred)}
    best = min(candidates, key=lambda m: (distance(m) + 40 * rank.get(m.label, len(preferred) + 2), m.start))
    return _widen(best, candidates, text)


def _widen(best: Mention, candidates: list[Mention], text: str) -> tuple[int, int]:
    """Extend ``best`` over neighbouring same-label mentions joined by 'and' or commas."""
    same = sorted((m for m in candidates if m.label == best.label), key=lambda m: m.start)
    position = same.index(best)
    first = last = position
    while first > 0 and _JOINER.match(text[same[first - 1].end:same[first].start]):
        first -= 1
    while last + 1 < len(same) and _JOINER.match(text[same[last].end:same[last + 1].start]):
        last += 1
    return same[first].start, same[last].end
