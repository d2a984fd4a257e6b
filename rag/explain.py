"""Explanations: prefer the sentence that gives a reason ("because", "which is why", "due to") for why/how.

The reader scores a short span; a why-question's answer is a clause, and the sentence that holds it says
so with words of cause and purpose. ``with_reasons`` adds ``CUE`` to the sentence score of evidence that
has such words, so the composer quotes it first. Nothing else changes: the same evidence, the same policy.
"""
from __future__ import annotations

import dataclasses
import re

from .reading import Findings

CUE = 2.0  # added to a reason-giving sentence's relevance (the reader's logit scale)
_REASON = re.compile(
    r"\b(?:because|since|due to|owing to|thanks to|as a result|result of|so that|in order to|which is why|that is why"
    r"|this is why|the reason|reasons?|caus(?:e|es|ed|ing)|led to|leads to|means that|this means|which means|explained"
    r"|therefore|after|aimed at|to make|so as to|by \w+ing)\b", re.IGNORECASE)


def gives_reason(sentence: str) -> bool:
    """Return whether ``sentence`` has words of cause or purpose."""
    return _REASON.search(sentence) is not None


def with_reasons(findings: Findings, text_of: dict[str, str]) -> Findings:
    """Return ``findings`` with reason-giving sentences scored ``CUE`` higher; ``text_of`` maps source to text."""
    evidence = tuple(dataclasses.replace(e, relevance=e.relevance + CUE)
                     if gives_reason(text_of[e.passage.chunk.source][e.start:e.end]) else e
                     for e in findings.evidence)
    return dataclasses.replace(findings, evidence=evidence)
