"""Explanations: prefer the sentence that gives a reason ("because", "which is why", "due to") for why/how.

The reader scores a short span; a why-question's answer is a clause, and the sentence that holds it says
so with words of cause and purpose. ``with_reasons`` adds ``CUE`` to the sentence score of evidence that
has such words, so the composer quotes it first. Nothing else changes: the same evidence, the same policy.
"""
from __future__ import annotations

import re

CUE = 3.0  # added to a reason-giving sentence's relevance (the reader's logit scale)
_SCHEDULED = r"be|begin|start|open|close|end|finish|take|meet|arrive|reach|run|return|go|come|hold|launch|resume|make"
_REASON = re.compile(  # "since" is left out: in news it mostly means "from then on"
    rf"\b(?:because|due to(?! (?:{_SCHEDULED})\b)|owing to|thanks to|as a result|result of|so that|in order to"
    r"|which is why|that is why|this is why|the reason|caus(?:e|es|ed|ing)|led to|leads to|means that|this means"
    r"|which means|explained|therefore|aimed at|so as to)\b", re.IGNORECASE)


def gives_reason(sentence: str) -> bool:
    """Return whether ``sentence`` has words of cause or purpose."""
    return _REASON.search(sentence) is not None
