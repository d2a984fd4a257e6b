"""Retriever: hybrid passage search, then sentence scoring inside the passages found.

Stage one fuses dense FAISS search and BM25 over chunks by reciprocal rank
fusion. Stage two scores every sentence of those passages by a weighted sum
of token matching (late interaction), sentence and passage similarity, BM25
and whether the sentence holds the kind of answer asked for. The question's
vectors are given by the caller (one model pass serves both stages). No
answer logic here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chunker import Chunk
from .embedder import Encoded
from .index import Index
from .lexical import Bm25, terms
from .matching import TokenMatcher
from .questions import accepted_labels, named_in_question

RRF_K = 60
CANDIDATES = 50


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a passage: its number in the index, span, and how well it matches."""

    number: int
    start: int
    end: int
    tokens: float
    dense: float
    score: float


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score, rank (1 = best) and scored sentences."""

    chunk: Chunk
    title: str
    doc_id: str
    rank: int
    score: float
    dense: float
    lexical: float
    sentences: tuple[ScoredSentence, ...]


@dataclass(frozen=True)
class Weights:
    """How sentence evidence is combined; tuned on the development sets (benchmarks/QUALITY.md)."""

    tokens: float = 3.0
    dense: float = 0.5
    passage: float = 0.25
    lexical: float = 0.15
    typed: float = 0.1
    length: float = 0.04  # long sentences match more word pieces by chance; this evens it out


class Retriever:
    """Hybrid retrieval over one loaded Index."""

    def __init__(self, index: Index, vocabulary: list[str], weights: Weights = Weights()) -> None:
        self.index = index
        self.weights = weights
        self.bm25 = Bm25([chunk.text for chunk in index.chunks])
        self.matcher = TokenMatcher(index.token_vectors, index.token_ids, index.token_offsets, vocabulary,
                                    np.asarray(index.sentence_source, np.int64))
        lengths = np.maximum(np.diff(index.token_offsets), 1).astype(np.float32)
        self.length_bias = np.log(lengths / lengths.mean()) if len(lengths) else lengths
        self.titles = [(a.title, a.doc_id) for a in index.articles]
        self.source_numbers = index.source_numbers

    def retrieve(self, query: str, encoded: Encoded, k: int, question: str | None = None) -> list[Passage]:
        """Return the ``k`` best passages for ``query`` (encoded by the embedder), best first.

        ``question`` is the user's own question when ``query`` also holds earlier turns; it decides
        what kind of answer is wanted.
        """
        if not self.index.chunks:
            return []
        vector = encoded.vectors[0]
        fused, dense, lexical = self._fuse(query, vector)
        best = sorted(fused, key=lambda n: (-fused[n], n))[:k]
        top_lexical = max((lexical[n] for n in best), default=0.0)
        labels = accepted_labels(question or query)
        asked = set(terms(query))
        passages = []
        for rank, number in enumerate(best, start=1):
            chunk = self.index.chunks[number]
            if number not in dense:
                dense[number] = float(self.index.chunk_vectors.reconstruct(number) @ vector)
            share = lexical[number] / top_lexical if top_lexical > 0 else 0.0
            sentences = self._score_sentences(number, encoded, dense[number], share, labels, asked)
            title, doc_id = self.titles[self.source_numbers[chunk.source]]
            passages.append(Passage(chunk, title, doc_id, rank, fused[number], dense[number],
                                    float(lexical[number]), sentences))
        return passages

    def _fuse(self, question: str, vector: np.ndarray) -> tuple[dict[int, float], dict[int, float], np.ndarray]:
        """Return RRF scores of the candidate chunks, their dense scores, and BM25 scores of all chunks."""
        depth = min(len(self.index.chunks), CANDIDATES)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.chunk_vectors.search(query, depth)
        dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        lexical = self.bm25.scores(question)
        lexical_order = [int(i) for i in np.argsort(-lexical, kind="stable")[:depth] if lexical[i] > 0]
        fused: dict[int, float] = {}
        for ranking in (sorted(dense, key=dense.__getitem__, reverse=True), lexical_order):
            for rank, number in enumerate(ranking):
                fused[number] = fused.get(number, 0.0) + 1.0 / (RRF_K + rank + 1)
        return fused, dense, lexical

    def _score_sentences(self, chunk_number: int, encoded: Encoded, passage_dense: float, lexical_share: float,
                         labels: tuple[str, ...], asked: set[str]) -> tuple[ScoredSentence, ...]:
        first, stop = self.index.chunk_sentences[chunk_number]
        numbers = list(range(first, stop))
        if not numbers:
            return ()
        dense = self.index.sentence_vectors[first:stop] @ encoded.vectors[0]
        tokens = self.matcher.scores(encoded.token_vectors[0], encoded.token_ids[0], numbers)
        text = self.index.articles[self.index.sentence_source[first]].text
        w = self.weights
        scored = []
        for offset, number in enumerate(numbers):
            sentence = self.index.sentences[number]
            typed = bool(labels) and any(m.label in labels and not named_in_question(text[m.start:m.end], asked)
                                         for m in sentence.mentions)
            matched = float(tokens[offset]) - w.length * float(self.length_bias[number])
            score = (w.tokens * matched + w.dense * float(dense[offset]) + w.passage * passage_dense
                     + w.lexical * lexical_share + w.typed * typed)
            scored.append(ScoredSentence(number, sentence.start, sentence.end, float(tokens[offset]),
                                         float(dense[offset]), score))
        return tuple(scored)
