"""Kinds: what kind of answer a question wants, decided once from the question's own words.

``analyse("What did Carter say about Le Drian?")`` -> ``Asked(kind="quote", speaker="Carter", ...)``.
The kinds: ``fact`` (a short span inside one sentence, the reader's own path), ``overview`` (what an article
is about), ``quote`` (who said what), ``list`` (several items), ``explanation`` (why or how) and ``yesno``.
Only the question's form counts (its question word, its auxiliary, a plural after "which", a request to
summarize), never its topic, and anything unclear stays a ``fact``: the short-fact path is the default.
This is the one place a question is analysed: ``Asked`` also carries the question as it is read (a bare
follow-up filled in from the conversation, ``rag.followup``) and what a sure answer to it must show
(``rag.needs``), and the stages after it take that. Nothing here reads an article.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .followup import Turn, fill_in
from .needs import Needs, needs

Kind = Literal["fact", "overview", "quote", "list", "explanation", "yesno"]
KINDS: tuple[Kind, ...] = ("fact", "overview", "quote", "list", "explanation", "yesno")

_DOCUMENT = r"(?:the |this |that |these |those |my )?(?:article|story|piece|text|report|document|news|page|source|articles|stories)"
_OVERVIEW = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+)?(?:"
    r"summari[sz]e\b|sum (?:it|this|up)\b|summary\b|give (?:me )?(?:a |the )?(?:summary|gist|overview|rundown|tl;?dr)\b"
    r"|tl;?dr\b|gist\b|overview\b|recap\b|in (?:a )?(?:nutshell|brief|short)\b"
    r"|(?:what(?:'s| is| are)) (?:the )?(?:gist|summary|main points?|key points?|key takeaways?|main takeaways?"
    r"|takeaways?|highlights?|main ideas?|key facts?|upshot)\b"
    r"|(?:what|which) (?:are )?(?:the )?(?:key|main) (?:points|takeaways|facts|ideas)\b"
    r"|(?:main|key) (?:points|takeaways)\b"
    rf"|what(?:'s| is| are) {_DOCUMENT} (?:about|saying)\b"
    rf"|what (?:does|do) {_DOCUMENT} (?:say|cover|tell (?:me|us))\b\s*[?.!]*$"
    rf"|what happened\b\s*(?:here|in {_DOCUMENT})?\s*[?.!]*$"
    r")", re.IGNORECASE)
_SPEAKER = r"(?P<speaker>(?:the |a |an )?[\w'’.\- ]{2,60}?)"
_QUOTES = tuple(re.compile(pattern, re.IGNORECASE) for pattern in (
    rf"^(?:what|how) (?:did|does|do|has|have|had|was|is|were) {_SPEAKER} "
    r"(?:say|said|tell|told|think|thought|have to say|make of|comment|claim|argue|announce|add|write|wrote)\b"
    r"(?:.*?\babout (?P<topic>.+?)|.*?)\s*[?.!]*$",
    rf"^how (?:did|does|do|has|have|had) {_SPEAKER} (?:react|respond|reply|answer|feel)\b"
    r"(?:.*?\b(?:to|about) (?P<topic>.+?)|.*?)\s*[?.!]*$",
    rf"^what (?:was|is|were|are) {_SPEAKER}(?:'s|’s|s'|s’) (?:reaction|response|view|position|comment|answer)s?\b"
    r"(?:.*?\b(?:to|on|about) (?P<topic>.+?)|.*?)\s*[?.!]*$"))
_AUXILIARY = re.compile(r"^(?:is|are|was|were|do|does|did|can|could|will|would|has|have|had|should|shall|must|may"
                        r"|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|can't|won't|hasn't|haven't)\b",
                        re.IGNORECASE)
_WHY = re.compile(r"^(?:why\b|how come\b|for what (?:reason|purpose)\b|what (?:was|is|were|are) the (?:reasons?|causes?"
                  r"|purpose)\b|what (?:caused|led to)\b|how (?:did|does|do|was|is|were|are|will|would|can|could)\b"
                  r"(?! (?:\w+ ){0,6}(?:react|respond|reply|feel)\b))", re.IGNORECASE)
_HOW_MEASURE = re.compile(r"^how (?:much|many|long|old|far|big|tall|large|often|soon|high|deep|wide|fast|early|late)\b",
                          re.IGNORECASE)
_LIST = re.compile(
    r"^(?:list|name|enumerate)\b"
    r"|^(?:(?:in|from|to|of|at|on|for|by|with|into|between) )?(?:which|what) (?:[\w'’-]+ )??(?P<plural>\w+s) "
    r"(?:are|were|did|do|does|have|has|had|will|would|can|could|should|may|might|must|took|take|\w+ed)\b"
    r"|^(?:what|who) (?:are|were) (?:the )?(?:[\w'’-]+ )?(?:(?:two|three|four|five|six|seven|eight|nine|ten|\d+) )?"
    r"(?P<plural2>\w+s)\b"
    r"|^who (?:co-?chaired|attended|took part|participated|signed)\b",
    re.IGNORECASE)
_NOT_PLURAL = re.compile(r"(?:ss|us|is|ics|news|series|species|^was|^has|^does|^this|^its|^his|^as|^yes)$",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Asked:
    """A question analysed: the kind of answer it wants; ``speaker`` and ``topic`` are set for a quote question.

    ``question`` is as the user asked it; ``read`` as the reader reads it ("When?" after "Where will the ministers
    meet?" reads "When will the ministers meet?"); ``needs`` what a sure answer to it must show. ``speaker`` is the
    words the question names the speaker by ("the transport minister", "Carter"); ``topic`` what they spoke about,
    when the question says ("Le Drian").
    """

    question: str
    read: str
    needs: Needs
    kind: Kind = "fact"
    speaker: str | None = None
    topic: str | None = None


def analyse(question: str, history: Sequence[Turn] = ()) -> Asked:
    """Return what kind of answer ``question`` (already cleaned) wants, read after the conversation ``history``.

    Example: "Why was the meeting held in Paris?" -> explanation; "Who chaired the meeting?" -> fact.
    """
    read = fill_in(question, history)
    return Asked(question, read, needs(read), *_form(read.strip().strip("\"'“”")))


def _form(text: str) -> tuple[Kind, str | None, str | None]:
    """Return the kind of answer ``text`` wants, from its form alone, with a quote's speaker and topic."""
    if _OVERVIEW.search(text):
        return "overview", None, None
    quote = next((match for pattern in _QUOTES if (match := pattern.search(text))), None)
    if quote:
        speaker, topic = quote.group("speaker").strip(), quote.group("topic")
        if not re.fullmatch(r"(?:it|this|that|the article|the story|they|he|she|you|i|we)", speaker, re.IGNORECASE):
            return "quote", speaker, topic.strip() if topic else None
    if _HOW_MEASURE.search(text):
        return "fact", None, None
    if _WHY.search(text):
        return "explanation", None, None
    listing = _LIST.search(text)
    if listing:
        plural = listing.group("plural") or listing.group("plural2")
        if plural is None or not _NOT_PLURAL.search(plural):
            return "list", None, None
    if _AUXILIARY.search(text):
        return "yesno", None, None
    return "fact", None, None
