"""Snapshot: the read side of one index generation, and what a build reports, shared by ``build`` and ``stores``.

``build.py`` makes indexes and ``stores/`` keeps them; both speak these types, so both import
this module and neither imports the other's types back (stores -> build -> snapshot, one way).
Nothing here reads files or databases.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .articles import Article
from .chunker import Chunk
from .sentences import Sentence

if TYPE_CHECKING:
    from .index import Manifest

Say = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """A chunk found by the fused search: its RRF score, cosine with the question and BM25 score."""

    number: int
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk with what is needed to read and quote it: its article's title, id and text, and its sentences
    (their numbers in the index, and their spans in the article)."""

    number: int
    chunk: Chunk
    title: str
    doc_id: str
    text: str
    sentences: range
    spans: tuple[Sentence, ...]


class Snapshot(Protocol):
    """One generation of an index, read-only; a newer build never changes what a snapshot answers.

    An article's chunks have consecutive numbers, so ``within=(first, stop)`` names one article's chunks.
    """

    version: str

    @property
    def manifest(self) -> Manifest: ...

    def candidates(self, query: str, vector: np.ndarray, depth: int,
                   within: tuple[int, int] | None = None) -> list[Candidate]:
        """Return chunks by dense + lexical search fused by reciprocal rank, best first (ties by number);
        ``depth`` results from each side, only chunks ``first:stop`` when ``within`` is given (exact search)."""
        ...

    def records(self, numbers: Sequence[int]) -> list[ChunkRecord]:
        """Return the records of these chunk numbers, in the same order."""
        ...

    def article(self, source: str) -> Article: ...

    def article_number(self, doc_id: str) -> int | None:
        """Return the position in ``manifest.sources`` of the article with this id, or None."""
        ...

    def article_chunks(self, doc_id: str) -> tuple[int, int]:
        """Return the chunk numbers ``(first, stop)`` of the article with this id; raise MissingArticleError."""
        ...



@dataclass(frozen=True)
class Removed:
    """An article a build dropped because it was not among the articles given."""

    source: str
    title: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did: the new index (in its store), and which sources it embedded, reused or dropped."""

    index: Snapshot
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    seconds: float = 0.0
