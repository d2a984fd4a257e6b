"""Lists: the whole of a list that runs on past the sentence the reader found it in.

"What are the three objectives?" is answered in one sentence that ends with a colon, or with the first
items, and goes on in the next: a quotation that continues, a sentence that starts in lower case or with
"And"/"Also", or one that names the same thing the question asks for ("Four smaller stops will ...").
``list_block`` takes those following sentences of the same paragraph; ``holds_list`` says whether a short
answer holds the whole list; ``enumerates`` tells a sentence that lists things, which ``compose.py``
scores ``CUE`` higher. Text rules only; the answer is composed in ``compose.py``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .lexical import terms
from .sentences import Sentence

MAX_MORE = 2  # sentences a list may run on into
CUE = 3.5  # added to the relevance of a sentence that lists things (the reader's logit scale)
_GOES_ON = re.compile(r"^(?:[\"“‘'(]|[a-z]|(?:and|also|other|another|plus|besides|in addition|as well)\b)")
_ENUMERATION = re.compile(r"[^,;:]+(?:,[^,;:]+)+,? (?:and|or) |:\s*\S")


def list_block(text: str, sentences: Sequence[Sentence], first: int, question: str) -> list[int]:
    """Return sentence ``first`` and the following sentences of its paragraph that go on with its list."""
    asked = set(terms(question))
    block = [first]
    for number in range(first + 1, min(len(sentences), first + 1 + MAX_MORE)):
        before, sentence = sentences[number - 1], sentences[number]
        if "\n\n" in text[before.end:sentence.start]:
            break
        said = text[sentence.start:sentence.end]
        previous = text[before.start:before.end]
        if not (previous.rstrip().endswith(":") or _GOES_ON.match(said) or asked & set(terms(said)) & _nouns(said)):
            break
        block.append(number)
    return block


def enumerates(sentence: str) -> bool:
    """Return whether ``sentence`` lists things: "A, B and C", or a colon followed by items."""
    return _ENUMERATION.search(sentence) is not None


def holds_list(short: str) -> bool:
    """Return whether ``short`` is a list ("A, B and C"): a list question's bold short answer is a whole list or
    nothing (a count such as "seven", or one item, is not what "which countries?" asks for)."""
    return bool(re.search(r",| and | or |&", short))


def _nouns(sentence: str) -> set[str]:
    """Return the terms of the sentence's subject words (those before its first verb-like word): what it is about."""
    head = re.split(r"\b(?:will|would|is|are|was|were|has|have|had|can|could|may|must|should)\b", sentence, 1)[0]
    return set(terms(head))
