"""Build: turn articles into an Index, re-embedding only the articles that changed.

An article is reused from the previous index when its text hash, the model
and the chunker settings are all unchanged. Below ``Settings.query_time_from``
chunks a build also embeds every sentence (stored sentence and word-piece
vectors); from there on it embeds only chunks and records the sentences'
word-piece ids, and the retriever encodes sentences at query time.
``update_index`` adds the lock, the staleness check and the atomic save
around ``build_index``.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .articles import Article
from .chunker import Chunk, chunk_article
from .embedder import Embedder
from .errors import BrokenIndexError
from .index import (QUERY_TIME, STORED, Index, Manifest, SourceInfo, build_lock, index_exists, load_index,
                    save_index, vector_index)
from .lexical import Bm25
from .sentences import Sentence, split_sentences
from .settings import Settings
from .tokens import ENCODING

Say = Callable[[str], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did: the new index, and which sources it embedded, reused or dropped."""

    index: Index
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def chunker_settings(settings: Settings) -> dict[str, object]:
    """Return the settings that decide the chunks, as recorded in the manifest."""
    return {"tokenizer": ENCODING, "max_tokens": settings.chunk_tokens, "overlap": settings.chunk_overlap,
            "sentences": "spacy en_core_web_sm"}


def stale_reason(index: Index, articles: list[Article], settings: Settings, model: str) -> str | None:
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
class _Part:
    """What one article contributes to an index; sentence and word-piece vectors only when stored."""

    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    token_ids: list[np.ndarray]
    sentence_vectors: np.ndarray | None = None
    token_vectors: list[np.ndarray] | None = None


Part = _Part  # what stores write for each article

def build_index(articles: list[Article], embedder: Embedder, settings: Settings,
                previous: Index | None = None, progress: bool = False) -> BuildReport:
    """Chunk, split and embed ``articles``; reuse what ``previous`` already holds for unchanged ones."""
    started = time.perf_counter()
    reusable = previous is not None and previous.manifest.model == embedder.model_id \
        and previous.manifest.chunker == chunker_settings(settings)
    old = {info.source: info.sha256 for info in previous.manifest.sources} if previous and reusable else {}
    parts: list[_Part | None] = []
    fresh: list[tuple[int, list[Chunk], list[Sentence]]] = []
    embedded, reused = [], []
    for number, article in enumerate(articles):
        if previous is not None and old.get(article.source) == article.digest:
            parts.append(_reuse(previous, article.source))
            reused.append(article.source)
        else:
            sentences = split_sentences(article)
            chunks = chunk_article(article, sentences, settings.chunk_tokens, settings.chunk_overlap, embedder.fits)
            fresh.append((number, chunks, sentences))
            parts.append(None)
            embedded.append(article.source)
    total = sum(len(part.chunks) for part in parts if part) + sum(len(chunks) for _, chunks, _ in fresh)
    stored = total < settings.query_time_from
    for number, part in _embed_together(articles, fresh, embedder, stored, progress):
        parts[number] = part
    if stored:
        _add_sentence_vectors(articles, parts, embedder, progress)
    index = _assemble(articles, [part for part in parts if part is not None], embedder, settings, stored)
    removed = sorted(set(old) - {a.source for a in articles})
    return BuildReport(index, embedded, reused, removed, time.perf_counter() - started)


def _embed_together(articles: list[Article], fresh: list[tuple[int, list[Chunk], list[Sentence]]],
                    embedder: Embedder, stored: bool, progress: bool) -> list[tuple[int, _Part]]:
    """Embed the chunks (and, when ``stored``, the sentences) of all new articles in large batches."""
    chunk_texts = [chunk.text for _, chunks, _ in fresh for chunk in chunks]
    sentence_texts = [articles[n].text[s.start:s.end] for n, _, sentences in fresh for s in sentences]
    chunk_vectors = embedder.embed(chunk_texts, progress=progress)
    encoded = embedder.encode(sentence_texts, progress=progress) if stored else None
    token_ids = encoded.token_ids if encoded else embedder.word_pieces(sentence_texts)
    result, chunk_at, sentence_at = [], 0, 0
    for number, chunks, sentences in fresh:
        c, s = slice(chunk_at, chunk_at + len(chunks)), slice(sentence_at, sentence_at + len(sentences))
        part = _Part(chunks, sentences, chunk_vectors[c], token_ids[s])
        if encoded:
            part.sentence_vectors, part.token_vectors = encoded.vectors[s], encoded.token_vectors[s]
        result.append((number, part))
        chunk_at, sentence_at = c.stop, s.stop
    return result


def _add_sentence_vectors(articles: list[Article], parts: list[_Part | None], embedder: Embedder,
                          progress: bool) -> None:
    """Encode the sentences of reused parts that come from an index without stored sentence vectors."""
    missing = [(article, part) for article, part in zip(articles, parts) if part and part.token_vectors is None]
    encoded = embedder.encode([a.text[s.start:s.end] for a, part in missing for s in part.sentences], progress)
    at = 0
    for _, part in missing:
        s = slice(at, at + len(part.sentences))
        part.sentence_vectors, part.token_vectors, part.token_ids = \
            encoded.vectors[s], encoded.token_vectors[s], encoded.token_ids[s]
        at = s.stop


def prepare_articles(articles: list[Article], embedder: Embedder, settings: Settings,
                     progress: bool = False) -> list[Part]:
    """Split, chunk and embed ``articles`` for a store that encodes sentences at query time (chunk vectors
    and word-piece ids, no sentence vectors)."""
    fresh = []
    for number, article in enumerate(articles):
        sentences = split_sentences(article)
        fresh.append((number, chunk_article(article, sentences, settings.chunk_tokens, settings.chunk_overlap,
                                            embedder.fits), sentences))
    return [part for _, part in _embed_together(articles, fresh, embedder, False, progress)]


def sentence_ranges(part: Part) -> list[tuple[int, int]]:
    """Return the ``(first, stop)`` range of each chunk's sentences, numbered within the article."""
    starts = [s.start for s in part.sentences]
    ends = [s.end for s in part.sentences]
    ranges = []
    for chunk in part.chunks:
        first = bisect.bisect_right(ends, chunk.start)
        ranges.append((first, max(first, bisect.bisect_left(starts, chunk.end))))
    return ranges


def _assemble(articles: list[Article], parts: list[_Part], embedder: Embedder, settings: Settings,
              stored: bool) -> Index:
    """Concatenate the parts into one Index, numbering sentences across articles."""
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
                                len(part.chunks), len(part.sentences)))
    empty = np.zeros((0, dimension), np.float32)
    token_ids = [ids for part in parts for ids in part.token_ids]
    offsets = np.concatenate([[0], np.cumsum([len(ids) for ids in token_ids], dtype=np.int64)]).astype(np.int64)
    flat_ids = np.concatenate(token_ids + [np.zeros(0, np.int32)]).astype(np.int32)
    chunk_index, kind = vector_index(np.vstack([p.chunk_vectors for p in parts] + [empty]), dimension,
                                     settings.hnsw_from)
    manifest = Manifest(
        model=embedder.model_id, dimension=dimension, chunker=chunker_settings(settings), sources=infos,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        counts={"articles": len(articles), "chunks": len(chunks), "sentences": len(sentences),
                "word_pieces": len(flat_ids)}, vectors=kind, sentence_vectors=STORED if stored else QUERY_TIME)
    index = Index(
        manifest, list(articles), chunks, sentences, sentence_source, chunk_sentences,
        {article.source: n for n, article in enumerate(articles)}, chunk_index,
        Bm25.index([chunk.text for chunk in chunks]), flat_ids, offsets)
    if stored:
        index.sentence_vectors = np.ascontiguousarray(
            np.vstack([p.sentence_vectors for p in parts if p.sentence_vectors is not None] + [empty]), np.float32)
        index.token_vectors = np.vstack(
            [rows for p in parts for rows in (p.token_vectors or [])] + [empty]).astype(np.float16)
    return index


def update_index(articles: list[Article], folder: Path, embedder: Embedder, settings: Settings,
                 force: bool = False, say: Say | None = None, progress: bool = False) -> BuildReport:
    """Build ``articles`` into ``folder`` under its lock and save atomically; return what was done."""
    with build_lock(folder, on_wait=say):
        previous = None
        if index_exists(folder) and not force:
            try:
                previous = load_index(folder)
            except BrokenIndexError as error:
                if say:
                    say(f"Rebuilding from scratch: {error}")
        report = build_index(articles, embedder, settings, previous, progress)
        save_index(report.index, folder)
        return dataclasses.replace(report, index=load_index(folder))


def _reuse(previous: Index, source: str) -> _Part:
    """Return what ``previous`` holds for ``source``, vectors included (articles are stored in order)."""
    number = previous.source_numbers[source]
    chunk_ids = range(int(previous.chunk_starts[number]), int(previous.chunk_starts[number + 1]))
    sentence_ids = range(int(previous.sentence_starts[number]), int(previous.sentence_starts[number + 1]))
    chunk_at, sentence_at = chunk_ids.start, sentence_ids.start
    dimension = previous.manifest.dimension
    chunk_vectors = np.vstack([previous.chunk_vectors.reconstruct(n) for n in chunk_ids] + [np.zeros((0, dimension))])
    offsets = previous.token_offsets
    part = _Part(list(previous.chunks[chunk_at:chunk_ids.stop]),
                 list(previous.sentences[sentence_at:sentence_ids.stop]), chunk_vectors.astype(np.float32),
                 [np.array(previous.token_ids[offsets[n]:offsets[n + 1]]) for n in sentence_ids])
    if previous.sentence_vectors is not None and previous.token_vectors is not None:
        part.sentence_vectors = np.array(previous.sentence_vectors[sentence_at:sentence_ids.stop], np.float32)
        part.token_vectors = [np.array(previous.token_vectors[offsets[n]:offsets[n + 1]], np.float32)
                              for n in sentence_ids]
    return part
