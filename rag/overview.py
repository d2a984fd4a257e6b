"""Overview answers: "What is this article about?", "Summarize", "Key points", each sentence cited.

One article (chosen, named in the question, or the only one): the few sentences ``summary.summarize``
picks, in the article's order. Several articles and none chosen or named: each article's title with
its first sentence (a news lead says what the story is), at most ``MAX_ARTICLES`` of them. Sentence
vectors come from the query encoder and are kept per article for the index version, so asking again is
fast. Nothing here reads with the reader.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .answerer import Answer, Citation
from .lexical import terms
from .sentences import Sentence
from .stores import Snapshot
from .summary import Method, sentence_count, summarize

MAX_ARTICLES = 10
CACHED = 256
# words of overview requests, so that what is left names an article ("Summarize the ferry story")
_REQUEST = frozenset(terms(
    "summarize summarise summary sum up give me gist overview recap tl dr tldr nutshell brief short key main points "
    "point takeaways takeaway highlights highlight ideas idea facts upshot article articles story stories piece text "
    "report document news page source about saying say cover tell happened here please can could you what this "
    "that these those is are the"))

Embed = Callable[[list[str]], np.ndarray]


class Overviews:
    """Overview answers over snapshots, with the sentence vectors of recent articles kept."""

    def __init__(self, embed: Embed, method: Method = Method()) -> None:
        self.embed = embed
        self.method = method
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, question: str, index: Snapshot, doc_id: str | None, k: int = 5) -> Answer:
        """Return the overview of article ``doc_id``, or of the only article, or a line per article; cite at most
        ``k`` sentences."""
        sources = index.manifest.sources
        if doc_id is None and len(sources) == 1:
            doc_id = sources[0].doc_id
        if doc_id is None:
            return self._articles(question, index, k)
        spans = article_sentences(index, doc_id)
        article = index.article(sources[index.article_number(doc_id)].source)
        spans = [s for s in spans if article.text[s.start:s.end].strip() != article.title.strip()] or spans
        if not spans:
            return Answer(question, "The article has no sentences to summarize.", None, False, answer_kind="overview")
        texts = [article.text[s.start:s.end] for s in spans]
        vectors = self._vectors_of(index.version, doc_id, texts)
        chosen = summarize(vectors, [len(t.split()) for t in texts], min(k, sentence_count(len(texts))), self.method)
        citations = tuple(Citation(n, article.source, article.title, doc_id, spans[i].start, spans[i].end, texts[i],
                                   1.0) for n, i in enumerate(chosen, start=1))  # in article order: none ranks first
        text = " ".join(f"{c.text} [{c.n}]" for c in citations)
        return Answer(question, text, None, True, citations, sure=True, answer_kind="overview")

    def named(self, question: str, index: Snapshot, best_doc: Callable[[], str | None]) -> str | None:
        """Return the article a question names beyond its request words ("Summarize the ferry story"), found by
        ``best_doc`` (a search), or None when it names none."""
        if len(index.manifest.sources) > 1 and set(terms(question)) - _REQUEST:
            return best_doc()
        return None

    def _articles(self, question: str, index: Snapshot, k: int) -> Answer:
        sources = index.manifest.sources
        citations, lines = [], []
        for info in sources[:min(k, MAX_ARTICLES)]:
            article = index.article(info.source)
            spans = [s for s in article_sentences(index, info.doc_id)
                     if article.text[s.start:s.end].strip() != article.title.strip()]
            if not spans:
                continue
            first = spans[0]
            citation = Citation(len(citations) + 1, info.source, article.title, info.doc_id, first.start, first.end,
                                article.text[first.start:first.end], 1.0)
            citations.append(citation)
            lines.append(f"{article.title}: {citation.text} [{citation.n}]")
        shown = min(k, MAX_ARTICLES)
        if len(sources) > shown:
            lines.append(f"... and {len(sources) - shown} more; choose an article in \"Ask about\" for its summary.")
        if not citations:
            return Answer(question, "The articles have no sentences to summarize.", None, False,
                          answer_kind="overview")
        return Answer(question, "\n".join(lines), None, True, tuple(citations), sure=True, answer_kind="overview")

    def _vectors_of(self, version: str, doc_id: str, texts: list[str]) -> np.ndarray:
        key = (version, doc_id)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vectors = np.asarray(self.embed(texts), dtype=np.float32)
        with self._lock:
            self._vectors[key] = vectors
            while len(self._vectors) > CACHED:
                self._vectors.popitem(last=False)
        return vectors


def article_sentences(index: Snapshot, doc_id: str) -> list[Sentence]:
    """Return the sentences of article ``doc_id`` in order, read from its chunks' records (any store)."""
    first, stop = index.article_chunks(doc_id)
    seen: dict[int, Sentence] = {}
    for at in range(first, stop, 64):
        for record in index.records(range(at, min(stop, at + 64))):
            for number, span in zip(record.sentences, record.spans):
                seen.setdefault(number, span)
    return [seen[number] for number in sorted(seen)]
