"""The folder store: today's index folder (``index.py``) behind the ``Store`` protocol.

``FolderStore`` is the location (build, live version, open); ``FolderSnapshot``
is a loaded ``Index`` that also answers the protocol's reads: dense FAISS
search and BM25 (bm25s) fused by reciprocal rank, records read from SQLite.
The format on disk is ``index.py``'s, unchanged.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from pathlib import Path

import faiss
import numpy as np

from ..articles import Article
from ..build import BuildReport, Say, update_index
from ..embedder import Embedder
from ..index import Index, Manifest, index_exists, live_version, load_index, read_manifest
from ..sentences import Sentence
from ..settings import Settings
from . import Candidate, ChunkRecord, fuse


class FolderSnapshot(Index):
    """A loaded index folder, readable through the ``Snapshot`` protocol."""

    @classmethod
    def of(cls, index: Index) -> FolderSnapshot:
        """Return ``index`` as a snapshot (the same arrays and records, nothing copied)."""
        if isinstance(index, FolderSnapshot):
            return index
        return cls(**{field.name: getattr(index, field.name) for field in dataclasses.fields(Index)})

    def candidates(self, query: str, vector: np.ndarray, depth: int,
                   articles: Collection[str] | None = None) -> list[Candidate]:
        depth = min(len(self.chunks), depth)
        if not depth:
            return []
        row = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        allowed = self._chunks_of(articles) if articles is not None else None
        if allowed is not None:
            if not len(allowed):
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            scores, ids = self.chunk_vectors.search(row, min(depth, len(allowed)), params=params)
        else:
            scores, ids = self.chunk_vectors.search(row, depth)
        dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        lexical = self.bm25.scores(query)
        if allowed is not None:
            kept = np.zeros(len(lexical), bool)
            kept[allowed] = True
            lexical = np.where(kept, lexical, 0).astype(np.float32)
        lexical_order = [int(i) for i in top(lexical, depth) if lexical[i] > 0]
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
            owner = self.source_numbers[chunk.source]
            article = self.articles[owner]
            result.append(ChunkRecord(number, chunk, owner, article.title, article.doc_id, article.text,
                                      range(first, stop), tuple(self.sentences[first:stop])))
        return result

    def document(self, doc_id: str) -> Article | None:
        for info in self.manifest.sources:  # the manifest has every id; only the one article asked for is read
            if info.doc_id == doc_id:
                return self.article(info.source)
        return None

    def sentence(self, number: int) -> Sentence:
        return self.sentences[number]

    def word_pieces(self, article: int) -> dict[int, np.ndarray]:
        first, stop = int(self.sentence_starts[article]), int(self.sentence_starts[article + 1])
        offsets = np.asarray(self.token_offsets[first:stop + 1], dtype=np.int64)
        return {first + n: np.asarray(self.token_ids[offsets[n]:offsets[n + 1]]) for n in range(stop - first)}

    def stored_sentence_vectors(self, numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
        if self.sentence_vectors is None or self.token_vectors is None:
            return None
        spans = [(int(self.token_offsets[n]), int(self.token_offsets[n + 1])) for n in numbers]
        pieces = np.concatenate([np.arange(a, b) for a, b in spans] + [np.zeros(0, np.int64)])
        pooled = np.asarray(self.sentence_vectors[list(numbers)], dtype=np.float32)
        return pooled, np.asarray(self.token_vectors[pieces]), [b - a for a, b in spans]

    def _chunks_of(self, sources: Collection[str]) -> np.ndarray:
        numbers = [self.source_numbers[s] for s in sources if s in self.source_numbers]
        ranges = [np.arange(self.chunk_starts[n], self.chunk_starts[n + 1]) for n in numbers]
        return np.concatenate(ranges + [np.zeros(0, np.int64)]).astype(np.int64)


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

    def open(self, model: str | None = None) -> FolderSnapshot:
        return FolderSnapshot.of(load_index(self.folder, model=model))

    def update(self, articles: list[Article], embedder: Embedder, settings: Settings, force: bool = False,
               say: Say | None = None, progress: bool = False) -> BuildReport:
        report = update_index(articles, self.folder, embedder, settings, force=force, say=say, progress=progress)
        return dataclasses.replace(report, index=FolderSnapshot.of(report.index))
