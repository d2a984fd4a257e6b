"""Needs: what a sure answer to a question must show, read from the question's own words once.

``needs('How much did Halvorsen pay for "Nordic Box"?')`` -> kind ``money``, terms ('nordic', 'box', 'halvorsen'):
the answer must be an amount of money, and the names must be near it. ``rag.support`` checks an answer against
this; nothing here reads an article.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .lexical import terms

_MONEY_WORDS = (r"cost\w*|pa(y|id|ys|ying)|spen[dt]\w*|worth|price\w*|fund\w*|money|budget\w*|earn\w*|"
                r"gi(ve|ven|ves|ving)|gave|rais\w*|owe\w*|sell\w*|sold|bid\w*|offer\w*|invest\w*|fine[ds]?|"
                r"charg\w*|valu\w*|salar\w*|wages?|fees?|loan\w*|borrow\w*|lend\w*|lent|grant\w*|"
                r"compensat\w*|receiv\w*|get|got")
_ASKS_MONEY = re.compile(rf"^(how much|what (amount|sum))\b.*\b({_MONEY_WORDS})\b|^what (price|sum|salary|fee)\b",
                         re.IGNORECASE)
_ASKS_CHANGE = re.compile(r"\b(rise|rose|risen|fall|fell|fallen|grow|grew|grown|increas\w*|drop\w*|declin\w*|"
                          r"climb\w*|jump\w*|shr[iu]nk\w*)\b", re.IGNORECASE)  # "how much did prices rise?": a number
_ASKS_QUANTITY = re.compile(r"^how much (?!(money|cash|more|less|longer|further|higher|lower|bigger|larger|smaller|"
                            r"did|does|do|is|was|will|would|has|have|had|are|were|can|could|should|of)\b)[a-z]+",
                            re.IGNORECASE)  # "how much water": not money
_ASKS_DURATION = re.compile(r"^how (long (does|did|do|will|would|has|have|had|to|ago|was|were|is|are) (?!the \w+ (wide|"
                            r"high|deep))|old)\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(r"^(how (many|much|long|old|far|big|large|tall|high|deep|cold|warm|hot|fast|heavy|"
                          r"often)|what (percentage|percent|proportion|share|number|fraction))\b", re.IGNORECASE)
_ASKS_DATE = re.compile(r"^(when|(in |on |by |until |since )?(what|which) (year|day|date|month|time|century|"
                        r"decade|night|morning|evening|season|week))\b", re.IGNORECASE)
_ASKS_PERSON = re.compile(r"^(who|whom)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,})[\"”]")
_WORD = re.compile(r"[\w'’.-]*\w")
_COUNTED = re.compile(r"^how many ((?:(?!(?:do|does|did|is|are|was|were|will|would|can|could|have|has|had|should|"
                      r"of)\b)[\w-]+ ?){1,2})", re.IGNORECASE)
_ANY_COUNTED = frozenset(("peopl", "person", "time"))  # counted by any noun: "how many people" -> "11,000 donors"


@dataclass(frozen=True)
class Needs:
    """A question, analysed once: the kind of answer it asks for and the terms an answer must be about."""

    text: str
    kind: str  # "money", "quantity", "duration", "number", "date", "person" or "" (anything)
    terms: tuple[str, ...]  # stemmed names, numbers and quoted words (rag.lexical.terms)
    words: frozenset[str]  # stemmed content words, to tell an answer that only repeats the question
    counted: tuple[str, ...] = ()  # what "how many" counts, stemmed ("how many main goals": 'main', 'goal')


def needs(question: str) -> Needs:
    """Return what ``question`` asks for. Example: 'How much did Halvorsen pay for "Nordic Box"?' ->
    kind 'money', terms ('nordic', 'box', 'halvorsen')."""
    text = question.strip()
    money = _ASKS_MONEY.search(text) and not _ASKS_CHANGE.search(text)
    kind = ("money" if money else "quantity" if _ASKS_QUANTITY.search(text)
            else "duration" if _ASKS_DURATION.search(text) else "number" if _ASKS_NUMBER.search(text)
            else "date" if _ASKS_DATE.search(text) else "person" if _ASKS_PERSON.search(text) else "")
    named = [match.group(1) for match in _QUOTED.finditer(text)]
    for position, match in enumerate(_WORD.finditer(text)):
        word = match.group(0)
        if (position > 0 and word[0].isupper()) or any(c.isdigit() for c in word):
            named.append(word)
    found = tuple(dict.fromkeys(term for phrase in named for term in folded_terms(phrase)))
    counting = _COUNTED.search(text)
    counted = folded_terms(counting.group(1)) if counting else ()
    if counted[:1] and counted[0] in _ANY_COUNTED:
        counted = ()
    return Needs(text, kind, found, frozenset(folded_terms(text)), counted)


def folded_terms(text: str) -> tuple[str, ...]:
    """Return ``rag.lexical.terms`` of ``text`` without accents: a question typed 'Herve' names 'Hervé'."""
    return terms("".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)))
