"""Compose by kind: turn what the reader found into the answer the question's kind wants.

A short fact goes to ``compose_answer`` untouched. The other kinds start from the same findings:

- quote: the sentences the article attributes to the speaker the question names (``quotes.py``), in the
  article the question is about; when no speaker matches, the short-fact answer;
- list: the short-fact answer, its first sentence followed by the sentences its list runs on into
  (``lists.py``); the short answer stays above only when it holds the whole list;
- explanation: reason-giving sentences first (``explain.py``), no short answer above unless it is a reason;
- yesno: the short-fact answer without a short answer above (a span is not a yes or a no).

Overviews need no reader and are answered by ``overview.py`` before anything is read. ``short_answer``
keeps the reader's best guess in every kind, as in an unsure answer.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from .answerer import UNSURE, Answer, Citation, Policy, compose_answer
from .articles import Article
from . import explain, lists
from .kinds import Asked
from .overview import article_sentences
from .quotes import quoted_sentences
from .reading import Findings, Plan
from .sentences import Sentence
from .stores import Snapshot

MATCHED = 0.5  # share of the question's words for the speaker that must name one in the article
ARTICLES = 3  # articles of the best evidence searched for the speaker when none is chosen
# the sentences a kind's answer is likely in, and how much higher they are scored
FAVOURED: dict[str, tuple[Callable[[str], bool], float]] = {"explanation": (explain.gives_reason, explain.CUE),
                                                            "list": (lists.enumerates, lists.CUE)}


def reading_plan(asked: Asked, plan: Plan) -> Plan:
    """Return how to read for ``asked``: an explanation or a list reads every passage the plan allows (the
    reason or the list is often not in the passage that names the subject best)."""
    return dataclasses.replace(plan, sure=math.inf) if asked.kind in FAVOURED else plan


def compose(asked: Asked, findings: Findings, index: Snapshot, k: int, policy: Policy,
            article: str | None = None) -> Answer:
    """Return the answer to ``asked`` from ``findings``; ``article`` is the doc_id the question is limited to."""
    if asked.kind in FAVOURED:
        test, bonus = FAVOURED[asked.kind]
        findings = _favour(findings, index, test, bonus)
    answer = compose_answer(asked, findings, index, k, policy)
    if asked.kind == "fact":
        return answer
    if asked.kind == "quote" and asked.speaker:
        quoted = _quote(asked, answer, findings, index, k, article)
        if quoted is not None:
            return quoted
    answer = dataclasses.replace(answer, answer_kind=asked.kind)
    if not answer.found:
        return answer
    if asked.kind == "list":
        return _whole_list(asked, answer, index, k)
    if asked.kind == "explanation" and answer.short_answer and explain.gives_reason(answer.short_answer):
        return answer
    return _without_short(answer)


def _quote(asked: Asked, fact: Answer, findings: Findings, index: Snapshot, limit: int,
           article: str | None) -> Answer | None:
    """Return the answer citing the named speaker's sentences, or None when no article names that speaker; the
    short-fact answer ``fact`` lends its short answer (the reader's guess, not shown) and its ``sure`` when it is in
    the same article (``sure`` is the reader's confidence in that short answer)."""
    doc_ids = [article] if article else list(dict.fromkeys(e.passage.doc_id for e in findings.evidence))[:ARTICLES]
    best: tuple[float, str, list[int], list[Sentence]] | None = None
    for doc_id in doc_ids:
        spans = article_sentences(index, doc_id)
        text = _article(index, doc_id).text
        numbers, share = quoted_sentences([text[s.start:s.end] for s in spans], asked.speaker or "", asked.topic,
                                          limit)
        if numbers and share >= MATCHED and (best is None or share > best[0]):
            best = (share, doc_id, numbers, spans)
    if best is None:
        return None
    share, doc_id, numbers, spans = best
    source = _article(index, doc_id)
    citations = tuple(Citation(n, source.source, source.title, doc_id, spans[i].start, spans[i].end,
                               source.text[spans[i].start:spans[i].end], round(share, 4))
                      for n, i in enumerate(numbers, start=1))
    same = fact.found and fact.citations[0].doc_id == doc_id
    return Answer(asked.question, _quoted(citations), fact.short_answer if same else None, True, citations,
                  short_start=fact.short_start if same else None, short_end=fact.short_end if same else None,
                  sure=same and fact.sure, answer_kind="quote")


def _whole_list(asked: Asked, answer: Answer, index: Snapshot, limit: int) -> Answer:
    """Return ``answer`` with its first sentence followed by the sentences its list runs on into."""
    first = answer.citations[0]
    source = _article(index, first.doc_id)
    spans = article_sentences(index, first.doc_id)
    at = next((n for n, s in enumerate(spans) if s.start < first.end and first.start < s.end), None)
    if at is None:
        return _without_short(answer)
    block = lists.list_block(source.text, spans, at, asked.question)
    listed = [first] + [Citation(0, first.source, first.title, first.doc_id, spans[n].start, spans[n].end,
                                 source.text[spans[n].start:spans[n].end], first.score) for n in block[1:]]
    others = [c for c in answer.citations[1:] if not any(c.source == l.source and c.start < l.end and l.start < c.end
                                                         for l in listed)]
    citations = tuple(dataclasses.replace(c, n=n) for n, c in enumerate((listed + others)[:limit], start=1))
    body = _quoted(citations[:min(len(listed), limit)])
    short = answer.short_answer or ""
    if not answer.sure:
        text = f"{UNSURE}\n\n{body}"
    elif len(listed) == 1 and short and lists.holds_list(short) and answer.answer.startswith(short + "\n\n"):
        text = f"{short}\n\n{body}"
    else:
        text = body
    return dataclasses.replace(answer, answer=text, citations=citations)


def _favour(findings: Findings, index: Snapshot, test: Callable[[str], bool], bonus: float) -> Findings:
    """Return ``findings`` with the sentences that pass ``test`` scored ``bonus`` more relevant."""
    evidence = tuple(dataclasses.replace(e, relevance=e.relevance + bonus)
                     if test(index.article(e.passage.chunk.source).text[e.start:e.end]) else e
                     for e in findings.evidence)
    return dataclasses.replace(findings, evidence=evidence)


def _without_short(answer: Answer) -> Answer:
    """Return ``answer`` without the short answer above its quote (``short_answer`` keeps the reader's guess)."""
    if answer.short_answer and answer.answer.startswith(answer.short_answer + "\n\n"):
        return dataclasses.replace(answer, answer=answer.answer[len(answer.short_answer) + 2:])
    return answer


def _quoted(citations: tuple[Citation, ...] | list[Citation]) -> str:
    return " ".join(f"{c.text} [{c.n}]" for c in citations)


def _article(index: Snapshot, doc_id: str) -> Article:
    return index.article(index.manifest.sources[index.article_number(doc_id)].source)
