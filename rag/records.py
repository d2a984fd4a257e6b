"""Records: the articles, chunks and sentences of an index in one SQLite file, read on demand.

``write_records`` fills the file once, when a version is saved; ``Records``
opens it read-only and ``Rows`` turns a table into a lazy, cached sequence,
so a million chunks never become a million Python objects. The file is never
changed after it is written, so it is opened immutable (no locks, safe after
a fork). Vectors are not kept here (``index.py``).
"""
from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

from .articles import Article
from .chunker import Chunk
from .errors import damaged_index
from .sentences import Sentence

T = TypeVar("T")
PAGE = 1000
CACHED = 4096
CACHED_ARTICLES = 64  # whole texts, up to megabytes each

SCHEMA = """
CREATE TABLE articles (number INTEGER PRIMARY KEY, source TEXT NOT NULL UNIQUE, title TEXT NOT NULL,
                       text TEXT NOT NULL, body_start INTEGER NOT NULL, body_end INTEGER NOT NULL);
CREATE TABLE chunks (number INTEGER PRIMARY KEY, article INTEGER NOT NULL, ordinal INTEGER NOT NULL,
                     start INTEGER NOT NULL, end INTEGER NOT NULL, first_sentence INTEGER NOT NULL,
                     stop_sentence INTEGER NOT NULL);
CREATE TABLE sentences (number INTEGER PRIMARY KEY, article INTEGER NOT NULL, start INTEGER NOT NULL,
                        end INTEGER NOT NULL);
"""


def write_records(path: Path, articles: Iterable[Article], chunks: Iterable[tuple[int, Chunk, tuple[int, int]]],
                  sentences: Iterable[tuple[int, Sentence]]) -> None:
    """Write a new records file: articles in order, chunks as (article number, chunk, sentence range),
    sentences as (article number, sentence)."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        connection.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?)", (
            (n, a.source, a.title, a.text, a.body_start, a.body_end) for n, a in enumerate(articles)))
        connection.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", (
            (n, article, c.ordinal, c.start, c.end, first, stop)
            for n, (article, c, (first, stop)) in enumerate(chunks)))
        connection.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?)", (
            (n, article, s.start, s.end) for n, (article, s) in enumerate(sentences)))
        connection.commit()
    finally:
        connection.close()


@dataclass(frozen=True)
class Expected:
    """What the manifest says of one article, checked against the records as they are read."""

    sha256: str
    characters: int  # 0: not recorded (an index built before it was)
    sentences: int


class Records:
    """A read-only records file: one connection per process, shared by its threads under a lock.

    The connection is opened once and kept, so a process keeps reading its version even after a newer
    build deleted the file; a forked child opens its own (SQLite connections must not cross a fork).
    With ``expected`` (one per article, from the manifest) every row is checked when first read: an
    article's text against its sha256, every sentence and chunk span against its article's bounds;
    a mismatch raises BrokenIndexError instead of quoting garbled text.
    """

    def __init__(self, path: Path, expected: Sequence[Expected] | None = None, folder: object = None) -> None:
        if not path.is_file():
            raise FileNotFoundError(path)
        self.path = path
        self.expected = expected
        self.folder = folder if folder is not None else path.parent.parent
        self._first_sentence = [0]
        for info in expected or ():
            self._first_sentence.append(self._first_sentence[-1] + info.sentences)
        self._lock = threading.Lock()
        self._pid = -1
        self._open: sqlite3.Connection | None = None
        self.counts = {table: self._one(f"SELECT count(*) FROM {table}")[0]
                       for table in ("articles", "chunks", "sentences")}
        self.articles: Rows[Article] = Rows(self.counts["articles"], self._articles, cached=CACHED_ARTICLES)
        self.chunks: Rows[Chunk] = Rows(self.counts["chunks"], self._chunks)
        self.sentences: Rows[Sentence] = Rows(self.counts["sentences"], self._sentences)
        self.sentence_source: Rows[int] = Rows(self.counts["sentences"], self._sentence_sources)
        self.chunk_sentences: Rows[tuple[int, int]] = Rows(self.counts["chunks"], self._chunk_sentences)

    def source_numbers(self) -> dict[str, int]:
        """Return every article's number by source name (names only; no texts are read)."""
        return {source: number for number, source in self._query("SELECT number, source FROM articles")}

    def _query(self, sql: str, *values: Any) -> list[Any]:
        with self._lock:
            if self._open is None or self._pid != os.getpid():
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                self._open, self._pid = sqlite3.connect(uri, uri=True, check_same_thread=False), os.getpid()
            return self._open.execute(sql, values).fetchall()

    def _one(self, sql: str, *values: Any) -> Any:
        return self._query(sql, *values)[0]

    def _articles(self, first: int, stop: int) -> list[Article]:
        rows = self._query("SELECT number, source, title, text, body_start, body_end FROM articles "
                           "WHERE number >= ? AND number < ? ORDER BY number", first, stop)
        result = []
        for number, source, title, text, start, end in rows:
            article = Article(source, title, text, start, end)
            if self.expected is not None and (number >= len(self.expected)
                                              or article.digest != self.expected[number].sha256):
                raise damaged_index(self.folder, f"is damaged (the text of {source!r} does not match its checksum)")
            self._check(0 <= start <= end <= len(text), "an article's body")
            result.append(article)
        return result

    def _chunks(self, first: int, stop: int) -> list[Chunk]:
        rows = self._query("SELECT article, ordinal, start, end FROM chunks WHERE number >= ? AND number < ? "
                           "ORDER BY number", first, stop)
        result = []
        for article, ordinal, start, end in rows:
            owner = self.articles[article]
            self._check(0 <= start <= end <= len(owner.text), "a chunk")
            result.append(Chunk(owner.source, ordinal, start, end, owner.text[start:end]))
        return result

    def _sentences(self, first: int, stop: int) -> list[Sentence]:
        rows = self._query("SELECT article, start, end FROM sentences WHERE number >= ? AND number < ? "
                           "ORDER BY number", first, stop)
        for article, start, end in rows:
            limit = self._expected(article).characters if self.expected is not None else 0
            self._check(0 <= start <= end and (not limit or end <= limit), "a sentence")
        return [Sentence(start, end) for _, start, end in rows]

    def _sentence_sources(self, first: int, stop: int) -> list[int]:
        return [row[0] for row in self._query(
            "SELECT article FROM sentences WHERE number >= ? AND number < ? ORDER BY number", first, stop)]

    def _chunk_sentences(self, first: int, stop: int) -> list[tuple[int, int]]:
        rows = self._query("SELECT article, first_sentence, stop_sentence FROM chunks WHERE number >= ? "
                           "AND number < ? ORDER BY number", first, stop)
        bounds = self._first_sentence
        for article, a, b in rows:
            if self.expected is not None:
                self._expected(article)
            self._check(0 <= a <= b and (self.expected is None or bounds[article] <= a <= b <= bounds[article + 1]),
                        "a chunk's sentence range")
        return [(a, b) for _, a, b in rows]

    def _expected(self, article: int) -> Expected:
        assert self.expected is not None
        self._check(0 <= article < len(self.expected), "a row's article number")
        return self.expected[article]

    def _check(self, holds: bool, what: str) -> None:
        if not holds:
            raise damaged_index(self.folder, f"is damaged ({what} lies outside its article)")


class Rows(Sequence[T]):
    """A read-only sequence whose items are fetched a range at a time; single items are cached.

    Example: ``rows[5]`` reads row 5 once; ``for row in rows`` reads pages of 1,000 rows.
    """

    def __init__(self, size: int, fetch: Callable[[int, int], list[T]], cached: int = CACHED) -> None:
        self.size = size
        self.fetch = fetch
        self._item = functools.lru_cache(maxsize=cached)(self._fetch_one)

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, number: int) -> T: ...

    @overload
    def __getitem__(self, number: slice) -> list[T]: ...

    def __getitem__(self, number: int | slice) -> T | list[T]:
        if isinstance(number, slice):
            first, stop, step = number.indices(self.size)
            return self.fetch(first, stop)[::step] if step > 0 else [self[n] for n in range(first, stop, step)]
        if number < 0:
            number += self.size
        if not 0 <= number < self.size:
            raise IndexError(number)
        return self._item(number)

    def __iter__(self) -> Iterator[T]:
        for first in range(0, self.size, PAGE):
            yield from self.fetch(first, min(first + PAGE, self.size))

    def _fetch_one(self, number: int) -> T:
        return self.fetch(number, number + 1)[0]
