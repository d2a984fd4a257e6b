"""Evaluation: run a question set through an Assistant and measure retrieval, answers and abstention.

Question rows: ``{"id", "question", "doc", "answers": [str], "answer_spans": [[start, end], ...]}``;
``answers == []`` marks a question the article cannot answer. A citation is a
hit when it overlaps a gold answer span in the right document. Answer text is
compared after SQuAD normalization (lower case, no punctuation or articles). Calibration (is an answer shown as
sure right?) is judged by ``judged_right``.
"""
from __future__ import annotations

import collections
import json
import re
import statistics
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .answerer import UNSURE, Answer
from .errors import InputError
from .pipeline import Assistant


@dataclass(frozen=True)
class Question:
    """One row of a question set."""

    id: str
    question: str
    doc: str
    answers: list[str]
    answer_spans: list[list[int]]


@dataclass(frozen=True)
class Report:
    """The figures of one evaluation run; ``failures`` lists what went wrong, question by question."""

    questions: int
    answerable: int
    hit_at_1: float
    hit_at_3: float
    hit_at_5: float
    mrr: float
    answer_contains_gold: float
    short_exact: float
    short_f1: float
    median_answer_words: float
    unanswerable_refused: float
    answerable_refused: float
    unanswerable_hedged: float  # answered, but under the unsure warning instead of a short answer
    answerable_hedged: float
    sure_short_f1: float  # short-answer F1 of the answerable questions answered as sure
    sure_precision: float  # of the answers shown as sure, the share judged right (see judged_right)
    answerable_right_sure: float  # of the answerable questions, the share answered as sure and judged right
    citations_verbatim: float
    answer_text_verbatim: float
    latency_p50_ms: float
    latency_p95_ms: float
    failures: list[dict[str, object]] = field(default_factory=list)


def read_questions(path: Path) -> list[Question]:
    """Read a JSON-lines question set; raise InputError on a bad row."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InputError(f"The question set {path} could not be read ({error.strerror}).") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            rows.append(Question(str(raw["id"]), raw["question"], raw["doc"], list(raw["answers"]),
                                 [list(span) for span in raw["answer_spans"]]))
        except (ValueError, KeyError, TypeError):
            raise InputError(f"Line {number} of {path} is not a valid question row.") from None
    return rows


def normalize(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """Return SQuAD token F1 between two strings."""
    predicted, expected = normalize(prediction).split(), normalize(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


RIGHT_F1 = 0.5  # the short-answer F1 from which an answer counts as right


def judged_right(short: str | None, answers: list[str]) -> bool:
    """Return whether a short answer counts as right for the calibration figures.

    Right: the question is answerable (``answers`` not empty) and the short answer has SQuAD token F1 >= RIGHT_F1
    against a gold answer, or holds a whole gold answer (normalized, on word boundaries). A sure answer to an
    unanswerable question is wrong. These figures use it:

    - ``sure_precision``: answers shown as sure (found and sure) that are right, over all answers shown as sure
      (1.0 when none is: nothing wrong was claimed);
    - ``answerable_right_sure``: answerable questions answered as sure and right, over all answerable ones.

    Example: gold ["Lepik and Vilkas"]: "Kadri Lepik" is wrong (F1 0.4), "Lepik and Vilkas told reporters" right
    (it holds the gold), and so is "Vilkas" (F1 0.5: a third of the gold's words, all of its own); gold ["3"]:
    "3 days" right, "13 days" wrong.
    """
    if not short or not answers:
        return False
    held = f" {normalize(short)} "
    return any(token_f1(short, gold) >= RIGHT_F1 or (normalize(gold) and f" {normalize(gold)} " in held)
               for gold in answers)


def evaluate(assistant: Assistant, questions: list[Question], k: int = 5) -> Report:
    """Ask every question and measure the answers against the gold spans."""
    index = assistant.index
    texts = {info.source: index.article(info.source).text for info in index.manifest.sources}
    by_name = {Path(source).name: source for source in texts}
    ranks, contains, exact, f1s, words, latencies = [], [], [], [], [], []
    refused_unanswerable = refused_answerable = unanswerable = 0
    hedged_unanswerable = 0
    hedged: list[bool] = []
    sure_f1s: list[float] = []
    sure_right: list[bool] = []  # one per answer shown as sure: judged right?
    right_sure: list[bool] = []  # one per answerable question: answered as sure and judged right?
    verbatim = cited = answer_chars = answer_verbatim_chars = 0
    failures: list[dict[str, object]] = []
    for row in questions:
        started = time.perf_counter()
        answer = assistant.ask(row.question, k)
        latencies.append((time.perf_counter() - started) * 1000)
        words.append(len(answer.answer.split()))
        for citation in answer.citations:
            cited += 1
            verbatim += texts.get(citation.source, "")[citation.start:citation.end] == citation.text
        grounded = _grounded_chars(answer, texts)
        answer_chars += grounded[1]
        answer_verbatim_chars += grounded[0]
        source = by_name.get(Path(row.doc).name, row.doc)
        sure = answer.found and answer.sure
        right = judged_right(answer.short_answer, row.answers)
        if sure:
            sure_right.append(right)
        if not row.answers:
            unanswerable += 1
            refused_unanswerable += not answer.found
            hedged_unanswerable += answer.found and not answer.sure
            if answer.found:
                failures.append({"id": row.id, "question": row.question, "problem": "answered an unanswerable question",
                                 "sure": sure, "answer": answer.answer})
            continue
        refused_answerable += not answer.found
        rank = next((c.n for c in answer.citations if c.source == source and any(
            c.start < end and start < c.end for start, end in row.answer_spans)), None)
        ranks.append(rank)
        gold = [normalize(a) for a in row.answers]
        contains.append(answer.found and any(g in normalize(answer.answer) for g in gold))
        short = answer.short_answer or ""
        exact.append(bool(short) and normalize(short) in gold)
        f1s.append(max(token_f1(short, a) for a in row.answers) if short else 0.0)
        hedged.append(answer.found and not answer.sure)
        right_sure.append(sure and right)
        if answer.sure:
            sure_f1s.append(f1s[-1])
        if rank != 1 or not contains[-1] or (sure and not right):
            failures.append({"id": row.id, "question": row.question, "gold": row.answers, "rank": rank,
                             "found": answer.found, "sure": sure, "short_answer": answer.short_answer,
                             "answer": answer.answer})
    answerable = len(ranks)

    def share(values: list[bool] | list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    latencies.sort()
    return Report(
        questions=len(questions), answerable=answerable,
        hit_at_1=share([r == 1 for r in ranks]), hit_at_3=share([r is not None and r <= 3 for r in ranks]),
        hit_at_5=share([r is not None and r <= 5 for r in ranks]),
        mrr=share([1 / r if r else 0.0 for r in ranks]),
        answer_contains_gold=share(contains), short_exact=share(exact), short_f1=share(f1s),
        median_answer_words=float(statistics.median(words)) if words else 0.0,
        unanswerable_refused=round(refused_unanswerable / unanswerable, 4) if unanswerable else 0.0,
        answerable_refused=round(refused_answerable / answerable, 4) if answerable else 0.0,
        unanswerable_hedged=round(hedged_unanswerable / unanswerable, 4) if unanswerable else 0.0,
        answerable_hedged=share(hedged), sure_short_f1=share(sure_f1s),
        sure_precision=share(sure_right) if sure_right else 1.0, answerable_right_sure=share(right_sure),
        citations_verbatim=round(verbatim / cited, 4) if cited else 1.0,
        answer_text_verbatim=round(answer_verbatim_chars / answer_chars, 4) if answer_chars else 1.0,
        latency_p50_ms=round(latencies[len(latencies) // 2], 2) if latencies else 0.0,
        latency_p95_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 2) if latencies else 0.0,
        failures=failures)


def report_to_dict(report: Report) -> dict[str, object]:
    """Return the JSON form of a report."""
    return asdict(report)


def _grounded_chars(answer: Answer, texts: dict[str, str]) -> tuple[int, int]:
    """Return (characters of the answer found verbatim in the sources, all characters), framing and markers aside."""
    if not answer.found:
        return 0, 0
    pieces = [p for p in re.split(r"\s*\[\d+\]\s*|\n\n", answer.answer) if p.strip() and p != UNSURE]
    total = sum(len(p) for p in pieces)
    found = sum(len(p) for p in pieces if any(p.strip() in text for text in texts.values()))
    return found, total
