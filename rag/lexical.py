"""Lexical scoring: BM25 (bm25s, Snowball stemming, English stop words) over a list of texts.

One ``Bm25`` per list: the retriever keeps one over chunks and one over
sentences. Scores come back as a dense array over all texts.
"""
from __future__ import annotations

import functools
import logging
import re

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

logging.getLogger("bm25s").setLevel(logging.WARNING)
_STEMMER = Stemmer.Stemmer("english")
_WORD = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default token pattern
_STOP = frozenset(STOPWORDS_EN)


@functools.lru_cache(maxsize=1 << 16)
def terms(text: str) -> tuple[str, ...]:
    """Return the stemmed, lower-cased content words of ``text`` exactly as bm25s indexes them.

    Example: 'The 101st Airborne' -> ('101st', 'airborn'). Cached: questions and names repeat.
    """
    words = [word for word in _WORD.findall(text.lower()) if word not in _STOP]
    return tuple(_STEMMER.stemWords(words))


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
