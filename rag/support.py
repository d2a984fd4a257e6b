"""Support: is the reader's best answer really an answer to *this* question? Decides sure vs hedged.

The reader's margin says how sure it is of a span; it does not say whether the span answers what was asked.
Checks that need no model, each about the question and the evidence that holds the answer:

- ``terms``: the names, numbers and quoted phrases of the question (a capitalized word that does not start
  it, a word with a digit, a phrase in quotes) each appear in the answer's sentence, its neighbours, its
  paragraph or its article's title. A question about Halvorsen's lawyer answered from a sentence about
  Carrow's lawyer misses "Halvorsen".
- ``kind``: the span is of the kind asked for: a number for "how many / how much / what percentage", an amount
  of money for "how much ... cost / pay / ..." (its currency may follow the span), not money for "how much
  water", a time unit (not "light years") for "how long does ... / how old", a date or time for "what year /
  what day / when ...", a name for "who" (a capitalized word, not a number, month or weekday).
- ``counted``: what "how many" counts ("how many cars") is named in or next to the span ("400 passengers and 60
  cars" answers with the passengers); a generic "how many people" counts anything.
- ``echo``: the span is not just words of the question.
- ``article``: in an index of several articles, the answer comes from the article of the best retrieved
  passage (the one most about the question's subject). Measured, not on by default: it hedged as many right
  answers as wrong ones.

What a question needs is analysed once (``rag.needs``, part of ``rag.kinds.Asked``); ``check_support`` runs
once per answer. Which checks count is the
policy's choice (``rag.answerer.Policy.checks``); the figures that chose them are in benchmarks/QUALITY.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .needs import Needs, folded_terms
from .reading import Evidence, Findings
from .stores import Snapshot

CHECKS = ("terms", "kind", "counted", "echo", "article")
UNIT_WORDS = 2  # words after the span that may hold its unit ("80 million" then "pounds")
COUNTED_BEFORE = 3  # words before the span where what "how many" counts may stand ("board voted 11 to 3")

_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                 r"hundred|thousand|million|billion|dozen|half|third|quarter|several|few|many")
_MONTHS = (r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
           r"nov(ember)?|dec(ember)?")
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|tonight"
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
_MONEY = re.compile(r"[$£€¥₹]|\b(\d[\d.,]*\s*(bn|m|k)?\s*)?(dollars?|pounds?|euros?|yen|francs?|roubles?|rubles?|"
                    r"kron(a|or|er|e)|crowns?|pence|cents?|lire|pesos?|rupees?|yuan|USD|EUR|GBP|NOK|SEK|DKK|CHF|JPY)\b")
_DATE = re.compile(rf"\b(\d{{3,4}}s?|\d{{1,2}}(st|nd|rd|th)|{_MONTHS}|{_DAYS}|morning|afternoon|evening|night|"
                   r"noon|midnight|midday|dawn|week|month|year|decade|century|centuries|spring|summer|autumn|"
                   r"winter|ago|later|earlier|\d{1,2}([:.]\d\d)?\s*(a\.?m\.?|p\.?m\.?)|\d{1,2}:\d\d)\b",
                   re.IGNORECASE)
_TIME_UNIT = re.compile(r"\b(seconds?|minutes?|hours?|days?|nights?|weeks?|fortnights?|months?|years?|decades?|"
                        r"centur(y|ies)|millenni(um|a))\b|-(second|minute|hour|day|week|month|year)\b", re.IGNORECASE)
_DISTANCE = re.compile(r"\blight[- ]years?\b", re.IGNORECASE)
_CAPITALIZED = re.compile(rf"\b(?!(?:{_MONTHS}|{_DAYS})\b)[A-Z][\w'’-]*")



@dataclass(frozen=True)
class Support:
    """What the checks found about one answer; ``doubts`` names the checks it failed."""

    missing: tuple[str, ...]  # question terms found near neither the answer nor in its article's title
    kind_agrees: bool
    counted_near: bool  # what "how many" counts is named by the span or the words around it
    same_article: bool  # the answer's article is that of the best retrieved passage
    echoes: bool  # the span is only words of the question

    @property
    def doubts(self) -> tuple[str, ...]:
        failed = {"terms": bool(self.missing), "kind": not self.kind_agrees, "counted": not self.counted_near,
                  "article": not self.same_article, "echo": self.echoes}
        return tuple(check for check in CHECKS if failed[check])


def kind_agrees(kind: str, span: str, unit: str = "") -> bool:
    """Return whether ``span`` is of the ``kind`` asked for (any span is, for no kind); ``unit``: the span with the
    character before it and the words after it, where an amount's currency or unit may stand."""
    unit = unit or span
    if kind == "money":
        return bool(_MONEY.search(unit))
    if kind == "quantity":
        return bool(_NUMBER.search(span)) and not _MONEY.search(unit)
    if kind == "duration":
        return bool(_TIME_UNIT.search(unit)) and not _DISTANCE.search(unit)
    if kind == "number":
        return bool(_NUMBER.search(span))
    if kind == "date":
        return bool(_DATE.search(span))
    if kind == "person":
        return bool(_CAPITALIZED.search(span)) and not re.fullmatch(r"[\W\d]*", span)
    return True


def context(evidence: Evidence, index: Snapshot) -> str:
    """Return the text an answer's terms may come from: its article's title, the paragraph of its sentence and
    the sentences next to it in its passage."""
    article = index.article(evidence.passage.chunk.source)
    text = article.text
    spans = [(s.start, s.end) for number, s in evidence.passage.sentences if abs(number - evidence.number) <= 1]
    start = min([evidence.start] + [s for s, _ in spans])
    end = max([evidence.end] + [e for _, e in spans])
    paragraph_start = text.rfind("\n\n", 0, evidence.start) + 1
    paragraph_end = text.find("\n\n", evidence.end)
    paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
    return " ".join((article.title, text[min(start, paragraph_start):max(end, paragraph_end)]))


def check_support(asked: Needs, best: Evidence, findings: Findings, index: Snapshot) -> Support:
    """Return how well the evidence ``best`` (the answer's sentence) supports an answer to ``asked``."""
    text = index.article(best.passage.chunk.source).text
    span = text[best.span_start:best.span_end]
    after = text[best.span_end:best.end].split()
    unit = " ".join([text[max(best.start, best.span_start - 1):best.span_end], *after[:UNIT_WORDS]])
    around = " ".join([*text[best.start:best.span_start].split()[-COUNTED_BEFORE:], span, *after[:UNIT_WORDS]])
    counted_near = not asked.counted or bool(set(asked.counted) & set(folded_terms(around)))
    near = set(folded_terms(context(best, index)))
    missing = tuple(term for term in asked.terms if term not in near)
    top = min(findings.evidence, key=lambda e: e.passage.rank)
    span_terms = set(folded_terms(span))
    return Support(missing, kind_agrees(asked.kind, span, unit), counted_near,
                   top.passage.doc_id == best.passage.doc_id, bool(span_terms) and span_terms <= asked.words)
