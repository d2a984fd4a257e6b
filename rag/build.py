"""Build: turn articles into an Index, re-embedding only the articles that changed.

An article is reused from the previous index when its text hash, the model
and the chunker settings are all unchanged. A build splits sentences, packs
them into chunks and embeds the chunks; nothing is embedded per sentence (the
reader reads the sentences at query time). ``update_index`` adds the lock, the
staleness check and the atomic save around ``build_index``.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .articles import Article
from .chunker import Chunk, chunk_article
from .embedder import Embedder
from .errors import BrokenIndexError
from .index import (Index, Manifest, SourceInfo, build_lock, index_exists, load_index, read_manifest, save_index,
                    vector_index)
from .lexical import Bm25
from .progress import Progress, counter
from .sentences import Sentence, split_sentences
from .settings import Settings
from .snapshot import BuildReport, Removed, Say, Snapshot
from .tokens import ENCODING

__all__ = ["BuildReport", "Part", "Say", "build_index", "chunker_settings", "dropped", "prepare_articles",
           "sentence_ranges", "stale_reason", "update_index"]


def chunker_settings(settings: Settings) -> dict[str, object]:
    """Return the settings that decide the chunks, as recorded in the manifest."""
    return {"tokenizer": ENCODING, "max_tokens": settings.chunk_tokens, "overlap": settings.chunk_overlap,
            "sentences": "spacy en_core_web_sm senter"}


def stale_reason(index: Snapshot, articles: list[Article], settings: Settings, model: str) -> str | None:
    """Return why ``index`` does not match these articles and settings, or None if it is current."""
    manifest = index.manifest
    if manifest.model != model:
        return f"it was built with {manifest.model}"
    if manifest.chunker != chunker_settings(settings):
        return "the chunk settings changed"
    indexed = {info.source: info.sha256 for info in manifest.sources}
    given = {article.source: article.digest for article in articles}
    if indexed != given:
        return "its articles changed"
    return None


@dataclass
class Part:
    """What one article contributes to an index (in any store)."""

    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray


def build_index(articles: list[Article], embedder: Embedder, settings: Settings,
                previous: Index | None = None, progress: Progress | None = None) -> BuildReport:
    """Chunk, split and embed ``articles``; reuse what ``previous`` already holds for unchanged ones.

    ``progress`` hears of articles read and of chunks embedded.
    """
    started = time.perf_counter()
    reusable = previous is not None and previous.manifest.model == embedder.model_id \
        and previous.manifest.chunker == chunker_settings(settings)
    old = {info.source: info.sha256 for info in previous.manifest.sources} if previous and reusable else {}
    fresh = [article for article in articles if old.get(article.source) != article.digest]
    prepared = iter(prepare_articles(fresh, embedder, settings, progress))
    parts = [next(prepared) if previous is None or old.get(article.source) != article.digest
             else _reuse(previous, article.source) for article in articles]
    added = {info.source: info.added for info in previous.manifest.sources} if previous else {}
    index = _assemble(articles, parts, embedder, settings, added)
    removed = dropped(previous.manifest.sources if previous else [], articles)
    reused = [article.source for article in articles if old.get(article.source) == article.digest]
    return BuildReport(index, [a.source for a in fresh], reused, removed, time.perf_counter() - started)


def dropped(before: Sequence[SourceInfo], articles: Sequence[Article]) -> list[Removed]:
    """Return the articles of ``before`` that are not among ``articles`` (by source), in index order."""
    kept = {article.source for article in articles}
    return [Removed(info.source, info.title) for info in before if info.source not in kept]


def prepare_articles(articles: list[Article], embedder: Embedder, settings: Settings,
                     progress: Progress | None = None) -> list[Part]:
    """Split, chunk and embed ``articles`` (what every store writes for an article); ``progress`` hears of
    articles read and of chunks embedded."""
    read = counter(progress, "articles", len(articles))
    split = []
    for article in articles:
        sentences = split_sentences(article)
        split.append((chunk_article(article, sentences, settings.chunk_tokens, settings.chunk_overlap,
                                    embedder.fits), sentences))
        if read:
            read(1)
    chunk_texts = [chunk.text for chunks, _ in split for chunk in chunks]
    vectors = embedder.embed(chunk_texts, on_batch=counter(progress, "chunks", len(chunk_texts)))
    parts, at = [], 0
    for chunks, sentences in split:
        parts.append(Part(chunks, sentences, vectors[at:at + len(chunks)]))
        at += len(chunks)
    return parts


def sentence_ranges(part: Part) -> list[tuple[int, int]]:
    """Return the ``(first, stop)`` range of each chunk's sentences, numbered within the article."""
    starts = [s.start for s in part.sentences]
    ends = [s.end for s in part.sentences]
    ranges = []
    for chunk in part.chunks:
        first = bisect.bisect_right(ends, chunk.start)
        ranges.append((first, max(first, bisect.bisect_left(starts, chunk.end))))
    return ranges


def _assemble(articles: list[Article], parts: list[Part], embedder: Embedder, settings: Settings,
              added: Mapping[str, str]) -> Index:
    """Concatenate the parts into one Index, numbering sentences across articles.

    ``added`` holds when each article already in the index was first added; new ones are added now.
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    dimension = embedder.dimension
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    sentence_source: list[int] = []
    chunk_sentences: list[tuple[int, int]] = []
    infos = []
    for number, (article, part) in enumerate(zip(articles, parts)):
        base = len(sentences)
        chunk_sentences += [(base + first, base + stop) for first, stop in sentence_ranges(part)]
        chunks += part.chunks
        sentences += part.sentences
        sentence_source += [number] * len(part.sentences)
        path = os.path.abspath(article.source) if os.path.exists(article.source) else None
        infos.append(SourceInfo(article.source, article.title, article.doc_id, article.digest, path,
                                len(part.chunks), len(part.sentences), len(article.text),
                                added.get(article.source) or now))
    empty = np.zeros((0, dimension), np.float32)
    chunk_index, kind = vector_index(np.vstack([p.chunk_vectors for p in parts] + [empty]), dimension,
                                     settings.hnsw_from)
    manifest = Manifest(
        model=embedder.model_id, dimension=dimension, chunker=chunker_settings(settings), sources=infos,
        built_at=now,
        counts={"articles": len(articles), "chunks": len(chunks), "sentences": len(sentences)}, vectors=kind)
    return Index(manifest, list(articles), chunks, sentences, sentence_source, chunk_sentences,
                 {article.source: n for n, article in enumerate(articles)}, chunk_index,
                 Bm25.index([chunk.text for chunk in chunks]))


def update_index(articles: list[Article], folder: Path, embedder: Embedder, settings: Settings,
                 force: bool = False, say: Say | None = None, progress: Progress | None = None) -> BuildReport:
    """Build ``articles`` into ``folder`` under its lock and save atomically; return what was done.

    What the build removes is read under the lock from the version it replaces, so an article
    another process adds meanwhile is either kept (added before) or reported removed, never lost unseen.
    A damaged index is rebuilt from ``articles`` (what it held can't be listed then).
    """
    with build_lock(folder, on_wait=say):
        previous, before = None, []
        if index_exists(folder):
            try:
                before = read_manifest(folder).sources
                previous = None if force else load_index(folder)
            except BrokenIndexError as error:
                if say:
                    say(f"Rebuilding from scratch: {error}")
        report = build_index(articles, embedder, settings, previous, progress)
        save_index(report.index, folder)
        return dataclasses.replace(report, index=load_index(folder), removed=dropped(before, articles))


def _reuse(previous: Index, source: str) -> Part:
    """Return what ``previous`` holds for ``source``, vectors included (articles are stored in order)."""
    number = previous.source_numbers[source]
    first, stop = int(previous.chunk_starts[number]), int(previous.chunk_starts[number + 1])
    sentence_first, sentence_stop = int(previous.sentence_starts[number]), int(previous.sentence_starts[number + 1])
    dimension = previous.manifest.dimension
    vectors = np.vstack([previous.chunk_vectors.reconstruct(n) for n in range(first, stop)]
                        + [np.zeros((0, dimension))])
    return Part(list(previous.chunks[first:stop]), list(previous.sentences[sentence_first:sentence_stop]),
                 vectors.astype(np.float32))
