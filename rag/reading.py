"""Reading: the reader reads the best retrieved passages; what it finds becomes evidence per sentence.

The passages are read best first, a few at a time: when the best answer found
so far clears the no-answer score by a wide margin, the rest are left unread
(most questions are settled by the first passages; the hard ones get more).
Each sentence read gives one Evidence: its best answer span, the reader's
scores and the passage it came from. Nothing here decides what to answer.
"""
from __future__ import annotations

from dataclasses import dataclass

from .reader import Reader, Text
from .retriever import Passage
from .stores import Snapshot


@dataclass(frozen=True)
class Plan:
    """How many passages to read: ``first`` at once, then ``more`` at a time while unsure, at most ``most``."""

    first: int = 3
    more: int = 2
    most: int = 5
    sure: float = 4.0  # a best-span margin over no answer that ends the reading early


@dataclass(frozen=True)
class Evidence:
    """A sentence the reader read: its best span (offsets into the article) and scores."""

    passage: Passage
    number: int
    start: int
    end: int
    span_start: int
    span_end: int
    span: float
    relevance: float


@dataclass(frozen=True)
class Findings:
    """Everything read for one question: evidence best first by span score, the no-answer score, and how
    close the question came to any retrieved passage (best embedding cosine, best BM25 score)."""

    evidence: tuple[Evidence, ...]
    no_answer: float
    read: int
    dense: float = 1.0
    lexical: float = 0.0

    @property
    def margin(self) -> float:
        """How far the best span beats no answer (negative: the reader would rather not answer)."""
        return self.evidence[0].span - self.no_answer if self.evidence else float("-inf")


def passage_text(passage: Passage, index: Snapshot) -> tuple[Text, list[int]]:
    """Return the passage as reader input (the chunk's span of its article, cut at its sentences) and the
    index numbers of those sentences."""
    chunk = passage.chunk
    text = index.article(chunk.source).text
    spans, numbers = [], []
    for number, sentence in passage.sentences:
        start, end = max(sentence.start, chunk.start), min(sentence.end, chunk.end)
        if start < end:
            spans.append((start, end))
            numbers.append(number)
    if not spans:
        return Text(text, chunk.start, chunk.end, ((chunk.start, chunk.end),)), [-1]
    return Text(text, chunk.start, chunk.end, tuple(spans)), numbers


def read_passages(reader: Reader, question: str, passages: list[Passage], index: Snapshot,
                  plan: Plan = Plan()) -> Findings:
    """Read ``passages`` (best first) for ``question`` until sure or ``plan.most`` are read."""
    evidence: dict[tuple[str, int, int], Evidence] = {}
    no_answer = float("-inf")
    read = 0
    ranked: list[Evidence] = []
    while read < min(len(passages), plan.most):
        batch = passages[read:read + (plan.first if read == 0 else plan.more)]
        inputs = [passage_text(p, index) for p in batch]
        readings = reader.read(question, [text for text, _ in inputs])
        for passage, (text, numbers), reading in zip(batch, inputs, readings):
            no_answer = max(no_answer, reading.no_answer)
            number_of = {span: number for span, number in zip(text.sentences, numbers)}
            for found in reading.sentences:
                key = (passage.chunk.source, found.start, found.end)
                if key not in evidence or found.span > evidence[key].span:
                    evidence[key] = Evidence(passage, number_of[(found.start, found.end)], found.start, found.end,
                                             found.span_start, found.span_end, found.span, found.relevance)
        read += len(batch)
        ranked = sorted(evidence.values(), key=lambda e: (-e.span, e.passage.rank, e.start))
        if ranked and ranked[0].span - no_answer >= plan.sure:
            break
    return Findings(tuple(ranked), no_answer, read, max((p.dense for p in passages), default=-1.0),
                    max((p.lexical for p in passages), default=0.0))
