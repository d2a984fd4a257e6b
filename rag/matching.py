"""Token matching: late interaction between question and sentence word pieces.

For each content word piece of the question, take its best cosine with any
word piece of the sentence (contextual vectors from the same MiniLM pass that
made the sentence vector), then average with IDF weights counted among the
sentences of that sentence's own article (a word common in one article may be
rare in another). This catches paraphrases and rare names that one pooled
sentence vector blurs; on the development sets it is the strongest single
signal (see benchmarks/QUALITY.md). An article's word-piece frequencies are
counted from the index's word-piece ids when first needed; the sentence vectors
come from the caller, stored or computed for the query.
"""
from __future__ import annotations

import collections
import threading
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


class TokenMatcher:
    """Scores sentences against a question, word piece by word piece."""

    def __init__(self, token_ids: np.ndarray, token_offsets: np.ndarray, article_starts: np.ndarray,
                 vocabulary: list[str], cached_articles: int = 4096) -> None:
        """Sentence ``j`` has word-piece ids ``token_ids[token_offsets[j]:token_offsets[j + 1]]``; article ``a`` holds
        sentences ``article_starts[a]:article_starts[a + 1]``."""
        self.token_ids = token_ids
        self.token_offsets = token_offsets
        self.article_starts = np.asarray(article_starts, dtype=np.int64)
        self.size = max(len(vocabulary), int(np.max(token_ids, initial=-1)) + 1)
        self.content = np.array([is_content_piece(piece) for piece in vocabulary] + [False] * (self.size - len(vocabulary)))
        self._frequencies: collections.OrderedDict[int, tuple[np.ndarray, np.ndarray]] = collections.OrderedDict()
        self._cached_articles = cached_articles
        self._lock = threading.Lock()  # the cache is shared by a server's threads

    def article_of(self, sentences: list[int]) -> np.ndarray:
        """Return the article number of each sentence."""
        return np.searchsorted(self.article_starts, np.asarray(sentences, dtype=np.int64), side="right") - 1

    def idf(self, article: int, ids: np.ndarray) -> np.ndarray:
        """Return the IDF of word pieces ``ids`` among the sentences of ``article``: rare there weighs more."""
        pieces, counts = self._frequency(article)
        frequency = np.zeros(len(ids), np.int64)
        if len(pieces):
            at = np.minimum(np.searchsorted(pieces, ids), len(pieces) - 1)
            found = pieces[at] == ids
            frequency[found] = counts[at[found]]
        sentences = int(self.article_starts[article + 1] - self.article_starts[article])
        return np.log((sentences + 1) / (frequency + 0.5)).astype(np.float32)

    def _frequency(self, article: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the word-piece ids of ``article`` (sorted) and how many of its sentences hold each; cached."""
        with self._lock:
            if article in self._frequencies:
                self._frequencies.move_to_end(article)
                return self._frequencies[article]
        first, stop = int(self.article_starts[article]), int(self.article_starts[article + 1])
        offsets = np.asarray(self.token_offsets[first:stop + 1], dtype=np.int64)
        ids = np.asarray(self.token_ids[offsets[0]:offsets[-1]], dtype=np.int64) if len(offsets) \
            else np.zeros(0, np.int64)
        owners = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
        pairs = np.unique(owners * self.size + ids)
        result = np.unique(pairs % self.size, return_counts=True)
        with self._lock:
            self._frequencies[article] = result
            if len(self._frequencies) > self._cached_articles:
                self._frequencies.popitem(last=False)
        return result

    def scores(self, question_vectors: np.ndarray, question_ids: np.ndarray, vectors: SentenceVectors,
               sentences: list[int]) -> np.ndarray:
        """Return one score in [-1, 1] per sentence number; 0 when the question has no content pieces."""
        keep = self.content[question_ids] if len(question_ids) else np.zeros(0, bool)
        if not keep.any() or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        kept = question_ids[keep].astype(np.int64)
        owners = self.article_of(sentences)
        weights = np.empty((len(kept), len(sentences)), np.float32)
        for article in np.unique(owners):
            weights[:, owners == article] = self.idf(int(article), kept)[:, None]
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
        result[present] = (best * weights[:, present]).sum(axis=0) / weights[:, present].sum(axis=0)
        return result
