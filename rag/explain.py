"""Explanations: prefer the sentence that gives a reason ("because", "which is why", "due to") for why/how.

The reader scores a short span; a why-question's answer is a clause, and the sentence that holds it says
so with words of cause and purpose. ``with_reasons`` adds ``CUE`` to the sentence score of evidence that
has such words, so the composer quotes it first. Nothing else changes: the same evidence, the same policy.
"""
from __future__ import annotations

import re

CUE = 3.0  # added to a reason-giving sentence's relevance (the reader's logit scale)
_REASON = re.compile(
    r"\b(?:because|since|due to|owing to|thanks to|as a result|result of|so that|in order to|which is why|that is why"
    r"|this is why|the reason|caus(?:e|es|ed|ing)|led to|leads to|means that|this means|which means|explained"
    r"|therefore|aimed at|so as to)\b", re.IGNORECASE)


def gives_reason(sentence: str) -> bool:
    """Return whether ``sentence`` has words of cause or purpose."""
    return _REASON.search(sentence) is not None
