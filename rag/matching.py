"""Token matching: late interaction between question and sentence word pieces.

For each content word piece of the question, take its best cosine with any
word piece of the sentence (contextual vectors from the same MiniLM pass that
made the sentence vector), then average with IDF weights. This catches
paraphrases and rare names that one pooled sentence vector blurs; on the
development sets it is the strongest single signal (see benchmarks/QUALITY.md).
The IDF is computed once at build time (``word_piece_idf``); the sentence
vectors come from the caller, stored or computed for the query.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .questions import is_content_piece


@dataclass(frozen=True)
class SentenceVectors:
    """Pooled and word-piece vectors of some sentences.

    Sentence number ``n`` is row ``rows[n]`` of ``pooled``; its word pieces are
    ``tokens[offsets[rows[n]]:offsets[rows[n] + 1]]``.
    """

    rows: dict[int, int]
    pooled: np.ndarray
    tokens: np.ndarray
    offsets: np.ndarray

    def dense(self, numbers: list[int], vector: np.ndarray) -> np.ndarray:
        """Return the cosine of each sentence's pooled vector with ``vector``."""
        return self.pooled[[self.rows[n] for n in numbers]] @ vector


def word_piece_idf(token_ids: np.ndarray, token_offsets: np.ndarray, size: int) -> np.ndarray:
    """Return the IDF of every word-piece id over sentences (sentence j has ids ``token_offsets[j]:[j+1]``)."""
    sentences = max(len(token_offsets) - 1, 0)
    size = max(size, int(token_ids.max(initial=-1)) + 1)
    owners = np.repeat(np.arange(sentences, dtype=np.int64), np.diff(token_offsets))
    pairs = np.unique(owners * size + np.asarray(token_ids, dtype=np.int64)) if len(token_ids) \
        else np.zeros(0, np.int64)
    document_frequency = np.bincount(pairs % size, minlength=size)
    return np.log((sentences + 1) / (document_frequency + 0.5)).astype(np.float32)


class TokenMatcher:
    """Scores sentences against a question, word piece by word piece."""

    def __init__(self, idf: np.ndarray, vocabulary: list[str]) -> None:
        size = max(len(vocabulary), len(idf))
        self.idf = np.asarray(idf, dtype=np.float32)
        self.content = np.array([is_content_piece(piece) for piece in vocabulary] + [False] * (size - len(vocabulary)))

    def scores(self, question_vectors: np.ndarray, question_ids: np.ndarray, vectors: SentenceVectors,
               sentences: list[int]) -> np.ndarray:
        """Return one score in [-1, 1] per sentence number; 0 when the question has no content pieces."""
        keep = self.content[question_ids] if len(question_ids) else np.zeros(0, bool)
        if not keep.any() or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        weights = self.idf[question_ids[keep]]
        query = question_vectors[keep].astype(np.float32)
        spans = [(int(vectors.offsets[vectors.rows[n]]), int(vectors.offsets[vectors.rows[n] + 1])) for n in sentences]
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        if not len(rows):
            return np.zeros(len(sentences), dtype=np.float32)
        similarity = query @ vectors.tokens[rows].astype(np.float32).T
        lengths = np.array([b - a for a, b in spans])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        result = np.zeros(len(sentences), dtype=np.float32)
        present = lengths > 0
        best = np.maximum.reduceat(similarity, starts[present], axis=1)
        result[present] = (best * weights[:, None]).sum(axis=0) / weights.sum()
        return result
