"""Index: the FAISS vectors and the records behind them, saved and loaded as one versioned unit.

On disk an index folder holds version folders and a ``CURRENT`` file naming the
live one. A save writes a new version folder completely, then replaces
``CURRENT`` atomically: a save killed at any moment leaves the previous
version loadable. Loading checks the format version, the model and the
dimension. This module stores and loads; building is ``build.py``'s job.
"""
from __future__ import annotations

import contextlib
import functools
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .articles import Article
from .chunker import Chunk
from .errors import BrokenIndexError
from .sentences import Mention, Sentence

FORMAT = "rag-index v1"
POINTER = "CURRENT"


@dataclass(frozen=True)
class SourceInfo:
    """What the manifest records of one article."""

    source: str
    title: str
    doc_id: str
    sha256: str
    path: str | None
    chunks: int
    sentences: int


@dataclass(frozen=True)
class Manifest:
    """The versioned description of an index, saved as ``manifest.json``."""

    model: str
    dimension: int
    chunker: dict[str, Any]
    sources: list[SourceInfo]
    built_at: str = ""
    format: str = FORMAT
    vectors: str = "flat"
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Index:
    """A loaded index: articles, chunks, sentences, and their vectors.

    ``chunk_sentences[i]`` is the ``(first, stop)`` range of sentence numbers inside chunk ``i``;
    ``sentence_source[j]`` is the article number of sentence ``j``; the word-piece vectors and ids
    of sentence ``j`` are rows ``token_offsets[j]:token_offsets[j + 1]`` of ``token_vectors``/``token_ids``.
    """

    manifest: Manifest
    articles: list[Article]
    chunks: list[Chunk]
    sentences: list[Sentence]
    sentence_source: list[int]
    chunk_sentences: list[tuple[int, int]]
    chunk_vectors: faiss.Index
    sentence_vectors: np.ndarray
    token_vectors: np.ndarray
    token_ids: np.ndarray
    token_offsets: np.ndarray
    version: str = ""

    def article(self, source: str) -> Article:
        """Return the article with this source name."""
        return self.articles[self.source_numbers[source]]

    @functools.cached_property
    def source_numbers(self) -> dict[str, int]:
        return {article.source: n for n, article in enumerate(self.articles)}


HNSW_SEARCH_DEPTH = 128


def vector_index(vectors: np.ndarray, dimension: int, hnsw_from: int) -> tuple[faiss.Index, str]:
    """Return an inner-product FAISS index over normalized vectors and its kind for the manifest.

    Below ``hnsw_from`` vectors: exact search (``flat``). From there on: HNSW graph search
    (``hnsw32``), whose query time grows about with log(n) instead of n.
    """
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(rows) < hnsw_from:
        index: faiss.Index = faiss.IndexFlatIP(dimension)
        kind = "flat"
    else:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        kind = "hnsw32"
    if len(rows):
        index.add(rows)
    _tune(index)
    return index, kind


def _tune(index: faiss.Index) -> None:
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_SEARCH_DEPTH


def save_index(index: Index, folder: Path) -> Path:
    """Write ``index`` as a new version of ``folder`` and make it the live one; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    version = folder / f"v-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    staging = folder / f".{version.name}.tmp"
    staging.mkdir()
    _write_json(staging / "manifest.json", asdict(index.manifest))
    _write_json(staging / "articles.json", [
        {"source": a.source, "title": a.title, "text": a.text, "body": [a.body_start, a.body_end]}
        for a in index.articles])
    _write_json(staging / "chunks.json", [
        [index.source_numbers[c.source], c.ordinal, c.start, c.end] for c in index.chunks])
    _write_json(staging / "sentences.json", [
        [number, s.start, s.end, [[m.start, m.end, m.label] for m in s.mentions]]
        for s, number in zip(index.sentences, index.sentence_source)])
    _write_json(staging / "chunk_sentences.json", index.chunk_sentences)
    faiss.write_index(index.chunk_vectors, str(staging / "chunks.faiss"))
    for name, array in (("sentences.npy", index.sentence_vectors.astype(np.float32)),
                        ("tokens.npy", index.token_vectors.astype(np.float16)),
                        ("token_ids.npy", index.token_ids.astype(np.int32)),
                        ("token_offsets.npy", index.token_offsets.astype(np.int64))):
        with open(staging / name, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array))
    _fsync_folder(staging)
    staging.rename(version)
    pointer = folder / f".{POINTER}.tmp"
    pointer.write_text(version.name + "\n", encoding="utf-8")
    with open(pointer, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, folder / POINTER)
    _fsync_folder(folder)
    _remove_old_versions(folder, keep=version.name)
    index.version = version.name
    return version


def live_version(folder: Path) -> str | None:
    """Return the name of the live version of ``folder``, or None when there is none (one small read)."""
    try:
        return (folder / POINTER).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def index_exists(folder: Path) -> bool:
    """Return whether ``folder`` has a live index version."""
    return (folder / POINTER).is_file()


def read_manifest(folder: Path) -> Manifest:
    """Read and check the manifest of the live version, without loading vectors."""
    manifest, _ = _manifest_and_version(folder)
    return manifest


def load_index(folder: Path, model: str | None = None) -> Index:
    """Load the live index in ``folder``; refuse one built with another model than ``model``."""
    manifest, version = _manifest_and_version(folder)
    if model is not None and manifest.model != model:
        raise BrokenIndexError(
            f"The index at {folder} was built with {manifest.model}, not {model}; "
            f"run `rag build PATH... --index {folder}` with the model you want.")
    try:
        raw_articles = _read_json(version / "articles.json")
        articles = [Article(a["source"], a["title"], a["text"], a["body"][0], a["body"][1]) for a in raw_articles]
        chunks = [Chunk(articles[n].source, ordinal, start, end, articles[n].text[start:end])
                  for n, ordinal, start, end in _read_json(version / "chunks.json")]
        raw_sentences = _read_json(version / "sentences.json")
        sentences = [Sentence(start, end, tuple(Mention(*m) for m in mentions))
                     for _, start, end, mentions in raw_sentences]
        sentence_source = [row[0] for row in raw_sentences]
        chunk_sentences = [(first, stop) for first, stop in _read_json(version / "chunk_sentences.json")]
        chunk_vectors = faiss.read_index(str(version / "chunks.faiss"))
        _tune(chunk_vectors)
        sentence_vectors = np.load(version / "sentences.npy", allow_pickle=False)
        token_vectors = np.load(version / "tokens.npy", allow_pickle=False)
        token_ids = np.load(version / "token_ids.npy", allow_pickle=False)
        token_offsets = np.load(version / "token_offsets.npy", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError) as error:
        raise _damaged(folder, f"is damaged ({type(error).__name__})") from None
    if chunk_vectors.d != manifest.dimension or chunk_vectors.ntotal != len(chunks) \
            or sentence_vectors.shape != (len(sentences), manifest.dimension) \
            or token_offsets.shape != (len(sentences) + 1,) or token_vectors.shape != (len(token_ids), manifest.dimension) \
            or (len(token_offsets) and int(token_offsets[-1]) != len(token_ids)):
        raise _damaged(folder, "does not match its manifest")
    return Index(manifest, articles, chunks, sentences, sentence_source, chunk_sentences,
                 chunk_vectors, sentence_vectors, token_vectors, token_ids, token_offsets, version.name)


@contextlib.contextmanager
def build_lock(folder: Path, on_wait: Any = None) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so two builds never write it at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait(f"Another build of {folder} is running; waiting for it to finish.")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _damaged(folder: Path, problem: str) -> BrokenIndexError:
    """Return the one-sentence error for an unusable index, with the command that recovers it."""
    return BrokenIndexError(f"The index at {folder} {problem}; run `rag build PATH... --index {folder} --force`.")


def _manifest_and_version(folder: Path) -> tuple[Manifest, Path]:
    pointer = folder / POINTER
    if not pointer.is_file():
        raise BrokenIndexError(f"There is no index at {folder}; run `rag build PATH... --index {folder}`.")
    try:
        version = folder / pointer.read_text(encoding="utf-8").strip()
        raw = _read_json(version / "manifest.json")
    except (OSError, ValueError) as error:
        raise _damaged(folder, f"is damaged ({type(error).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise _damaged(folder, f"has format {found!r}, but this version reads {FORMAT!r}")
    try:
        sources = [SourceInfo(**s) for s in raw["sources"]]
        manifest = Manifest(**{**raw, "sources": sources})
    except (KeyError, TypeError) as error:
        raise _damaged(folder, f"has a damaged manifest ({error})") from None
    return manifest, version


def _write_json(path: Path, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _fsync_folder(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_old_versions(folder: Path, keep: str) -> None:
    """Delete earlier versions and abandoned staging folders (loaded indexes live in memory)."""
    for path in folder.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith(("v-", ".v-"))):
            shutil.rmtree(path, ignore_errors=True)
