"""Answerer: compose a grounded, extractive answer from what the reader found.

The answer is built only from source text: the reader's best span as a short
answer (put above the quote when it is a few words), then the sentence that
holds it, and maybe a second one that scores close, with markers ``[1]``,
``[2]`` that map to the citations. When no span beats the reader's no-answer
score by the policy's margin, the answer is "The article doesn't say." with
``found = False``; so is an unsure answer to a question that no retrieved
passage is close to (an off-topic question). Between that and a clear margin
the reader is unsure: the passage is quoted under a warning instead of a
short answer, with ``sure = False``. Nothing here searches or reads; it only chooses among the
evidence it is given.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .stores import Snapshot
from .reading import Evidence, Findings
from .kinds import Asked
from .support import check_support

NOT_FOUND = "The article doesn't say."
UNSURE = "Not sure this answers the question; the closest passage:"


@dataclass(frozen=True)
class Policy:
    """When to answer and how much to quote; tuned on the development sets (benchmarks/QUALITY.md)."""

    answer_above: float = -6.0  # the best span's margin over no answer needed to answer
    off_topic_below: float | None = 0.2  # decline an unsure answer when no passage's cosine reaches this
    # (the default model's cosine; None: never)
    off_topic_words: float = 1.5  # ... unless a passage shares rare words with the question (its BM25 score)
    sure_above: float = 3.0  # the margin needed to put the short answer first; below it the answer is hedged
    relevance: float = 1.0  # weight of the reader's sentence score when choosing the quoted sentence
    rank: float = 0.5  # weight of the passage's retrieval rank (its logarithm) against the reader's scores
    second_within: float = 1.0  # quote a second sentence when its score is this close to the first
    max_quoted: int = 2
    headline_words: int = 12  # a longer short answer (a quotation, a clause) is not repeated above its sentence
    checks: tuple[str, ...] = ("terms", "kind", "counted", "echo")  # what a sure answer must pass (rag.support.CHECKS)


@dataclass(frozen=True)
class Citation:
    """A quoted span: ``article.text[start:end] == text``."""

    n: int
    source: str
    title: str
    doc_id: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Span:
    """A stretch ``text[start:end]`` of an answer."""

    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """What a person sees, plus the evidence behind it."""

    question: str
    answer: str
    short_answer: str | None
    found: bool
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    short_start: int | None = None  # the short answer is text[short_start:short_end] of citation [1]'s article
    short_end: int | None = None
    sure: bool = False  # found, and the reader is confident enough to put the short answer first
    answer_kind: str = "fact"  # what the question asked for (rag.kinds): fact, overview, quote, list, explanation, yesno
    # Written by an LLM (rag/llm.py, checked by rag/grounding.py); the defaults describe an extractive answer.
    generated: bool = False  # the answer is the model's, every citation checked verbatim
    model: str | None = None  # the model that wrote it
    notice: str | None = None  # one sentence: why the model's answer is not shown (then the answer is extractive)
    unsupported: tuple[Span, ...] = ()  # sentences of ``answer`` without a checked citation
    quotes_dropped: int = 0  # the model's quotes not found in their passages


def compose_answer(asked: Asked, findings: Findings, index: Snapshot, k: int = 3, policy: Policy = Policy()) -> Answer:
    """Quote the sentence with the best answer (and a close second) and cite up to ``k`` in all; or decline.

    The answer is sure when the reader's margin clears ``policy.sure_above`` and the answer passes the support
    checks ``policy.checks`` (``rag.support``) for what the question needs (``asked.needs``); otherwise it is hedged,
    or declined when off topic."""
    question = asked.question
    if not findings.evidence or findings.margin <= policy.answer_above:
        return Answer(question, NOT_FOUND, None, False)
    ranked = sorted(findings.evidence, key=lambda e: (-score(e, policy), e.passage.rank, e.start))
    support = check_support(asked.needs, ranked[0], findings, index)
    sure = findings.margin > policy.sure_above and not set(support.doubts) & set(policy.checks)
    if not (sure or related(findings, policy)):
        return Answer(question, NOT_FOUND, None, False)
    top = score(ranked[0], policy)
    quoted_count = min(k, 1 + sum(1 for e in ranked[1:policy.max_quoted]
                                  if score(e, policy) >= top - policy.second_within))
    chosen = ranked[:k]
    citations = []
    for n, evidence in enumerate(chosen, start=1):
        passage = evidence.passage
        text = index.article(passage.chunk.source).text
        citations.append(Citation(n, passage.chunk.source, passage.title, passage.doc_id, evidence.start,
                                  evidence.end, text[evidence.start:evidence.end], round(score(evidence, policy), 4)))
    best = ranked[0]
    short = index.article(best.passage.chunk.source).text[best.span_start:best.span_end]
    quoted = " ".join(f"{c.text} [{c.n}]" for c in citations[:quoted_count])
    if not sure:
        answer = f"{UNSURE}\n\n{quoted}"
    elif len(short.split()) <= policy.headline_words:
        answer = f"{short}\n\n{quoted}"
    else:
        answer = quoted
    return Answer(question, answer, short, True, tuple(citations), {}, best.span_start, best.span_end, sure)


def related(findings: Findings, policy: Policy) -> bool:
    """Return whether the question is about the passages found at all: close in meaning, or sharing rare words
    (an acronym the model does not know); an unsure answer to an off-topic question is declined."""
    return (policy.off_topic_below is None or findings.dense >= policy.off_topic_below
            or findings.lexical >= policy.off_topic_words)


def score(evidence: Evidence, policy: Policy) -> float:
    """Return how well ``evidence`` answers: the reader's span and sentence scores, less a share for a passage
    the retriever ranked lower."""
    return evidence.span + policy.relevance * evidence.relevance - policy.rank * math.log(evidence.passage.rank)


def answer_to_dict(answer: Answer) -> dict[str, object]:
    """Return the JSON form of ``answer``, as printed by ``ask --json`` and served by ``/api/ask``."""
    return asdict(answer)
