"""Search: the passages that best match a query, with their scores, and no answer composed.

A thin layer over a loaded ``Assistant`` for front doors that let a caller (a person or
a model) look through the articles itself; ``Assistant.ask`` is the way to an answer.
"""
from __future__ import annotations

from dataclasses import dataclass

from .pipeline import MAX_K, Assistant, check_k, clean_question

__all__ = ["MAX_K", "Hit", "search"]


@dataclass(frozen=True)
class Hit:
    """A passage found by ``search``: ``article.text[start:end] == text``.

    ``score`` fuses the dense and BM25 rankings (reciprocal rank fusion; higher is better, comparable
    only within one search); ``similarity`` is the passage's cosine similarity to the query.
    """

    rank: int
    source: str
    title: str
    doc_id: str
    start: int
    end: int
    text: str
    score: float
    similarity: float


def search(assistant: Assistant, query: str, k: int = 5, article: str | None = None) -> list[Hit]:
    """Return the ``k`` passages that best match ``query``, best first; ``article`` (a doc_id) limits them to one."""
    query = clean_question(query, assistant.settings.max_question_chars)
    check_k(k)
    retriever = assistant.retriever  # its index is the one searched, even if a rebuilt one is swapped in meanwhile
    within = None if article is None else retriever.index.article_chunks(article)
    passages = retriever.retrieve(query, assistant.encoder.embed([query])[0], k, within=within)
    return [Hit(p.rank, p.chunk.source, p.title, p.doc_id, p.chunk.start, p.chunk.end, p.chunk.text,
                round(float(p.score), 6), round(float(p.dense), 4)) for p in passages]
