"""Retriever: hybrid passage search, then sentence scoring inside the passages found.

Stage one is the store's: dense and lexical search over chunks fused by
reciprocal rank (FAISS + BM25 in a folder, pgvector + full-text search in
Postgres). Stage two scores every sentence of those passages by a weighted sum
of token matching (late interaction), sentence and passage similarity, BM25
and whether the sentence holds the kind of answer asked for. The question's
vectors are given by the caller (one model pass serves both stages). The
sentences' vectors are read from the store when it keeps them, else computed
in one batch for the sentences of the passages found (large indexes). No
answer logic here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .chunker import Chunk
from .embedder import Encoded
from .lexical import terms
from .matching import SentenceVectors, TokenMatcher
from .questions import accepted_labels, named_in_question
from .stores import ChunkRecord, Snapshot

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
    """Hybrid retrieval over one store snapshot."""

    def __init__(self, index: Snapshot, encoder: Encoder, weights: Weights = Weights()) -> None:
        self.index = index
        self.encoder = encoder
        self.weights = weights
        self.matcher = TokenMatcher(index.word_pieces, encoder.vocabulary())
        counts = index.manifest.counts
        self.mean_pieces = np.float32(max(counts.get("word_pieces", 0), 1) / max(counts.get("sentences", 0), 1))

    def retrieve(self, query: str, encoded: Encoded, k: int, question: str | None = None) -> list[Passage]:
        """Return the ``k`` best passages for ``query`` (encoded by the embedder), best first.

        ``question`` is the user's own question when ``query`` also holds earlier turns; it decides
        what kind of answer is wanted.
        """
        best = self.index.candidates(query, encoded.vectors[0], CANDIDATES)[:k]
        if not best:
            return []
        records = self.index.records([candidate.number for candidate in best])
        top_lexical = max(candidate.lexical for candidate in best)
        labels = accepted_labels(question or query)
        asked = set(terms(query))
        vectors = self._sentence_vectors(records)
        passages = []
        for rank, (candidate, record) in enumerate(zip(best, records), start=1):
            share = candidate.lexical / top_lexical if top_lexical > 0 else 0.0
            sentences = self._score_sentences(record, encoded, candidate.dense, share, labels, asked, vectors)
            passages.append(Passage(record.chunk, record.title, record.doc_id, rank, candidate.score,
                                    candidate.dense, candidate.lexical, sentences))
        return passages

    def _sentence_vectors(self, records: list[ChunkRecord]) -> SentenceVectors:
        """Return the vectors of every sentence of these chunks: read if stored, else encoded in one batch."""
        texts = {n: r.text[s.start:s.end] for r in records for n, s in zip(r.sentences, r.spans)}
        numbers = sorted(texts)
        rows = {n: row for row, n in enumerate(numbers)}
        stored = self.index.stored_sentence_vectors(numbers)
        if stored is not None:
            pooled, tokens, lengths = stored
        else:
            encoded = self.encoder.encode([texts[n] for n in numbers])
            pooled = encoded.vectors
            tokens = np.vstack(encoded.token_vectors + [np.zeros((0, pooled.shape[1]), np.float32)])
            lengths = [len(rows_of) for rows_of in encoded.token_vectors]
        return SentenceVectors(rows, pooled, tokens, np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]))

    def _score_sentences(self, record: ChunkRecord, encoded: Encoded, passage_dense: float, lexical_share: float,
                         labels: tuple[str, ...], asked: set[str], vectors: SentenceVectors
                         ) -> tuple[ScoredSentence, ...]:
        numbers = list(record.sentences)
        if not numbers:
            return ()
        dense = vectors.dense(numbers, encoded.vectors[0])
        tokens = self.matcher.scores(encoded.token_vectors[0], encoded.token_ids[0], vectors, numbers, record.article)
        pieces = self.matcher.pieces(record.article)
        text = record.text
        w = self.weights
        scored = []
        for offset, (number, sentence) in enumerate(zip(numbers, record.spans)):
            typed = bool(labels) and any(m.label in labels and not named_in_question(text[m.start:m.end], asked)
                                         for m in sentence.mentions)
            length_bias = float(np.log(np.float32(max(len(pieces[number]), 1)) / self.mean_pieces))
            matched = float(tokens[offset]) - w.length * length_bias
            score = (w.tokens * matched + w.dense * float(dense[offset]) + w.passage * passage_dense
                     + w.lexical * lexical_share + w.typed * typed)
            scored.append(ScoredSentence(number, sentence.start, sentence.end, float(tokens[offset]),
                                         float(dense[offset]), score))
        return tuple(scored)
