"""Retriever: hybrid passage search over one store snapshot.

The store does the search: dense and lexical search over chunks fused by
reciprocal rank (FAISS + BM25 in a folder, pgvector + full-text search in
Postgres). The question's vector is given by the caller. It returns passages,
best first, with the sentences they hold; reading them is the reader's job,
and there is no answer logic here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .chunker import Chunk
from .sentences import Sentence
from .stores import Snapshot

CANDIDATES = 50


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk (``number`` in the index) with its fused score, rank (1 = best) and both part scores;
    ``sentences`` are the (number, span) of the sentences it holds."""

    chunk: Chunk
    number: int
    title: str
    doc_id: str
    rank: int
    score: float
    dense: float
    lexical: float
    sentences: tuple[tuple[int, Sentence], ...] = ()


class Encoder(Protocol):
    """What the retriever needs of a model: the Embedder or the ONNX query encoder."""

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


class Retriever:
    """Hybrid retrieval over one store snapshot."""

    def __init__(self, index: Snapshot) -> None:
        self.index = index

    def retrieve(self, query: str, vector: np.ndarray, k: int, within: tuple[int, int] | None = None
                 ) -> list[Passage]:
        """Return the ``k`` best passages for ``query`` (whose normalized embedding is ``vector``), best first.

        ``within`` limits the search to chunks ``first:stop`` (one article).
        """
        if within is not None and within[0] >= within[1]:
            return []
        best = self.index.candidates(query, vector, CANDIDATES, within)[:k]
        records = self.index.records([candidate.number for candidate in best])
        return [Passage(record.chunk, candidate.number, record.title, record.doc_id, rank, candidate.score,
                        candidate.dense, candidate.lexical, tuple(zip(record.sentences, record.spans)))
                for rank, (candidate, record) in enumerate(zip(best, records), start=1)]
