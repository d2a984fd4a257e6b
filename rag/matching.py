"""Token matching: late interaction between question and sentence word pieces.

For each content word piece of the question, take its best cosine with any
word piece of the sentence (contextual vectors from the same MiniLM pass that
made the sentence vector), then average with IDF weights. This catches
paraphrases and rare names that one pooled sentence vector blurs; on the
development sets it is the strongest single signal (see benchmarks/QUALITY.md).
"""
from __future__ import annotations

import numpy as np

from .questions import is_content_piece


class TokenMatcher:
    """Scores sentences of one index against a question, word piece by word piece."""

    def __init__(self, token_vectors: np.ndarray, token_ids: np.ndarray, token_offsets: np.ndarray,
                 vocabulary: list[str]) -> None:
        self.vectors = token_vectors
        self.offsets = token_offsets
        sentences = max(len(token_offsets) - 1, 0)
        size = max(len(vocabulary), int(token_ids.max(initial=-1)) + 1)
        owners = np.repeat(np.arange(sentences), np.diff(token_offsets))
        pairs = np.unique(np.stack([owners, token_ids.astype(np.int64)]), axis=1) if len(token_ids) \
            else np.zeros((2, 0), np.int64)
        document_frequency = np.bincount(pairs[1], minlength=size)
        self.idf = np.log((sentences + 1) / (document_frequency + 0.5)).astype(np.float32)
        self.content = np.array([is_content_piece(piece) for piece in vocabulary] + [False] * (size - len(vocabulary)))

    def scores(self, question_vectors: np.ndarray, question_ids: np.ndarray, sentences: list[int]) -> np.ndarray:
        """Return one score in [-1, 1] per sentence number; 0 when the question has no content pieces."""
        keep = self.content[question_ids] if len(question_ids) else np.zeros(0, bool)
        if not keep.any() or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        weights = self.idf[question_ids[keep]]
        query = question_vectors[keep].astype(np.float32)
        spans = [(int(self.offsets[n]), int(self.offsets[n + 1])) for n in sentences]
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        if not len(rows):
            return np.zeros(len(sentences), dtype=np.float32)
        similarity = query @ self.vectors[rows].astype(np.float32).T
        lengths = np.array([b - a for a, b in spans])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        result = np.zeros(len(sentences), dtype=np.float32)
        present = lengths > 0
        best = np.maximum.reduceat(similarity, starts[present], axis=1)
        result[present] = (best * weights[:, None]).sum(axis=0) / weights.sum()
        return result
