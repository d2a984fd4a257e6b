"""Questions: what kind of answer a question asks for, and which of its words carry meaning.

Pure functions over the question text, shared by the retriever (to favour
sentences holding the right kind of answer) and the short-answer picker.
"""
from __future__ import annotations

import re

from .lexical import terms

PEOPLE = ("PERSON", "ORG", "NORP", "GPE")
TIMES = ("DATE", "TIME")
PLACES = ("GPE", "LOC", "FAC")
NUMBERS = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")
NAMES = ("PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW", "LANGUAGE", "PROPN")

# Up to three words between the wh-word and the noun that types the answer ("which Iraqi city", "what body
# of water", "what is the cost"), but no auxiliary: in "what did the ministers promise" the noun is the subject.
_MODIFIERS = r"(?:(?!(?:do|does|did|has|have|had|will|would|can|could|should|may|might|must)\b)[\w'\u2019-]+ ){0,3}?"
_ROLES = (r"minister|leader|official|president|king|queen|ruler|duke|count|earl|baron|lord|knight|prince|princess|"
          r"emperor|pope|bishop|archbishop|general|admiral|commander|head of state|founder|author|son|daughter|wife|"
          r"husband|father|mother|brother|sister|nephew|niece|uncle|heir|successor|predecessor")
_CALENDAR = r"(what|which) ((is|was|are|were) )?(the )?(exact |calendar |specific |precise )?(date|day)s?\b"

# (pattern at the question's first wh-word, labels in order of preference, labels accepted at all), first
# match wins. The accepted sets are mostly wider because the small spaCy model often mislabels (a year as
# CARDINAL, a region as ORG); a typed question is refused when no accepted mention is in the evidence, so a
# narrow set (a cost wants MONEY, "who is the commander" a PERSON) is what makes such questions declinable.
_RULES: list[tuple[re.Pattern[str], tuple[str, ...], tuple[str, ...]]] = [
    (re.compile(rf"(what|which) {_MODIFIERS}(cost|price|budget|bill|fee|salary|sum|funding)s?\b|"
                r"how much\b.*\b(cost|costs|pay|paid|spend|spent|worth|price|budget|fund|funding)\b"),
     ("MONEY",), ("MONEY", "CARDINAL")),  # the small model often tags "480 million euros" as CARDINAL "480 million"
    (re.compile(r"how (many|much) (years|months|weeks|days|hours|minutes|decades|centuries|time)\b"),
     TIMES + NUMBERS, TIMES + NUMBERS),
    (re.compile(rf"how (many|much)\b|(what|which) {_MODIFIERS}(number|percentage|share|amount|population|total|toll|"
                r"tally)s?\b"), NUMBERS, NUMBERS + ("ORDINAL",)),
    (re.compile(r"how (long|old|often)\b"), TIMES + NUMBERS, TIMES + NUMBERS + ("ORDINAL",)),
    (re.compile(rf"(what|which) {_MODIFIERS}(venue|hotel|palace|stadium|hall|headquarters)s?\b"),
     ("FAC", "ORG"), ("FAC", "ORG", "LOC")),
    (re.compile(rf"who(m)? (is|was|are|were|will be) (the )?{_MODIFIERS}(commander|leader|head|chief|president|"
                r"minister|admiral|general|king|queen|ruler|duke|mayor|governor|chairman|director|spokes(man|woman))s?\b"),
     ("PERSON", "PROPN"), ("PERSON", "PROPN")),
    (re.compile(_CALENDAR), TIMES, TIMES),
    (re.compile(rf"when\b|(what|which) {_MODIFIERS}(year|date|day|month|time|century|decade|period|era)s?\b"),
     TIMES, TIMES + ("CARDINAL", "ORDINAL", "EVENT")),
    (re.compile(rf"where\b|(what|which) {_MODIFIERS}(country|countries|city|cities|region|place|nation|capital|town|"
                r"state|province|area|continent|river|sea|ocean|water|island|location|site|port)s?\b"),
     PLACES, tuple(label for label in NAMES if label != "PERSON")),
    (re.compile(rf"who(m|se)?\b|(what|which) {_MODIFIERS}(person|people|group|organi[sz]ation|company|{_ROLES}|"
                r"man|woman|unit|army|division|agency|party|team|family|dynasty|tribe)s?\b|"
                rf"(what|which) (is|was|are|were) the names? of (the )?{_MODIFIERS}({_ROLES})s?\b"),
     ("PERSON",) + PEOPLE[1:] + ("PROPN",), NAMES),
    (re.compile(rf"(what|which) {_MODIFIERS}(language|religion|nationality|ethnicity)\b"),
     ("NORP", "LANGUAGE"), NAMES),
    (re.compile(rf"(what|which) {_MODIFIERS}(ship|carrier|vessel|aircraft|plane|building|newspaper|book|film|treaty|"
                r"law|battle|war|event|operation|plan|campaign|force)s?\b"),
     ("PRODUCT", "FAC", "EVENT", "LAW", "WORK_OF_ART", "ORG", "PROPN"), NAMES),
    (re.compile(r"(what|which) (is|was|are|were) the names? of\b"), NAMES, NAMES),
]

_DURATION = re.compile(r"^(about |some |nearly |almost |over |more than )?(\d+|a|an|one|two|three|four|five|six|seven|"
                       r"eight|nine|ten|several|few|a few|many)( \w+)? (seconds?|minutes?|hours?|days?|weeks?|months?|"
                       r"years?|decades?|centuries)$", re.IGNORECASE)
_WH_WORD = re.compile(r"\b(who|whom|whose|what|which|when|where|how)\b")
_WHY = re.compile(r"\bwhy\b")


# Function words and question words: they say how to ask, not what about.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where
which while who whom whose why will with would you your yours yourself yourselves according said say says tell
""".split())


def expected_labels(question: str) -> tuple[str, ...]:
    """Return the mention labels that best answer ``question``, most likely first; () when the type is unclear.

    Example: 'How many ministers met?' -> ('CARDINAL', 'QUANTITY', 'MONEY', 'PERCENT').
    """
    return _rule(question)[0]


def accepted_labels(question: str) -> tuple[str, ...]:
    """Return every mention label that may answer ``question`` (a superset of expected_labels)."""
    return _rule(question)[1]


def _rule(question: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Match the rules at the first wh-word: 'Who led them when ...' is a who-question, not a when-question."""
    lowered = question.lower()
    first = _WH_WORD.search(lowered)
    if first is None:
        return (), ()
    for pattern, preferred, accepted in _RULES:
        if pattern.match(lowered, first.start()):
            return preferred, accepted
    return (), ()


_SPEECH = re.compile(r"\b(say|says|said|tell|told|think|thinks|mean|means|describe|call|characteri[sz]e|announce|"
                     r"remark|add|note|warn|claim|argue|believe|promise|admit|concede|comment)\b")
_WORDS = re.compile(r"\b(according to|remarks?|words|quote|statement|message|metaphor|phrase|slogan|comments?)\b")


def asks_for_a_thing(question: str) -> bool:
    """Return whether the answer is an open noun phrase: a what/which question that does not ask what was said.

    Example: 'What did Washington request?' -> True; 'What did Le Drian say about it?' -> False.
    """
    lowered = question.lower()
    first = _WH_WORD.search(lowered)
    return first is not None and first.group() in ("what", "which") and not _SPEECH.search(lowered)


def is_wrong_kind_of_date(question: str, mention: str) -> bool:
    """Return whether ``mention`` is a length of time while ``question`` asks for a date on the calendar.

    Example: 'On what date did they meet?' and 'three weeks' -> True; 'When will they meet?' -> False.
    """
    return bool(re.search(_CALENDAR, question.lower())) and bool(_DURATION.match(mention.strip()))


def asks_for_words(question: str) -> bool:
    """Return whether ``question`` asks what someone said, so a quotation is the short answer.

    Example: 'What remark did Carter make on the ship?' -> True; 'Who said it?' -> False.
    """
    lowered = question.lower()
    first = _WH_WORD.search(lowered)
    return first is not None and first.group() in ("what", "which", "how") \
        and bool(_SPEECH.search(lowered) or _WORDS.search(lowered))


def asks_how_or_why(question: str) -> str | None:
    """Return "how" for a question about the manner of something, "why" for one about its reason, else None.

    Example: 'How will they destroy it?' -> 'how'; 'How many met?' -> None (a number question).
    """
    first = _WH_WORD.search(question.lower()) or _WHY.search(question.lower())
    if first is None or first.group() not in ("how", "why") or _rule(question)[0]:
        return None
    return first.group()


def named_in_question(mention: str, question_terms: set[str]) -> bool:
    """Return whether every content word of ``mention`` is already in the question."""
    words = set(terms(mention))
    return bool(words) and words <= question_terms


def is_content_piece(piece: str) -> bool:
    """Return whether a word piece carries meaning: has a letter or digit and is no stop word."""
    return any(char.isalnum() for char in piece) and piece.removeprefix("##").lower() not in STOP_WORDS
