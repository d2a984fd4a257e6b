"""Build: turn articles into an Index, re-embedding only the articles that changed.

An article is reused from the previous index when its text hash, the model
and the chunker settings are all unchanged. ``update_index`` adds the lock,
the staleness check and the atomic save around ``build_index``.
"""
from __future__ import annotations

import bisect
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
from .index import Index, Manifest, SourceInfo, build_lock, index_exists, load_index, save_index, vector_index
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
    """What one article contributes to an index."""

    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    token_vectors: list[np.ndarray]
    token_ids: list[np.ndarray]


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
    for number, part in _embed_together(articles, fresh, embedder, progress):
        parts[number] = part
    index = _assemble(articles, [part for part in parts if part is not None], embedder, settings)
    removed = sorted(set(old) - {a.source for a in articles})
    return BuildReport(index, embedded, reused, removed, time.perf_counter() - started)


def _embed_together(articles: list[Article], fresh: list[tuple[int, list[Chunk], list[Sentence]]],
                    embedder: Embedder, progress: bool) -> list[tuple[int, _Part]]:
    """Embed the chunks and sentences of all new articles in two large batches (small ones are slow)."""
    chunk_texts = [chunk.text for _, chunks, _ in fresh for chunk in chunks]
    sentence_texts = [articles[n].text[s.start:s.end] for n, _, sentences in fresh for s in sentences]
    chunk_vectors = embedder.embed(chunk_texts, progress=progress)
    encoded = embedder.encode(sentence_texts, progress=progress)
    result, chunk_at, sentence_at = [], 0, 0
    for number, chunks, sentences in fresh:
        c, s = slice(chunk_at, chunk_at + len(chunks)), slice(sentence_at, sentence_at + len(sentences))
        result.append((number, _Part(chunks, sentences, chunk_vectors[c], encoded.vectors[s],
                                     encoded.token_vectors[s], encoded.token_ids[s])))
        chunk_at, sentence_at = c.stop, s.stop
    return result


def _assemble(articles: list[Article], parts: list[_Part], embedder: Embedder, settings: Settings) -> Index:
    """Concatenate the parts into one Index, numbering sentences across articles."""
    dimension = embedder.dimension
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    sentence_source: list[int] = []
    chunk_sentences: list[tuple[int, int]] = []
    infos = []
    for number, (article, part) in enumerate(zip(articles, parts)):
        starts = [s.start for s in part.sentences]
        ends = [s.end for s in part.sentences]
        base = len(sentences)
        for chunk in part.chunks:
            first = bisect.bisect_right(ends, chunk.start)
            stop = max(first, bisect.bisect_left(starts, chunk.end))
            chunk_sentences.append((base + first, base + stop))
        chunks += part.chunks
        sentences += part.sentences
        sentence_source += [number] * len(part.sentences)
        path = os.path.abspath(article.source) if os.path.exists(article.source) else None
        infos.append(SourceInfo(article.source, article.title, article.doc_id, article.digest, path,
                                len(part.chunks), len(part.sentences)))
    empty = np.zeros((0, dimension), np.float32)
    token_rows = [rows for part in parts for rows in part.token_vectors]
    lengths = [len(rows) for rows in token_rows]
    chunk_index, kind = vector_index(np.vstack([p.chunk_vectors for p in parts] + [empty]), dimension,
                                     settings.hnsw_from)
    manifest = Manifest(
        model=embedder.model_id, dimension=dimension, chunker=chunker_settings(settings), sources=infos,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        counts={"articles": len(articles), "chunks": len(chunks), "sentences": len(sentences),
                "word_pieces": sum(lengths)}, vectors=kind)
    return Index(
        manifest, list(articles), chunks, sentences, sentence_source, chunk_sentences,
        chunk_index,
        np.ascontiguousarray(np.vstack([p.sentence_vectors for p in parts] + [empty]), dtype=np.float32),
        np.vstack(token_rows + [empty]).astype(np.float16),
        np.concatenate([ids for part in parts for ids in part.token_ids] + [np.zeros(0, np.int32)]).astype(np.int32),
        np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64))


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
        return report


def _reuse(previous: Index, source: str) -> _Part:
    """Return what ``previous`` holds for ``source``, vectors included."""
    chunk_ids = [n for n, chunk in enumerate(previous.chunks) if chunk.source == source]
    number = previous.source_numbers[source]
    sentence_ids = [n for n, owner in enumerate(previous.sentence_source) if owner == number]
    dimension = previous.manifest.dimension
    chunk_vectors = np.vstack([previous.chunk_vectors.reconstruct(n) for n in chunk_ids] + [np.zeros((0, dimension))])
    offsets = previous.token_offsets
    return _Part([previous.chunks[n] for n in chunk_ids], [previous.sentences[n] for n in sentence_ids],
                 chunk_vectors.astype(np.float32), previous.sentence_vectors[sentence_ids],
                 [previous.token_vectors[offsets[n]:offsets[n + 1]].astype(np.float32) for n in sentence_ids],
                 [previous.token_ids[offsets[n]:offsets[n + 1]] for n in sentence_ids])
