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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..articles import Article
from ..snapshot import BuildReport, Candidate, ChunkRecord, Say, Snapshot

if TYPE_CHECKING:
    from ..embedder import Embedder
    from ..index import Manifest
    from ..progress import Progress
    from ..settings import Settings

__all__ = ["BuildReport", "Candidate", "ChunkRecord", "Say", "Snapshot", "Store", "fuse", "open_store"]
RRF_K = 60


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
