"""Summary: choose the few sentences of an article that say what it is about, in the article's order.

Extractive and position-aware, after PacSum (Zheng and Lapata 2019, "Sentence Centrality Revisited for
Unsupervised Summarization"): a sentence is central when the sentences after it say the same things
(news puts the point first and the detail after), and it loses a little for each earlier sentence it
repeats. Similarity is the cosine of our own sentence vectors (the query encoder's model), so nothing
new is loaded. Sentences are then taken best first, skipping one too close to a sentence already taken
(no repetition) and the very short or very long, and given back in article order. Nothing here reads
an index or knows about questions; ``overview.py`` does that.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Method:
    """The summarizer's few settings: PacSum's edge weights (later 1, earlier -2), a lead bonus; how they
    were chosen is in benchmarks/QUALITY.md."""

    forward: float = 1.0  # weight of the similarity to later sentences
    backward: float = -2.0  # weight of the similarity to earlier sentences (negative: repeating costs)
    threshold: float = 0.3  # share of the similarity range below which an edge does not count
    lead: float = 0.3  # bonus of the first sentence, shrinking by position (lead / (1 + position))
    redundant: float = 0.8  # skip a sentence at least this close to one already taken
    min_words: int = 5
    max_words: int = 70


def sentence_count(total: int) -> int:
    """Return how many sentences an overview of an article of ``total`` sentences quotes (3 to 5).

    Example: 12 sentences -> 3; 60 -> 4; 100 -> 5.
    """
    return max(1, min(total, 3 if total <= 40 else 4 if total <= 80 else 5))


def centrality(vectors: np.ndarray, method: Method = Method()) -> np.ndarray:
    """Return each sentence's position-aware centrality (higher: more of the article says the same)."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    if n > 1:
        off = similarity[~np.eye(n, dtype=bool)]
        low, high = float(off.min()), float(off.max())
        similarity = np.maximum(similarity - (low + method.threshold * (high - low)), 0.0)
    later = np.triu(similarity, 1).sum(axis=1)
    earlier = np.tril(similarity, -1).sum(axis=1)
    score = method.forward * later + method.backward * earlier
    spread = float(score.max() - score.min())
    score = (score - score.min()) / spread if spread > 0 else np.zeros(n)
    return score + method.lead / (1.0 + np.arange(n))


def summarize(vectors: np.ndarray, words: Sequence[int], count: int, method: Method = Method()) -> list[int]:
    """Return the numbers of the ``count`` sentences to quote, in article order.

    ``vectors`` are the sentences' normalized embeddings; ``words`` their word counts. A sentence outside
    the word limits is taken only when there are not enough others.
    """
    scores = centrality(vectors, method)
    fits = [method.min_words <= w <= method.max_words for w in words]
    order = sorted(range(len(scores)), key=lambda i: (not fits[i], -scores[i], i))
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= count:
            break
        if any(float(vectors[i] @ vectors[j]) >= method.redundant for j in chosen):
            continue
        chosen.append(i)
    return sorted(chosen)
