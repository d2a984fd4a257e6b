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
from .questions import (NAMES, STOP_WORDS, accepted_labels, asks_for_a_thing, asks_for_words, asks_how_or_why,
                        expected_labels, is_wrong_kind_of_date, named_in_question)
from .sentences import Mention

# Between two same-label mentions of one answer: a comma, "and" or "or", maybe with a title
# ("Carter and French Defense Minister Jean-Yves Le Drian").
_JOINER = re.compile(r"^(,\s*|\s+and\s+|,\s*and\s+|\s+or\s+)(the\s+)?([A-Z][\w.-]*\s+){0,4}$")


# The phrase that answers "how" (by doing something) or "why" (because of something, to do something), up to
# the end of its clause. "to" counts only before a lower-case word that is no determiner or pronoun (a verb).
_CLAUSE_END = r"[^,.;:!?\"\u201c\u201d\u2014]*"
_CLAUSES = {
    "how": re.compile(rf"\b(by|through|in) [a-z]+ing\b{_CLAUSE_END}"),
    "why": re.compile(rf"\b(because|since|so that|in order to|so as to|due to|as a result of)\b{_CLAUSE_END}|"
                      r"\bto (?!(the|a|an|his|her|their|its|our|your|my|this|that|these|those|them|him|us|me|it|"
                      rf"all|each|every|some|any|be)\b)[a-z]+\b{_CLAUSE_END}"),
}


def pick_short_answer(question: str, text: str, start: int, end: int, mentions: tuple[Mention, ...]) -> tuple[int, int] | None:
    """Return the ``(start, end)`` of the short answer inside sentence ``text[start:end]``, or None."""
    labels, preferred = accepted_labels(question), expected_labels(question)
    if not labels and asks_for_words(question):
        return quotation(text, start, end)
    manner_or_reason = None if labels else asks_how_or_why(question)
    if manner_or_reason:
        return _clause(_CLAUSES[manner_or_reason], question, text, start, end)
    if not labels and asks_for_a_thing(question):  # "what", not "who": anything but a person
        labels = preferred = tuple(label for label in NAMES if label != "PERSON") + ("NP",)
    if not labels:
        return None
    asked = set(terms(question))
    typed = [m for m in mentions if m.label not in ("PROPN", "NP")]  # a PROPN inside one of these is not unlabelled
    candidates = [m for m in mentions if m.label in labels and not named_in_question(text[m.start:m.end], asked)
                  and not (m.label == "PROPN" and any(n.start <= m.start and m.end <= n.end for n in typed))
                  and text[m.start:m.end].lower() not in STOP_WORDS
                  and not is_wrong_kind_of_date(question, text[m.start:m.end])]
    if preferred[:1] == ("MONEY",):
        candidates = [money for money in (_as_money(m, text, end) for m in candidates) if money]
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


def _clause(pattern: re.Pattern[str], question: str, text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return the first ``pattern`` phrase of the sentence that adds a word the question does not have."""
    asked = set(terms(question))
    for match in pattern.finditer(text[start:end]):
        first, last = _trim(text, start + match.start(), start + match.end())
        if set(terms(text[first:last])) - asked:
            return first, last
    return None


def quotation(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Return the ``(start, end)`` of the longest quotation in ``text[start:end]``, quote marks and end punctuation off.

    A quotation may be opened and closed in the sentence, run on past its end, or close one opened earlier.
    """
    spans: list[tuple[int, int]] = []
    opened: int | None = start  # a closing mark before any opening one ends a quotation begun earlier
    for position, opens in _quote_marks(text, start, end):
        if opens:
            opened = position + 1
        elif opened is not None:
            spans.append(_trim(text, opened, position))
            opened = None
    if opened is not None and opened > start:
        spans.append(_trim(text, opened, end))
    spans = [span for span in spans if span[1] > span[0]]
    return max(spans, key=lambda span: (span[1] - span[0], -span[0]), default=None)


def _quote_marks(text: str, start: int, end: int) -> list[tuple[int, bool]]:
    """Return the quote marks of ``text[start:end]``, each with whether it opens (straight marks judged by their sides)."""
    marks = []
    for position in range(start, end):
        char = text[position]
        if char in "\u201c\u201d":
            marks.append((position, char == "\u201c"))
        elif char == '"':
            before = text[position - 1] if position > start else " "
            marks.append((position, before.isspace() or before in "([\u2014-:"))
    return marks


def _trim(text: str, first: int, last: int) -> tuple[int, int]:
    while last > first and (text[last - 1].isspace() or text[last - 1] in ",.;:"):
        last -= 1
    while first < last and text[first].isspace():
        first += 1
    return first, last


_CURRENCY_AFTER = re.compile(r"\s*(euros?|dollars?|pounds?( sterling)?|yen|yuan|renminbi|francs?|rupees?|roubles?|"
                             r"rubles?|pesos?|dinars?|dirhams?|riyals?|rand|kronor|kroner|krona|crowns?|lira|liras|"
                             r"shekels?|zloty|won|bitcoins?|EUR|USD|GBP|CHF|JPY)\b", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"(US\$|\$|\u20ac|\u00a3|\u00a5)\s*$")


def _as_money(mention: Mention, text: str, end: int) -> Mention | None:
    """Return ``mention`` as an amount of money (a number with its currency word or sign), or None."""
    if mention.label == "MONEY":
        return mention
    after = _CURRENCY_AFTER.match(text, mention.end, end)
    if after:
        return Mention(mention.start, after.end(), "MONEY")
    before = _CURRENCY_BEFORE.search(text, max(0, mention.start - 4), mention.start)
    return Mention(before.start(), mention.end, "MONEY") if before else None


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
