"""Answerer: compose a grounded, extractive answer from retrieved passages.

The answer is built only from source text: an optional short answer (a
verbatim span, put above the quote when it is a few words), then the best
supporting sentence(s) with markers ``[1]``, ``[2]`` that map to the
citations. When the best evidence is too weak, the answer is "The article
doesn't say." with ``found = False``. Nothing here searches; it only chooses
among what the retriever scored.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .retriever import Passage, ScoredSentence
from .questions import accepted_labels
from .shortanswer import pick_short_answer
from .stores import Snapshot

NOT_FOUND = "The article doesn't say."


@dataclass(frozen=True)
class Policy:
    """When to answer and how much to quote; tuned on the development sets."""

    abstain_below: float = 1.2
    second_within: float = 0.1
    max_quoted: int = 2
    headline_words: int = 12  # a longer short answer (a quotation, a clause) is not repeated above its sentence
    refuse_without_type: bool = True


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
class Answer:
    """What a person sees, plus the evidence behind it."""

    question: str
    answer: str
    short_answer: str | None
    found: bool
    citations: tuple[Citation, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)


def compose_answer(question: str, passages: list[Passage], index: Snapshot, k: int = 3,
                   policy: Policy = Policy()) -> Answer:
    """Quote the best one or two sentences and cite up to ``k`` in all, best first; or decline."""
    ranked = _best_sentences(passages)
    if not ranked or ranked[0][0].score < policy.abstain_below:
        return Answer(question, NOT_FOUND, None, False)
    top = ranked[0][0].score
    quoted_count = 1 + sum(1 for pair in ranked[1:policy.max_quoted] if pair[0].score >= top - policy.second_within)
    chosen = ranked[:max(k, quoted_count)]
    citations = []
    for n, (sentence, passage) in enumerate(chosen, start=1):
        text = index.article(passage.chunk.source).text
        citations.append(Citation(n, passage.chunk.source, passage.title, passage.doc_id,
                                  sentence.start, sentence.end, text[sentence.start:sentence.end],
                                  round(float(sentence.score), 4)))
    short, typed_miss = _short_answer(question, chosen[:quoted_count], index)
    if typed_miss and policy.refuse_without_type:
        return Answer(question, NOT_FOUND, None, False)
    quoted = " ".join(f"{c.text} [{c.n}]" for c in citations[:quoted_count])
    answer = f"{short}\n\n{quoted}" if short and len(short.split()) <= policy.headline_words else quoted
    return Answer(question, answer, short, True, tuple(citations))


def _short_answer(question: str, quoted: list[tuple[ScoredSentence, Passage]],
                  index: Snapshot) -> tuple[str | None, bool]:
    """Return the short answer from the first quoted sentence that has one, and whether a typed question found none."""
    for sentence, passage in quoted:
        text = index.article(passage.chunk.source).text
        span = pick_short_answer(question, text, sentence.start, sentence.end, index.sentence(sentence.number).mentions)
        if span:
            return text[span[0]:span[1]], False
    return None, bool(accepted_labels(question))


def _best_sentences(passages: list[Passage]) -> list[tuple[ScoredSentence, Passage]]:
    """Return each distinct sentence once, with the passage it came from, best first."""
    best: dict[tuple[str, int], tuple[ScoredSentence, Passage]] = {}
    for passage in passages:
        for sentence in passage.sentences:
            key = (passage.chunk.source, sentence.number)
            if key not in best or sentence.score > best[key][0].score:
                best[key] = (sentence, passage)
    return sorted(best.values(), key=lambda pair: (-pair[0].score, pair[0].number))


def answer_to_dict(answer: Answer) -> dict[str, object]:
    """Return the JSON form of ``answer``, as printed by ``ask --json`` and served by ``/api/ask``."""
    return asdict(answer)
