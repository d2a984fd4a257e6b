"""Spans: tidy the edges of a short answer the reader picked, in the text it came from.

The reader scores word pieces, so a best span can end inside a bracket it opened ("260.75bn roubles ($9.37bn"),
start at a closing quote, trail a dangling "and", or stop at one name of a list that the sentence names as one
subject ("Jean-Yves Le Drian" of "Carter and French Defense Minister Jean-Yves Le Drian co-chaired"). These
functions only move a span's edges within its sentence; they never invent text, so a tidied span is still
``text[start:end]``. Whether a list is taken whole is the reader's call (``reader.decode`` asks for its scores);
here it is only found.
"""
from __future__ import annotations

import re

PAIRS = {"(": ")", "[": "]", "{": "}", "\u201c": "\u201d", "\u2018": "\u2019"}
CLOSERS = {close: open_ for open_, close in PAIRS.items()}
REACH = 80  # how far past a span's edge a bracket's partner may be for the span to take it in
_LEADING = " \t\n,;:.!?" + "".join(CLOSERS)
_TRAILING_WORDS = re.compile(r"(?:[\s,;:]+(?:and|or|but|of|the|a|an|to|in|on|at|by|for|with|as))+$", re.IGNORECASE)
_NAME_WORD = r"[A-Z][\w.'\u2019-]*"
_NAME = rf"{_NAME_WORD}(?:\s+(?:(?:de|da|del|der|van|von|le|la|al|bin|di|du)\s+)?{_NAME_WORD})*"
_ITEM = rf"(?:the\s+)?{_NAME}"
_AND = r"\s*,?\s+(?:and|&)\s+"
_COMMAS_BEFORE = re.compile(rf"((?:{_ITEM}\s*,\s*)+)$")
_AND_BEFORE = re.compile(rf"((?:{_ITEM}\s*,\s*)*{_ITEM}{_AND})$")
_COMMAS_AFTER = re.compile(rf"((?:\s*,\s*{_ITEM})+)")
_AND_AFTER = re.compile(rf"((?:\s*,\s*{_ITEM})*{_AND}{_ITEM})")
_RUN_BEFORE = re.compile(rf"({_NAME}\s+)$")


def tidy(text: str, start: int, end: int, low: int, high: int) -> tuple[int, int]:
    """Return ``start, end`` moved so that the span neither starts with a closing mark or stray punctuation, nor
    ends in an opening mark or a dangling joining word, and holds each bracket or curly quote with its partner:
    taken in when the partner lies within ``low``-``high`` (the sentence) and ``REACH``, else cut off.

    Example: in "It raised 260.75bn roubles ($3.37bn; £2.7bn) last year", the span "260.75bn roubles ($3.37bn"
    becomes "260.75bn roubles ($3.37bn; £2.7bn)"."""
    original = start, end
    for _ in range(4):  # each pass settles one mark; a span holds few
        before = start, end
        start, end = _trim(text, start, end)
        start, end = _balance(text, start, end, low, high)
        start, end = _straight_quotes(text, start, end, low, high)
        if (start, end) == before:
            break
    return (start, end) if start < end else original


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _LEADING:
        start += 1
    while True:
        while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:" or text[end - 1] in PAIRS):
            end -= 1
        joiner = _TRAILING_WORDS.search(text, start, end)
        if not joiner or joiner.start() <= start:
            return start, end
        end = joiner.start()


def _balance(text: str, start: int, end: int, low: int, high: int) -> tuple[int, int]:
    """Take in or cut off the partner of the first unmatched bracket or curly quote of the span."""
    stack: list[int] = []
    for at in range(start, end):
        char = text[at]
        if char in PAIRS:
            stack.append(at)
        elif char in CLOSERS:
            if stack and text[stack[-1]] == CLOSERS[char]:
                stack.pop()
            else:  # a closer whose opener is before the span
                opener = text.rfind(CLOSERS[char], max(low, start - REACH), start)
                return (opener, end) if opener >= 0 else (at + 1, end)
    if stack:  # an opener whose closer is after the span
        at = stack[0]
        closer = text.find(PAIRS[text[at]], end, min(high, end + REACH))
        if closer >= 0:
            return start, closer + 1
        return start, at
    return start, end


def _straight_quotes(text: str, start: int, end: int, low: int, high: int) -> tuple[int, int]:
    """Give a span with an odd number of straight double quotes its partner (or cut the lone one off)."""
    quotes = [at for at in range(start, end) if text[at] == '"']
    if len(quotes) % 2 == 0:
        return start, end
    lone = quotes[-1]
    opens = lone == start or text[lone - 1].isspace() or text[lone - 1] in "([{"
    if opens:
        closer = text.find('"', end, min(high, end + REACH))
        return (start, closer + 1) if closer >= 0 else (start, lone)
    opener = text.rfind('"', max(low, start - REACH), start)
    return (opener, end) if opener >= 0 else (lone + 1, end)


def whole_list(text: str, start: int, end: int, low: int, high: int) -> tuple[int, int] | None:
    """Return the span of the list of names that the name ``text[start:end]`` is one item of ("A, B and C"),
    within ``low``-``high``, or None when it is not a name in such a list.

    Example: in "Carter and French Defense Minister Jean-Yves Le Drian co-chaired", "Jean-Yves Le Drian" ->
    "Carter and French Defense Minister Jean-Yves Le Drian"."""
    if not re.fullmatch(_NAME, text[start:end]):
        return None
    run = _RUN_BEFORE.search(text, low, start)  # the capitalized words right before it (titles: "Defense Minister")
    first = run.start() if run and run.end() == start else start
    if text[max(low, first - 4):first].lower() == "the ":
        first -= 4
    before = _AND_BEFORE.search(text, low, first)
    after = _AND_AFTER.match(text, end, high)
    if before and not after:
        after = _COMMAS_AFTER.match(text, end, high)
    elif after and not before:
        before = _COMMAS_BEFORE.search(text, low, first)
    if not before and not after:
        return None
    last = after.end() if after else end
    if text[last - 1] == "." and "." not in text[text.rfind(" ", start, last - 1) + 1:last - 1]:
        last -= 1  # a full stop, not an abbreviation's ("U.S.")
    return (before.start() if before else first), last
