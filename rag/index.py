"""Index: the FAISS vectors and the records behind them, saved and loaded as one versioned unit.

On disk an index folder holds version folders and a ``CURRENT`` file naming the
live one. A save writes a new version folder completely, then replaces
``CURRENT`` atomically: a save killed at any moment leaves the previous
version loadable. Loading checks the format version, the model and the
dimension. This module stores and loads; building is ``build.py``'s job.

A version folder holds ``manifest.json``; ``records.sqlite`` (articles, chunks,
sentences: ``records.py``, read on demand); ``chunks.faiss`` (read whole); and
``bm25/``, memory-mapped, so loading costs about the FAISS file and one SQLite
open. An index of an older format is not loaded, but its articles can be read
back (``old_articles``) to rebuild it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .articles import Article
from .chunker import Chunk
from .errors import BrokenIndexError, MissingArticleError, OldIndexError, damaged_index
from .lexical import Bm25
from .records import Expected, Records, write_records
from .sentences import Sentence

FORMAT = "rag-index v3"
OLDER_FORMATS = ("rag-index v1", "rag-index v2")
POINTER = "CURRENT"
RECORDS = "records.sqlite"
VECTORS = "chunks.faiss"


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
    characters: int = 0  # 0 in indexes built before this was recorded
    added: str = ""  # when the article first came into the index (ISO 8601); "" if not recorded


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
    files: dict[str, str] = field(default_factory=dict)  # sha256 of files read whole ({} before it was recorded)


@dataclass
class Index:
    """A loaded index: records (lists when just built, SQLite-backed ``Rows`` when loaded) and vectors.

    ``chunk_sentences[i]`` is the ``(first, stop)`` range of sentence numbers inside chunk ``i``;
    ``sentence_source[j]`` is the article number of sentence ``j``.
    """

    manifest: Manifest
    articles: Sequence[Article]
    chunks: Sequence[Chunk]
    sentences: Sequence[Sentence]
    sentence_source: Sequence[int]
    chunk_sentences: Sequence[tuple[int, int]]
    source_numbers: Mapping[str, int]
    chunk_vectors: faiss.Index
    bm25: Bm25
    version: str = ""

    def article(self, source: str) -> Article:
        """Return the article with this source name."""
        return self.articles[self.source_numbers[source]]

    def article_number(self, doc_id: str) -> int | None:
        """Return the number of the article with this ``doc_id``, or None if no article has it."""
        return next((n for n, info in enumerate(self.manifest.sources) if info.doc_id == doc_id), None)

    def article_chunks(self, doc_id: str) -> tuple[int, int]:
        """Return the chunk numbers ``(first, stop)`` of the article with this ``doc_id``; raise InputError if none."""
        number = self.article_number(doc_id)
        if number is None:
            raise missing_article(doc_id)
        return int(self.chunk_starts[number]), int(self.chunk_starts[number + 1])

    def sentence_text(self, number: int) -> str:
        """Return the text of sentence ``number``."""
        sentence = self.sentences[number]
        return self.articles[self.sentence_source[number]].text[sentence.start:sentence.end]

    @functools.cached_property
    def chunk_starts(self) -> np.ndarray:
        """Article ``a`` holds chunks ``chunk_starts[a]:chunk_starts[a + 1]`` (articles are stored in order)."""
        return np.cumsum([0] + [info.chunks for info in self.manifest.sources], dtype=np.int64)

    @functools.cached_property
    def sentence_starts(self) -> np.ndarray:
        """Article ``a`` holds sentences ``sentence_starts[a]:sentence_starts[a + 1]``."""
        return np.cumsum([0] + [info.sentences for info in self.manifest.sources], dtype=np.int64)


def missing_article(doc_id: str) -> MissingArticleError:
    """Return the one-sentence error for an article id that no article of the index has."""
    return MissingArticleError(f"There is no article with id {doc_id[:40]!r} in this index; list the articles "
                               "for their ids (`rag list`, GET /api/documents).")


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
    numbers = index.source_numbers
    write_records(staging / RECORDS, index.articles,
                  ((numbers[c.source], c, span) for c, span in zip(index.chunks, index.chunk_sentences)),
                  zip(index.sentence_source, index.sentences))
    vectors = faiss.serialize_index(index.chunk_vectors).tobytes()
    (staging / VECTORS).write_bytes(vectors)
    index.bm25.save(staging / "bm25")
    index.manifest = dataclasses.replace(index.manifest, files={VECTORS: hashlib.sha256(vectors).hexdigest()})
    _write_json(staging / "manifest.json", asdict(index.manifest))
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
        expected = [Expected(info.sha256, info.characters, info.sentences) for info in manifest.sources]
        records = Records(version / RECORDS, expected, folder)
        vectors = (version / VECTORS).read_bytes()
        if VECTORS in manifest.files and hashlib.sha256(vectors).hexdigest() != manifest.files[VECTORS]:
            raise _damaged(folder, f"is damaged ({VECTORS} does not match its checksum)")
        chunk_vectors = faiss.deserialize_index(np.frombuffer(vectors, dtype=np.uint8))
        _tune(chunk_vectors)
        bm25 = Bm25.load(version / "bm25", records.counts["chunks"])
        source_numbers = records.source_numbers()
    except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, sqlite3.Error) as error:
        raise _damaged(folder, f"is damaged ({type(error).__name__})") from None
    if chunk_vectors.d != manifest.dimension or chunk_vectors.ntotal != records.counts["chunks"] \
            or records.counts["articles"] != len(manifest.sources) \
            or sum(info.chunks for info in manifest.sources) != records.counts["chunks"] \
            or manifest.counts.get("chunks") != records.counts["chunks"] \
            or manifest.counts.get("sentences", records.counts["sentences"]) != records.counts["sentences"]:
        raise _damaged(folder, "does not match its manifest")
    return Index(manifest, records.articles, records.chunks, records.sentences, records.sentence_source,
                 records.chunk_sentences, source_numbers, chunk_vectors, bm25, version.name)


def old_articles(folder: Path) -> list[Article]:
    """Return the articles of an index of an older format (v2 kept them in its records), to rebuild it."""
    try:
        version = folder / (folder / POINTER).read_text(encoding="utf-8").strip()
        return list(Records(version / RECORDS).articles)
    except (OSError, ValueError, IndexError, sqlite3.Error):
        raise _damaged(folder, "is of an older format and its articles could not be read back") from None


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
    return damaged_index(folder, problem)


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
        problem = _damaged(folder, f"has format {found!r}, but this version reads {FORMAT!r}")
        if found in OLDER_FORMATS:
            listed = raw.get("sources") if isinstance(raw.get("sources"), list) else []
            raise OldIndexError(str(problem), [s.get("source") for s in listed if isinstance(s, dict)])
        raise problem
    try:
        sources = [SourceInfo(**s) for s in raw["sources"]]
        manifest = Manifest(**{**raw, "sources": sources})
    except (KeyError, TypeError) as error:
        raise _damaged(folder, f"has a damaged manifest ({error})") from None
    fields = {"counts": dict, "chunker": dict, "files": dict, "model": str, "dimension": int}
    wrong = [name for name, kind in fields.items() if not isinstance(getattr(manifest, name), kind)]
    if wrong:
        raise _damaged(folder, f"has a damaged manifest (its {wrong[0]!r} is not a {fields[wrong[0]].__name__})")
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
    """Delete earlier versions and abandoned staging folders.

    A process still using a deleted version keeps reading it: its open files and maps stay valid until closed.
    """
    for path in folder.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith(("v-", ".v-"))):
            shutil.rmtree(path, ignore_errors=True)
