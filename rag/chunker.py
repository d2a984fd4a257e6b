"""Chunker: pack whole sentences into passages within a token budget.

Tokens are counted with tiktoken's ``cl100k_base``. A chunk never cuts a
sentence unless that sentence alone is over the budget; then it is cut at
white space (or, for a run with no white space, at the longest prefix that
fits). ``fits`` lets the caller add the embedder's own limit, so no chunk is
silently truncated by the model. Consecutive chunks share up to ``overlap``
tokens of whole sentences. This module does not embed or store anything.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .articles import Article
from .sentences import Sentence
from .tokens import count_tokens


@dataclass(frozen=True)
class Chunk:
    """A passage: ``article.text[start:end] == text``."""

    source: str
    ordinal: int
    start: int
    end: int
    text: str


def chunk_article(
    article: Article,
    sentences: list[Sentence],
    max_tokens: int = 128,
    overlap: int = 32,
    fits: Callable[[str], bool] | None = None,
) -> list[Chunk]:
    """Split ``article`` into chunks of whole sentences, each at most ``max_tokens`` tokens."""
    text = article.text

    def within(start: int, end: int) -> bool:
        piece = text[start:end]
        return count_tokens(piece) <= max_tokens and (fits is None or fits(piece))

    units: list[tuple[int, int]] = []
    for sentence in sentences:
        if within(sentence.start, sentence.end):
            units.append((sentence.start, sentence.end))
        else:
            units.extend(_cut(text, sentence.start, sentence.end, within))
    spans = _pack(units, within, lambda a, b: count_tokens(text[a:b]), overlap)
    return [Chunk(article.source, n, start, end, text[start:end]) for n, (start, end) in enumerate(spans)]


def _pack(
    units: list[tuple[int, int]],
    within: Callable[[int, int], bool],
    tokens: Callable[[int, int], int],
    overlap: int,
) -> list[tuple[int, int]]:
    """Greedily group consecutive units; each new group starts with up to ``overlap`` tokens of the last."""
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and within(units[first][0], units[last + 1][1]):
            last += 1
        spans.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        following = last + 1
        while following - 1 > first and tokens(units[following - 1][0], units[last][1]) <= overlap \
                and within(units[following - 1][0], units[last + 1][1]):
            following -= 1
        first = following
    return spans


def _cut(text: str, start: int, end: int, within: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Cut an over-long sentence into pieces that fit, preferring to cut at white space.

    Example: a 600-token run-on sentence with max_tokens=128 -> five pieces of whole words.
    """
    pieces: list[tuple[int, int]] = []
    while start < end:
        low, high = start + 1, end
        while low < high:  # the longest prefix that fits
            middle = (low + high + 1) // 2
            if within(start, middle):
                low = middle
            else:
                high = middle - 1
        cut = low
        if cut < end:
            space = max(text.rfind(" ", start, cut), text.rfind("\n", start, cut))
            if space > start:
                cut = space
        piece_end = cut
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        if piece_end > start:
            pieces.append((start, piece_end))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    return pieces
