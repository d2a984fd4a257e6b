"""The folder store: today's index folder (``index.py``) behind the ``Store`` protocol.

``FolderStore`` is the location (build, live version, open); ``FolderSnapshot``
is a loaded ``Index`` that also answers the protocol's reads: dense FAISS
search and BM25 (bm25s) fused by reciprocal rank, records read from SQLite
(``article``, ``article_number`` and ``article_chunks`` are the Index's own).
The format on disk is ``index.py``'s, unchanged.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from ..articles import Article
from ..build import update_index
from ..embedder import Embedder
from ..index import Index, Manifest, index_exists, live_version, load_index, old_articles, read_manifest
from ..progress import Progress
from ..settings import Settings
from ..snapshot import BuildReport, Candidate, ChunkRecord, Say
from . import fuse


class FolderSnapshot(Index):
    """A loaded index folder, readable through the ``Snapshot`` protocol."""

    @classmethod
    def of(cls, index: Index) -> FolderSnapshot:
        """Return ``index`` as a snapshot (the same arrays and records, nothing copied)."""
        if isinstance(index, FolderSnapshot):
            return index
        return cls(**{field.name: getattr(index, field.name) for field in dataclasses.fields(Index)})

    def candidates(self, query: str, vector: np.ndarray, depth: int,
                   within: tuple[int, int] | None = None) -> list[Candidate]:
        first, stop = within or (0, len(self.chunks))
        depth = min(stop - first, depth)
        if depth <= 0:
            return []
        lexical = self.bm25.scores(query)
        if within is None:
            row = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            scores, ids = self.chunk_vectors.search(row, depth)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        else:  # one article: exact search over its own chunks, whatever the kind of FAISS index
            similarity = self.chunk_vectors.reconstruct_n(first, stop - first) @ vector
            dense = {first + int(i): float(similarity[i]) for i in top(similarity, depth)}
        lexical_order = [first + int(i) for i in top(lexical[first:stop], depth) if lexical[first + i] > 0]
        fused = fuse([sorted(dense, key=dense.__getitem__, reverse=True), lexical_order])
        result = []
        for number in sorted(fused, key=lambda n: (-fused[n], n)):
            similarity = dense[number] if number in dense else float(self.chunk_vectors.reconstruct(number) @ vector)
            result.append(Candidate(number, fused[number], similarity, float(lexical[number])))
        return result

    def records(self, numbers: Sequence[int]) -> list[ChunkRecord]:
        result = []
        for number in numbers:
            chunk = self.chunks[number]
            first, stop = self.chunk_sentences[number]
            article = self.article(chunk.source)
            result.append(ChunkRecord(number, chunk, article.title, article.doc_id, article.text,
                                      range(first, stop), tuple(self.sentences[first:stop])))
        return result


def top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Return the indexes of the ``depth`` highest scores, best first, ties by index.

    The same as ``np.argsort(-scores, kind="stable")[:depth]``, without sorting a million scores.
    """
    if len(scores) <= 4 * depth:
        return np.argsort(-scores, kind="stable")[:depth]
    cut = np.partition(scores, len(scores) - depth)[len(scores) - depth]
    candidates = np.flatnonzero(scores >= cut)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:depth]


class FolderStore:
    """An index folder: versions written whole and switched by the ``CURRENT`` pointer (``index.py``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.shared = False

    def exists(self) -> bool:
        return index_exists(self.folder)

    def live_version(self) -> str | None:
        return live_version(self.folder)

    def read_manifest(self) -> Manifest:
        return read_manifest(self.folder)

    def old_articles(self) -> list[Article]:
        return old_articles(self.folder)

    def open(self, model: str | None = None) -> FolderSnapshot:
        return FolderSnapshot.of(load_index(self.folder, model=model))

    def update(self, articles: list[Article], embedder: Embedder, settings: Settings, force: bool = False,
               say: Say | None = None, progress: Progress | None = None) -> BuildReport:
        report = update_index(articles, self.folder, embedder, settings, force=force, say=say, progress=progress)
        return dataclasses.replace(report, index=FolderSnapshot.of(report.index))
