"""Token matching: late interaction between question and sentence word pieces.

For each content word piece of the question, take its best cosine with any
word piece of the sentence (contextual vectors from the same MiniLM pass that
made the sentence vector), then average with IDF weights counted among the
sentences of that sentence's own article (a word common in one article may be
rare in another). This catches paraphrases and rare names that one pooled
sentence vector blurs; on the development sets it is the strongest single
signal (see benchmarks/QUALITY.md). An article's word-piece frequencies are
counted from the store's word-piece ids when first needed; the sentence vectors
come from the caller, stored or computed for the query.
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Callable
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

    def __init__(self, pieces: Callable[[int], dict[int, np.ndarray]], vocabulary: list[str],
                 cached_articles: int = 4096) -> None:
        """``pieces(a)`` returns the word-piece ids of every sentence of article ``a``, by sentence number."""
        self.read_pieces = pieces
        self.size = len(vocabulary)
        self.content = np.array([is_content_piece(piece) for piece in vocabulary])
        self._articles: collections.OrderedDict[int, tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]] = \
            collections.OrderedDict()
        self._cached_articles = cached_articles
        self._lock = threading.Lock()  # the cache is shared by a server's threads

    def pieces(self, article: int) -> dict[int, np.ndarray]:
        """Return the word-piece ids of each sentence of ``article`` by sentence number (cached)."""
        return self._article(article)[0]

    def idf(self, article: int, ids: np.ndarray) -> np.ndarray:
        """Return the IDF of word pieces ``ids`` among the sentences of ``article``: rare there weighs more."""
        by_sentence, pieces, counts = self._article(article)
        frequency = np.zeros(len(ids), np.int64)
        if len(pieces):
            at = np.minimum(np.searchsorted(pieces, ids), len(pieces) - 1)
            found = pieces[at] == ids
            frequency[found] = counts[at[found]]
        return np.log((len(by_sentence) + 1) / (frequency + 0.5)).astype(np.float32)

    def _article(self, article: int) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
        """Return the sentences' word pieces of ``article``, its word-piece ids (sorted) and how many of its
        sentences hold each; cached."""
        with self._lock:
            if article in self._articles:
                self._articles.move_to_end(article)
                return self._articles[article]
        by_sentence = self.read_pieces(article)
        rows = list(by_sentence.values())
        ids = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows] + [np.zeros(0, np.int64)])
        size = max(self.size, int(ids.max(initial=-1)) + 1)
        owners = np.repeat(np.arange(len(rows), dtype=np.int64), [len(r) for r in rows])
        pairs = np.unique(owners * size + ids)
        result = (by_sentence, *np.unique(pairs % size, return_counts=True))
        with self._lock:
            self._articles[article] = result
            if len(self._articles) > self._cached_articles:
                self._articles.popitem(last=False)
        return result

    def scores(self, question_vectors: np.ndarray, question_ids: np.ndarray, vectors: SentenceVectors,
               sentences: list[int], article: int) -> np.ndarray:
        """Return one score in [-1, 1] per sentence number (all of ``article``); 0 when the question has no
        content pieces."""
        keep = self.content[question_ids] if len(question_ids) else np.zeros(0, bool)
        if not keep.any() or not sentences:
            return np.zeros(len(sentences), dtype=np.float32)
        kept = question_ids[keep].astype(np.int64)
        weights = np.repeat(self.idf(article, kept)[:, None], len(sentences), axis=1)
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
