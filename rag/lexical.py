"""Lexical scoring: BM25 (bm25s, Snowball stemming, English stop words) over a list of texts.

One ``Bm25`` per list of chunk texts, made at build time, saved with the index and
loaded memory-mapped. Scores come back as a dense array over all texts.
"""
from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

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

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model = model
        self.size = size
        self.vocabulary = model.vocab_dict

    @classmethod
    def index(cls, texts: list[str]) -> Bm25:
        """Return a new BM25 index over ``texts``."""
        model = bm25s.BM25()
        placeholder = ["placeholder"]  # an index of no articles (all removed): bm25s needs one word; no score is read
        tokens = bm25s.tokenize(texts or placeholder, stopwords="en", stemmer=_STEMMER, show_progress=False)
        model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    @classmethod
    def load(cls, folder: Path, size: int) -> Bm25:
        """Return the index saved in ``folder``, its matrix memory-mapped; ``size`` is the number of texts."""
        if not (folder / "params.index.json").is_file():
            raise FileNotFoundError(folder)
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False), size)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder``."""
        self.model.save(str(folder), show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """Return one BM25 score per text (zeros when no query word is known)."""
        known = [term for term in terms(query) if term in self.vocabulary]
        if not known or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)[: self.size]
