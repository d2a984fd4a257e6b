"""Token matching: late interaction between question and sentence word pieces.

For each content word piece of the question, take its best cosine with any
word piece of the sentence (contextual vectors from the same MiniLM pass that
made the sentence vector), then average with IDF weights counted among the
sentences of that sentence's own article (a word common in one article may be
rare in another). This catches paraphrases and rare names that one pooled
sentence vector blurs; on the development sets it is the strongest single
signal (see benchmarks/QUALITY.md).
"""
from __future__ import annotations

import numpy as np

from .questions import is_content_piece


class TokenMatcher:
    """Scores sentences of one index against a question, word piece by word piece."""

    def __init__(self, token_vectors: np.ndarray, token_ids: np.ndarray, token_offsets: np.ndarray,
                 vocabulary: list[str], articles: np.ndarray | None = None) -> None:
        """``articles[j]`` is the article number of sentence ``j`` (all 0 when not given)."""
        self.vectors = token_vectors
        self.offsets = token_offsets
        sentences = max(len(token_offsets) - 1, 0)
        self.size = max(len(vocabulary), int(token_ids.max(initial=-1)) + 1)
        self.article_of = np.zeros(sentences, np.int64) if articles is None else np.asarray(articles, np.int64)
        owners = np.repeat(np.arange(sentences), np.diff(token_offsets))
        pairs = np.unique(np.stack([owners, token_ids.astype(np.int64)]), axis=1) if len(token_ids) \
            else np.zeros((2, 0), np.int64)
        # Document frequency of each word piece among the sentences of its own article, as sorted keys.
        self.keys, self.frequency = np.unique(self.article_of[pairs[0]] * self.size + pairs[1], return_counts=True)
        self.article_sentences = np.bincount(self.article_of, minlength=1)
        self.content = np.array([is_content_piece(piece) for piece in vocabulary] + [False] * (self.size - len(vocabulary)))

    def idf(self, article: int, ids: np.ndarray) -> np.ndarray:
        """Return the IDF of word pieces ``ids`` within ``article``: rare in that article weighs more."""
        keys = article * self.size + ids.astype(np.int64)
        frequency = np.zeros(len(keys), np.int64)
        if len(self.keys):
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            found = self.keys[at] == keys
            frequency[found] = self.frequency[at[found]]
        return np.log((self.article_sentences[article] + 1) / (frequency + 0.5)).astype(np.float32)

    def scores(self, question_vectors: np.ndarray, question_ids: np.ndarray, sentences: list[int]) -> np.ndarray:
        """Return one score in [-1, 1] per sentence number; 0 when the question has no content pieces."""
        keep = self.content[question_ids] if len(question_ids) else np.zeros(0, bool)
        if not keep.any() or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        kept = question_ids[keep]
        owners = self.article_of[sentences]
        weights = np.empty((len(kept), len(sentences)), np.float32)
        for article in np.unique(owners):
            weights[:, owners == article] = self.idf(int(article), kept)[:, None]
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
        result[present] = (best * weights[:, present]).sum(axis=0) / weights[:, present].sum(axis=0)
        return result
