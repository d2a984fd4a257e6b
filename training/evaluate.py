"""Reader evaluation on SQuAD 2.0 ``dev.json`` with the official metric, gold paragraph given.

The prediction for a question is the best span of its paragraph when that
span's score beats the no-answer score by more than a threshold, else no
answer. Figures: EM and F1 (official SQuAD 2.0 script logic), HasAns F1,
NoAns accuracy, at threshold 0 and at the best threshold on the set.
Decoding is the runtime's own (``rag.reader.read_texts``).
"""
from __future__ import annotations

import collections
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.reader import Text, Tokens, Window, cut, decode

from .data import Paragraph, Question


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, articles and extra white space (the official SQuAD rule)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact(gold: str, prediction: str) -> float:
    return float(normalize_answer(gold) == normalize_answer(prediction))


def f1(gold: str, prediction: str) -> float:
    """Token F1; both empty counts as 1, one empty as 0 (the official SQuAD 2.0 rule)."""
    gold_tokens, predicted = normalize_answer(gold).split(), normalize_answer(prediction).split()
    if not gold_tokens or not predicted:
        return float(gold_tokens == predicted)
    common = sum((collections.Counter(gold_tokens) & collections.Counter(predicted)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Prediction:
    """The best span's text and its margin over no answer."""

    text: str
    margin: float


@dataclass(frozen=True)
class Figures:
    exact: float
    f1: float
    has_answer_f1: float
    no_answer_accuracy: float
    threshold: float


def predict(paragraphs: list[Paragraph], questions: list[Question], tokens: Tokens,
            logits: Callable[[list[Window]], list[np.ndarray]], max_tokens: int) -> dict[str, Prediction]:
    """Read each question's own paragraph and return its best span and margin (all windows in one batch run)."""
    texts = [[Text(p.text, 0, len(p.text), p.sentences)] for p in (paragraphs[q.paragraph] for q in questions)]
    pieces = [cut(q.question, t, tokens, max_tokens) for q, t in zip(questions, texts)]
    outputs = logits([window for part in pieces for _, window in part])
    result, at = {}, 0
    for question, text, part in zip(questions, texts, pieces):
        reading = decode(text, part, outputs[at:at + len(part)])[0]
        at += len(part)
        best = reading.best
        result[question.qid] = Prediction(text[0].text[best.span_start:best.span_end] if best else "",
                                          reading.margin if best else -1e9)
    return result


def score(predictions: dict[str, Prediction], gold: dict[str, list[str]], threshold: float) -> Figures:
    """Return the official figures with answers given only where the margin is above ``threshold``."""
    exacts, f1s, has, no = [], [], [], []
    for qid, answers in gold.items():
        prediction = predictions[qid]
        said = prediction.text if prediction.margin > threshold else ""
        golds = answers or [""]
        exacts.append(max(exact(a, said) for a in golds))
        f1s.append(max(f1(a, said) for a in golds))
        (has if answers else no).append(f1s[-1])
    return Figures(round(100 * float(np.mean(exacts)), 2), round(100 * float(np.mean(f1s)), 2),
                   round(100 * float(np.mean(has)), 2) if has else 0.0,
                   round(100 * float(np.mean(no)), 2) if no else 0.0, round(threshold, 3))


def best_threshold(predictions: dict[str, Prediction], gold: dict[str, list[str]]) -> Figures:
    """Return the figures at the threshold that gives the highest F1 on this set."""
    candidates = sorted({round(p.margin, 2) for p in predictions.values()} | {0.0})
    best = score(predictions, gold, 0.0)
    for threshold in np.quantile(candidates, np.linspace(0, 1, 201)):
        figures = score(predictions, gold, float(threshold))
        if figures.f1 > best.f1:
            best = figures
    return best
