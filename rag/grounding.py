"""Grounding: check an LLM's draft against the passages it was given, and keep only citations that are there.

Each claim's quote must occur in the passage it names, allowing only differences of whitespace and quote marks
(straight or curly); it then becomes a ``Citation`` with exact offsets into the article, whose ``text`` is the
article's own characters. Quotes that fail are dropped and counted; markers are renumbered to the citations that
remain; a sentence of the answer left without a marker is reported as unsupported. ``written_answer`` is the one
hook the pipeline calls: it turns the extractive answer and the findings into the LLM's checked answer, or keeps
the extractive answer with a one-sentence notice when the model fails or nothing it cites is found. Nothing here
talks to a server (``rag.llm`` does) or retrieves.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .answerer import NOT_FOUND, Answer, Citation, Policy, Span, related
from .followup import Turn
from .llm import Draft, OnText, Source, Writer, WriterError, sentence_spans
from .reading import Findings
from .retriever import Passage
from .stores import Snapshot

SOURCES = 4  # passages the model reads
MIN_QUOTE_CHARS = 4  # a shorter quote ("the") proves nothing
NOTHING_FOUND = "None of the language model's quotes were found in the articles, so this answer is extractive."
_QUOTE_MARKS = str.maketrans({c: '"' for c in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"} |
                             {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`\u00b4"})
_MARKER = re.compile(r"\s*\[(\d{1,3})\]")


@dataclass(frozen=True)
class Grounded:
    """A draft after checking: the answer with renumbered markers, its citations, what is left unsupported."""

    answer: str
    citations: tuple[Citation, ...]
    unsupported: tuple[Span, ...]
    dropped: int


def _normalized(text: str) -> tuple[str, list[int]]:
    """Return ``text`` with quote marks made straight and whitespace runs made one space, and for each character
    kept its offset in ``text``."""
    chars, origin = [], []
    for at, char in enumerate(text.translate(_QUOTE_MARKS)):
        if char.isspace():
            if chars and chars[-1] == " ":
                continue
            char = " "
        chars.append(char)
        origin.append(at)
    return "".join(chars), origin


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Return where ``quote`` occurs in ``text`` (up to whitespace and quote marks), as offsets into ``text``.

    Example: locate('said “we will”', 'He said\\n"we will" go') -> (3, 17)
    """
    haystack, origin = _normalized(text)
    wanted, _ = _normalized(quote.strip())
    for candidate in (wanted, wanted.strip("\"'").strip()):  # as written, then without wrapping quote marks
        if len(candidate) < MIN_QUOTE_CHARS or not any(c.isalnum() for c in candidate):
            continue
        at = haystack.find(candidate)
        if at >= 0:
            return origin[at], origin[at + len(candidate) - 1] + 1
    return None


def ground(draft: Draft, passages: Sequence[Passage], index: Snapshot) -> Grounded:
    """Check every claim of ``draft`` against its passage (``passages[n - 1]`` is passage ``n``)."""
    valid: dict[int, list[tuple[Passage, int, int]]] = {}
    dropped = 0
    for claim in draft.claims:
        passage = passages[claim.passage - 1] if 1 <= claim.passage <= len(passages) else None
        found = locate(claim.quote, passage.chunk.text) if passage else None
        if passage is None or found is None:
            dropped += 1
            continue
        valid.setdefault(claim.marker, []).append((passage, passage.chunk.start + found[0],
                                                   passage.chunk.start + found[1]))
    numbers: dict[tuple[str, int, int], Citation] = {}

    def renumber(marker: re.Match[str]) -> str:
        cited = []
        for passage, start, end in valid.get(int(marker.group(1)), ()):
            key = (passage.chunk.source, start, end)
            if key not in numbers:
                text = index.article(passage.chunk.source).text
                numbers[key] = Citation(len(numbers) + 1, passage.chunk.source, passage.title, passage.doc_id,
                                        start, end, text[start:end], round(passage.score, 4))
            cited.append(numbers[key].n)
        return "".join(f"{' ' if i == 0 else ''}[{n}]" for i, n in enumerate(dict.fromkeys(cited)))

    answer = _MARKER.sub(renumber, draft.answer).strip()
    unsupported = tuple(Span(start, end) for start, end in sentence_spans(answer)
                        if not re.search(r"\[\d+\]", answer[start:end]))
    return Grounded(answer, tuple(numbers.values()), unsupported, dropped)


def best_passages(findings: Findings, most: int = SOURCES) -> list[Passage]:
    """Return the passages the reader read, best evidence first, each once."""
    chosen: dict[int, Passage] = {}
    for evidence in findings.evidence:
        chosen.setdefault(evidence.passage.number, evidence.passage)
    return list(chosen.values())[:most]


def written_answer(writer: Writer, extractive: Answer, question: str, history: Sequence[Turn], findings: Findings,
                   index: Snapshot, policy: Policy, on_text: OnText | None = None) -> Answer:
    """Return the model's answer with checked citations; the extractive one with a notice when it can't be had.

    A question that nothing retrieved is about (declined as off-topic) is not sent.
    """
    passages = best_passages(findings)
    if not passages or not related(findings, policy):
        return extractive
    sources = [Source(n, p.title, p.chunk.source, p.chunk.text) for n, p in enumerate(passages, start=1)]
    try:
        draft = writer.write(question, history, sources, on_text)
    except WriterError as error:
        return dataclasses.replace(extractive, notice=str(error))
    if not draft.found:
        return Answer(question, NOT_FOUND, None, False, generated=True, model=draft.model)
    grounded = ground(draft, passages, index)
    if not grounded.citations:
        return dataclasses.replace(extractive, notice=NOTHING_FOUND, quotes_dropped=grounded.dropped)
    return Answer(question, grounded.answer, None, True, grounded.citations, sure=not grounded.unsupported,
                  generated=True, model=draft.model, unsupported=grounded.unsupported,
                  quotes_dropped=grounded.dropped)
