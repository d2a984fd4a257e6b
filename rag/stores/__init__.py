"""Stores: where an index lives, behind one small protocol.

``Store`` is a location: today's folder (FAISS + SQLite + memory-mapped arrays,
``folder.py``, the default) or a Postgres database with pgvector
(``postgres.py``, chosen by ``RAG_DATABASE_URL`` or ``--db URL``). It builds
(``update``), tells its live generation cheaply (``live_version``, for hot
swap) and opens that generation as a ``Snapshot``: the read side the
retriever, answerer and web use. ``open_store(settings)`` picks the backend;
nothing else knows which one is in use.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..articles import Article
from ..chunker import Chunk
from ..sentences import Sentence

if TYPE_CHECKING:
    from ..build import BuildReport
    from ..embedder import Embedder
    from ..index import Manifest
    from ..progress import Progress
    from ..settings import Settings

Say = Callable[[str], None]
RRF_K = 60


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


class Store(Protocol):
    """Where an index lives: build into it, tell its live generation, open that generation.

    ``name`` says where, for messages (a folder, or a database URL without its password). A ``shared``
    store is built only by ``rag build``; a local one is built or refreshed from its files when opened.
    """

    name: str
    shared: bool

    def exists(self) -> bool: ...

    def live_version(self) -> str | None:
        """Return the live generation's marker (one small read), or None when there is none."""
        ...

    def read_manifest(self) -> Manifest: ...

    def old_articles(self) -> list[Article]:
        """Return the articles an index of an older format kept, to rebuild it (raise BrokenIndexError if none)."""
        ...

    def open(self, model: str | None = None) -> Snapshot: ...

    def update(self, articles: list[Article], embedder: Embedder, settings: Settings, force: bool = False,
               say: Say | None = None, progress: Progress | None = None) -> BuildReport:
        """Build ``articles`` in under the store's lock, re-embedding only what changed; commit atomically."""
        ...


def fuse(rankings: Sequence[Sequence[int]]) -> dict[int, float]:
    """Return the reciprocal-rank-fusion score of every number in the rankings (each best first).

    Example: fuse([[7, 3], [3]]) -> {7: 1/61, 3: 1/62 + 1/61}.
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, number in enumerate(ranking):
            fused[number] = fused.get(number, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def open_store(settings: Settings) -> Store:
    """Return the store the settings name: the database at ``database_url`` if given, else the index folder."""
    if settings.database_url:
        from .postgres import PostgresStore

        return PostgresStore(settings.database_url)
    from .folder import FolderStore

    return FolderStore(settings.index_dir)
