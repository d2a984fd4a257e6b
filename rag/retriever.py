"""Retriever: hybrid passage search over one loaded Index.

Dense FAISS search and BM25 over chunks are fused by reciprocal rank. The
question's vector is given by the caller. It returns passages, best first;
reading them is the reader's job, and there is no answer logic here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .chunker import Chunk
from .index import Index

RRF_K = 60
CANDIDATES = 50


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk (``number`` in the index) with its fused score, rank (1 = best) and both part scores."""

    chunk: Chunk
    number: int
    title: str
    doc_id: str
    rank: int
    score: float
    dense: float
    lexical: float


class Encoder(Protocol):
    """What the retriever needs of a model: the Embedder or the ONNX query encoder."""

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


class Retriever:
    """Hybrid retrieval over one loaded Index."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.bm25 = index.bm25

    def retrieve(self, query: str, vector: np.ndarray, k: int, within: tuple[int, int] | None = None
                 ) -> list[Passage]:
        """Return the ``k`` best passages for ``query`` (whose normalized embedding is ``vector``), best first.

        ``within`` limits the search to chunks ``first:stop`` (one article).
        """
        if not self.index.chunks or (within is not None and within[0] >= within[1]):
            return []
        fused, dense, lexical = self._fuse(query, vector, within)
        best = sorted(fused, key=lambda n: (-fused[n], n))[:k]
        passages = []
        for rank, number in enumerate(best, start=1):
            chunk = self.index.chunks[number]
            if number not in dense:
                dense[number] = float(self.index.chunk_vectors.reconstruct(number) @ vector)
            article = self.index.article(chunk.source)
            passages.append(Passage(chunk, number, article.title, article.doc_id, rank, fused[number],
                                    dense[number], float(lexical[number])))
        return passages

    def _fuse(self, question: str, vector: np.ndarray, within: tuple[int, int] | None = None
              ) -> tuple[dict[int, float], dict[int, float], np.ndarray]:
        """Return RRF scores of the candidate chunks, their dense scores, and BM25 scores of all chunks."""
        first, stop = within or (0, len(self.index.chunks))
        depth = min(stop - first, CANDIDATES)
        lexical = self.bm25.scores(question)
        if within is None:
            query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            scores, ids = self.index.chunk_vectors.search(query, depth)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        else:  # one article: exact search over its own chunks, whatever the kind of FAISS index
            similarity = self.index.chunk_vectors.reconstruct_n(first, stop - first) @ vector
            dense = {first + int(i): float(similarity[i]) for i in _top(similarity, depth)}
        lexical_order = [first + int(i) for i in _top(lexical[first:stop], depth) if lexical[first + i] > 0]
        fused: dict[int, float] = {}
        for ranking in (sorted(dense, key=dense.__getitem__, reverse=True), lexical_order):
            for rank, number in enumerate(ranking):
                fused[number] = fused.get(number, 0.0) + 1.0 / (RRF_K + rank + 1)
        return fused, dense, lexical


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Return the indexes of the ``depth`` highest scores, best first, ties by index.

    The same as ``np.argsort(-scores, kind="stable")[:depth]``, without sorting a million scores.
    """
    if len(scores) <= 4 * depth:
        return np.argsort(-scores, kind="stable")[:depth]
    cut = np.partition(scores, len(scores) - depth)[len(scores) - depth]
    candidates = np.flatnonzero(scores >= cut)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:depth]
