"""Lexical scoring: BM25 (bm25s, Snowball stemming, English stop words) over a list of texts.

One ``Bm25`` per list: the retriever keeps one over chunks and one over
sentences. Scores come back as a dense array over all texts.
"""
from __future__ import annotations

import logging

import bm25s
import numpy as np
import Stemmer

logging.getLogger("bm25s").setLevel(logging.WARNING)
_STEMMER = Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Return the stemmed, lower-cased content words of ``text``; 'The 101st Airborne' -> ['101st', 'airborn']."""
    return bm25s.tokenize([text], stopwords="en", stemmer=_STEMMER, return_ids=False,
                          show_progress=False)[0]


class Bm25:
    """BM25 scores of a query against a fixed list of texts."""

    def __init__(self, texts: list[str]) -> None:
        self.size = len(texts)
        self.model = bm25s.BM25()
        tokens = bm25s.tokenize(texts or [""], stopwords="en", stemmer=_STEMMER, show_progress=False)
        self.model.index(tokens, show_progress=False)
        self.vocabulary = self.model.vocab_dict

    def scores(self, query: str) -> np.ndarray:
        """Return one BM25 score per text (zeros when no query word is known)."""
        known = [term for term in terms(query) if term in self.vocabulary]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)[: self.size]
