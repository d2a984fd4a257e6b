"""Retriever: hybrid passage search, then sentence scoring inside the passages found.

Stage one fuses dense FAISS search and BM25 over chunks by reciprocal rank
fusion. Stage two scores every sentence of those passages by a weighted sum
of token matching (late interaction), sentence and passage similarity, BM25
and whether the sentence holds the kind of answer asked for. The question's
vectors are given by the caller (one model pass serves both stages). The
sentences' vectors are read from the index when it stores them, else computed
in one batch for the sentences of the passages found (large indexes). No
answer logic here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np

from .chunker import Chunk
from .embedder import Encoded
from .index import Index
from .lexical import terms
from .matching import SentenceVectors, TokenMatcher
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


class Encoder(Protocol):
    """What the retriever needs of a model: the Embedder or the ONNX query encoder."""

    def encode(self, texts: list[str], progress: bool = False) -> Encoded: ...

    def vocabulary(self) -> list[str]: ...


class Retriever:
    """Hybrid retrieval over one loaded Index."""

    def __init__(self, index: Index, encoder: Encoder, weights: Weights = Weights()) -> None:
        self.index = index
        self.encoder = encoder
        self.weights = weights
        self.bm25 = index.bm25
        self.matcher = TokenMatcher(index.token_ids, index.token_offsets, index.sentence_starts, encoder.vocabulary())
        lengths = np.maximum(np.diff(index.token_offsets), 1).astype(np.float32)
        self.length_bias = np.log(lengths / lengths.mean()) if len(lengths) else lengths

    def retrieve(self, query: str, encoded: Encoded, k: int, question: str | None = None,
                 chunks: range | None = None) -> list[Passage]:
        """Return the ``k`` best passages for ``query`` (encoded by the embedder), best first.

        ``question`` is the user's own question when ``query`` also holds earlier turns; it decides
        what kind of answer is wanted. ``chunks``, when given, are the only chunk numbers eligible
        (one article's chunks, say).
        """
        if not self.index.chunks or (chunks is not None and not chunks):
            return []
        vector = encoded.vectors[0]
        fused, dense, lexical = self._fuse(query, vector, chunks)
        best = sorted(fused, key=lambda n: (-fused[n], n))[:k]
        top_lexical = max((lexical[n] for n in best), default=0.0)
        labels = accepted_labels(question or query)
        asked = set(terms(query))
        vectors = self._sentence_vectors(best)
        passages = []
        for rank, number in enumerate(best, start=1):
            chunk = self.index.chunks[number]
            if number not in dense:
                dense[number] = float(self.index.chunk_vectors.reconstruct(number) @ vector)
            share = lexical[number] / top_lexical if top_lexical > 0 else 0.0
            sentences = self._score_sentences(number, encoded, dense[number], share, labels, asked, vectors)
            article = self.index.article(chunk.source)
            title, doc_id = article.title, article.doc_id
            passages.append(Passage(chunk, title, doc_id, rank, fused[number], dense[number],
                                    float(lexical[number]), sentences))
        return passages

    def _fuse(self, question: str, vector: np.ndarray, chunks: range | None = None
              ) -> tuple[dict[int, float], dict[int, float], np.ndarray]:
        """Return RRF scores of the candidate chunks, their dense scores, and BM25 scores of all chunks."""
        depth = min(len(chunks if chunks is not None else self.index.chunks), CANDIDATES)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self.index.chunk_vectors.search(query, depth, params=_only(self.index.chunk_vectors, chunks))
        dense = {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}
        lexical = self.bm25.scores(question)
        if chunks is not None:  # only the eligible chunks keep a lexical score
            lexical = np.array(lexical)
            lexical[:chunks.start] = lexical[chunks.stop:] = 0
        lexical_order = [int(i) for i in _top(lexical, depth) if lexical[i] > 0]
        fused: dict[int, float] = {}
        for ranking in (sorted(dense, key=dense.__getitem__, reverse=True), lexical_order):
            for rank, number in enumerate(ranking):
                fused[number] = fused.get(number, 0.0) + 1.0 / (RRF_K + rank + 1)
        return fused, dense, lexical

    def _sentence_vectors(self, chunk_numbers: list[int]) -> SentenceVectors:
        """Return the vectors of every sentence of these chunks: read if stored, else encoded in one batch."""
        numbers = sorted({n for c in chunk_numbers for n in range(*self.index.chunk_sentences[c])})
        rows = {n: row for row, n in enumerate(numbers)}
        index = self.index
        if index.sentence_vectors is not None and index.token_vectors is not None:
            spans = [(int(index.token_offsets[n]), int(index.token_offsets[n + 1])) for n in numbers]
            pieces = np.concatenate([np.arange(a, b) for a, b in spans] + [np.zeros(0, np.int64)])
            pooled = np.asarray(index.sentence_vectors[numbers], dtype=np.float32)
            tokens = np.asarray(index.token_vectors[pieces])
            lengths = [b - a for a, b in spans]
        else:
            encoded = self.encoder.encode([index.sentence_text(n) for n in numbers])
            pooled = encoded.vectors
            tokens = np.vstack(encoded.token_vectors + [np.zeros((0, pooled.shape[1]), np.float32)])
            lengths = [len(rows_of) for rows_of in encoded.token_vectors]
        return SentenceVectors(rows, pooled, tokens, np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]))

    def _score_sentences(self, chunk_number: int, encoded: Encoded, passage_dense: float, lexical_share: float,
                         labels: tuple[str, ...], asked: set[str], vectors: SentenceVectors
                         ) -> tuple[ScoredSentence, ...]:
        first, stop = self.index.chunk_sentences[chunk_number]
        numbers = list(range(first, stop))
        if not numbers:
            return ()
        dense = vectors.dense(numbers, encoded.vectors[0])
        tokens = self.matcher.scores(encoded.token_vectors[0], encoded.token_ids[0], vectors, numbers)
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


def _only(vectors: faiss.Index, chunks: range | None) -> faiss.SearchParameters | None:
    """Return FAISS search parameters that consider only ``chunks`` (None: all)."""
    if chunks is None:
        return None
    selector = faiss.IDSelectorRange(chunks.start, chunks.stop)
    if isinstance(vectors, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=vectors.hnsw.efSearch)
    return faiss.SearchParameters(sel=selector)


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Return the indexes of the ``depth`` highest scores, best first, ties by index.

    The same as ``np.argsort(-scores, kind="stable")[:depth]``, without sorting a million scores.
    """
    if len(scores) <= 4 * depth:
        return np.argsort(-scores, kind="stable")[:depth]
    cut = np.partition(scores, len(scores) - depth)[len(scores) - depth]
    candidates = np.flatnonzero(scores >= cut)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:depth]
