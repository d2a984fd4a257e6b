"""Quotes: who said what, read from the article's own attribution ("X said", "said X, the ...", "he said").

``attribute(sentences)`` walks an article's sentences in order and gives each the speaker it is attributed
to: a name or description before or after a reporting verb, a pronoun ("she said") or a bare quotation
that continues the speaker before it. Speakers are grouped by surname (or a description's last word), with
every word the article used for them ("The transport minister, Carla Nunes" is both "Nunes" and "transport
minister"). ``quote_answer`` then cites the sentences of the speaker a question names, those about the
question's topic first. Plain text rules, no model: it knows nothing of retrieval or the reader.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .lexical import terms

_VERB = (r"(?:said|says|told|tells|added|adds|explained|urged|warned|argued|insisted|noted|stressed|announced|asked"
         r"|wrote|writes|replied|welcomed|praised|critici[sz]ed|rejected|reacted|responded|complained|acknowledged"
         r"|admitted|hoped|recommended|commended|called|apologi[sz]ed|defended|denied|promised|pledged|vowed|thanked"
         r"|accused|blamed|confirmed|(?:was|were|is|are) (?:disappointed|pleased|angry|delighted"
         r"|divided|critical|cautious))")
_BEFORE = re.compile(rf"\b{_VERB}\b", re.IGNORECASE)
_INVERTED = r"(?:said|says|added|adds|asked|wrote|explained|replied)"  # '"...," said Anna Berg, the mayor'
_AFTER_QUOTE = re.compile(rf"(?:[,?!][\"”’']|,)\s+{_INVERTED}\s+(?P<who>[^,.;:\"“”]+(?:,[^\"“”]*)?)",
                          re.IGNORECASE)
_ACCORDING = re.compile(r"\baccording to (?P<who>[^,.;:\"“”]+)", re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:he|she|they|it|we)$", re.IGNORECASE)
_OPENS_QUOTE = re.compile(r"^[\"“‘']")
_DETERMINER = re.compile(r"^(?:the|a|an|its|his|her|their)\b", re.IGNORECASE)
MAX_SPEAKER_WORDS = 8


@dataclass(frozen=True)
class Attribution:
    """The speaker of one sentence: ``key`` groups the sentences of one speaker; ``words`` is what the
    sentence calls them."""

    key: str
    words: str


def attribute(texts: Sequence[str]) -> list[Attribution | None]:
    """Return each sentence's speaker (None: not attributed), in order.

    Example: ['"We will go," Brandsma said.', '"Soon."', 'Rain fell.'] -> [Brandsma, Brandsma, None].
    """
    result: list[Attribution | None] = []
    last: Attribution | None = None
    for text in texts:
        words = _speaker_words(text)
        found: Attribution | None = None
        if words is not None and _PRONOUN.match(words):
            found = last
        elif words is not None:
            found = Attribution(_key(words), words)
            if found.key[:1].isupper():
                last = found
        elif _OPENS_QUOTE.match(text) and result and result[-1] is not None:
            found = result[-1]
        result.append(found)
    return result


def _speaker_words(text: str) -> str | None:
    """Return the words that name who the sentence quotes or reports, or None.

    The subject before the first reporting verb ("Brandsma said", '"...," she said'), else the words after an
    inverted one ('"...," said Pieter de Wolf, who leads ...'), else "according to X".
    """
    verb = _BEFORE.search(text)
    if verb:
        before = text[:verb.start()].rstrip(" ,")
        closing = max(before.rfind("”"), before.rfind('"'))
        subject = (before[closing + 1:] if closing >= 0 else before).strip(" ,")
        head, _, tail = subject.rpartition(",")
        if head and len(head.split()) > 4:  # "The US is committed to that support, Carter said"
            subject = tail.strip()
        if 0 < len(subject.split()) <= MAX_SPEAKER_WORDS and (_PRONOUN.match(subject) or terms(subject)):
            return subject
    after = _AFTER_QUOTE.search(text)
    if after:
        return _trimmed(after.group("who"))
    according = _ACCORDING.search(text)
    return _trimmed(according.group("who")) if according else None


def _trimmed(words: str) -> str | None:
    """Return the first few words of an inverted or "according to" speaker, or None when there are none."""
    kept = " ".join(words.split()[:MAX_SPEAKER_WORDS]).strip(" ,")
    return kept if terms(kept) else None


def _key(words: str) -> str:
    """Return a speaker's grouping key: the surname of the first full name in its words, else the last word.

    Example: 'The transport minister, Carla Nunes' -> 'Nunes'; 'Consumer groups' -> 'groups'.
    """
    parts = [_names(part) for part in words.split(",")]
    named = next((names for names in parts if len(names) >= 2), None) or next((names for names in parts if names), None)
    if named:
        return named[-1]
    tokens = re.findall(r"[\w'’-]+", words.split(",")[0])
    return tokens[-1].lower() if tokens else words.lower()


def _names(words: str) -> list[str]:
    """Return the capitalized words of a phrase that can be part of a name (no determiner, no acronym)."""
    tokens = re.findall(r"[\w'’-]+", words)
    return [t.removesuffix("'s").removesuffix("’s") for n, t in enumerate(tokens)
            if t[:1].isupper() and not t.isupper() and not (n == 0 and _DETERMINER.match(t))]


def speakers(attributions: Sequence[Attribution | None]) -> dict[str, set[str]]:
    """Return each speaker key with every term the article used for that speaker."""
    named: dict[str, set[str]] = {}
    for found in attributions:
        if found is not None:
            named.setdefault(found.key, set()).update(terms(found.words))
    return named


def match(speaker: str, named: dict[str, set[str]]) -> tuple[str | None, float]:
    """Return the key of the speaker the question's words name best and the share of those words matched."""
    wanted = set(terms(speaker))
    if not wanted:
        return None, 0.0
    best, share = None, 0.0
    for key, words in named.items():
        matched = len(wanted & words) / len(wanted)
        if matched > share:
            best, share = key, matched
    return best, share


def quoted_sentences(texts: Sequence[str], speaker: str, topic: str | None, limit: int) -> tuple[list[int], float]:
    """Return the numbers of the sentences of the speaker ``speaker`` names (those about ``topic`` first, then in
    article order) and how well the speaker matched (0 to 1)."""
    attributions = attribute(texts)
    key, share = match(speaker, speakers(attributions))
    if key is None:
        return [], 0.0
    mine = [n for n, found in enumerate(attributions) if found is not None and found.key == key]
    about = set(terms(topic)) if topic else set()

    def relevance(n: int) -> float:
        overlap = len(about & set(terms(texts[n]))) if about else 0
        quoted = 0.5 if about and overlap and re.search(r"[\"“”]", texts[n]) else 0.0
        return overlap + quoted

    return sorted(mine, key=lambda n: (-relevance(n), n))[:limit], share
