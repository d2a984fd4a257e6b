"""The Postgres store: an index in a Postgres database with pgvector, shared by any number of replicas.

Tables (all named ``rag_*``): articles (full text, sha256, title, source,
when first added), chunks (vector, span, sentence range, lexemes; an article's
chunks have consecutive numbers), sentences (spans: what the reader reads and
the answer quotes), terms (how many chunks hold each lexeme) and meta (schema
version, model, live generation and counts). Dense search is pgvector's HNSW index
(``vector_cosine_ops``); the lexical side is a ``tsvector`` of each chunk's
stemmed words (``lexical.terms``, exactly what bm25s indexes) under a GIN
index, scored by BM25 as bm25s scores it. The two halves run at once, one
statement each on two connections, and are fused by reciprocal rank as in the
folder store.

A build is one transaction under an advisory lock: replicas see the old or the
new article set (MVCC), a killed build rolls back, a second build waits. Rows
are never changed: a replaced article's rows are retired (kept for questions
still in flight) and purged by a later build. Nothing but chunk vectors is
embedded; the reader reads a passage's sentences per question.
"""
from __future__ import annotations

import collections
import functools
import json
import os
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..articles import Article
from ..build import Part, chunker_settings, prepare_articles, sentence_ranges
from ..chunker import Chunk
from ..embedder import Embedder
from ..errors import ArticleError, BrokenIndexError, DatabaseError
from ..index import Manifest, SourceInfo, missing_article
from ..lexical import terms
from ..progress import Progress
from ..sentences import Sentence
from ..settings import Settings
from ..snapshot import BuildReport, Candidate, ChunkRecord, Removed, Say
from . import fuse

SCHEMA_VERSION = 2
FORMAT = "rag-postgres v2"
LOCK_KEY = 0x7261676E  # "ragn": the advisory lock every build of this database takes
K1, B = 1.5, 0.75  # bm25s' defaults
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 128  # the graph a first build makes (pgvector's defaults 16, 64 gave
# recall@10 0.92-0.95 on 10^6 chunks; benchmarks section 8). docs/SCALING.md says how to remake an older graph.
HNSW_SEARCH_DEPTH = 100  # on that graph at 10^6 chunks: recall@10 0.953 at 40, 0.966 at 64, 0.9715 at 100, 0.9745
# at 200; 100 keeps a margin over 0.95 (builds vary), and the dense half still ends before the BM25 half
RETIRED_KEPT = "10 minutes"  # replaced rows stay readable this long for questions in flight
BATCH_CHUNKS = 256  # a local build embeds, then writes, about this many chunks at a time
CACHED_ARTICLES = 64  # whole texts
MAX_LEXEME_BYTES = 2046
MAX_POSITION, MAX_POSITIONS = 16383, 256  # tsvector limits
LEXICAL_ROWS = 1000  # the most chunks whose BM25 one question computes (see _match); 7-12 µs each here

SCHEMA = """
CREATE TABLE rag_meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE SEQUENCE rag_article_numbers;
CREATE SEQUENCE rag_chunk_numbers;
CREATE SEQUENCE rag_sentence_numbers;
CREATE TABLE rag_articles (
    number bigint PRIMARY KEY, source text NOT NULL, title text NOT NULL, doc_id text NOT NULL,
    sha256 text NOT NULL, path text, text text NOT NULL, body_start int NOT NULL, body_end int NOT NULL,
    chunks int NOT NULL, sentences int NOT NULL, lexical_length bigint NOT NULL, retired timestamptz,
    first_chunk bigint NOT NULL, characters int NOT NULL, added text NOT NULL);
CREATE UNIQUE INDEX rag_articles_source ON rag_articles (source) WHERE retired IS NULL;
CREATE INDEX rag_articles_doc_id ON rag_articles (doc_id) WHERE retired IS NULL;
CREATE INDEX rag_articles_retired ON rag_articles (retired) WHERE retired IS NOT NULL;
CREATE TABLE rag_chunks (
    number bigint PRIMARY KEY, article bigint NOT NULL REFERENCES rag_articles ON DELETE CASCADE,
    ordinal int NOT NULL, start int NOT NULL, "end" int NOT NULL,
    first_sentence bigint NOT NULL, stop_sentence bigint NOT NULL,
    embedding vector({dimension}) NOT NULL, lexemes tsvector NOT NULL, length int NOT NULL, retired timestamptz);
CREATE INDEX rag_chunks_article ON rag_chunks (article);
CREATE INDEX rag_chunks_lexemes ON rag_chunks USING gin (lexemes);
CREATE TABLE rag_sentences (
    number bigint PRIMARY KEY, article bigint NOT NULL REFERENCES rag_articles ON DELETE CASCADE,
    start int NOT NULL, "end" int NOT NULL);
CREATE INDEX rag_sentences_article ON rag_sentences (article);
CREATE TABLE rag_terms (term text PRIMARY KEY, chunks int NOT NULL);
"""
MIGRATIONS: dict[int, str] = {  # version -> SQL that brings version - 1 up to it
    2: """ALTER TABLE rag_sentences DROP COLUMN mentions, DROP COLUMN word_pieces;
          ALTER TABLE rag_articles DROP COLUMN word_pieces, ADD COLUMN first_chunk bigint,
              ADD COLUMN characters int, ADD COLUMN added text NOT NULL DEFAULT '';
          UPDATE rag_articles AS a SET characters = length(a.text), first_chunk = coalesce(
              (SELECT min(c.number) FROM rag_chunks AS c WHERE c.article = a.number), 0);
          ALTER TABLE rag_articles ALTER COLUMN first_chunk SET NOT NULL, ALTER COLUMN characters SET NOT NULL,
              ALTER COLUMN added DROP DEFAULT""",  # v1 held the retired sentence scoring's mentions and word pieces
}
HNSW = ("CREATE INDEX rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")

# The question's known words: how often each occurs in it, and its idf (Lucene's, as bm25s computes it:
# ln(1 + (N - n + 0.5) / (n + 0.5)) for a word in n of N chunks).
QUERY = """query AS MATERIALIZED (
    SELECT q.term, q.times, ln(1 + (%(chunks)s::float8 - t.chunks + 0.5) / (t.chunks + 0.5::float8)) AS idf
    FROM unnest(%(terms)s::text[], %(times)s::int[]) AS q(term, times) JOIN rag_terms AS t ON t.term = q.term)"""
# BM25 of chunk c for the query terms, as bm25s computes it (Lucene idf, k1 = 1.5, b = 0.75). A lexeme's
# positions count its occurrences; setweight + ts_filter keep only the question's lexemes (C code over the
# whole tsvector) before unnest, which costs per lexeme (the BM25 half: 7 ms instead of 18 at 10^5 chunks).
BM25 = f"""(SELECT coalesce(sum(q.times * q.idf * cardinality(u.positions)
                / (cardinality(u.positions) + {K1} * (1 - {B} + {B} * c.length / %(average)s))), 0)
           FROM unnest(ts_filter(setweight(c.lexemes, 'A', %(terms)s::text[]), ARRAY['a'::"char"])) AS u
           JOIN query AS q ON q.term = u.lexeme)"""
# The two halves of a search, each one statement on a connection of its own, run at the same time; each row
# is (number, cosine with the question, BM25), so fusing them needs nothing more from the database.
DENSE = f"""
WITH {QUERY}, dense AS MATERIALIZED (
    SELECT c.number, c.embedding <=> %(vector)s AS distance, c.lexemes, c.length FROM rag_chunks AS c
    WHERE {{only}} ORDER BY (c.embedding <=> %(vector)s) {{exact}}LIMIT %(depth)s)
SELECT c.number, 1 - c.distance, {BM25} FROM dense AS c"""
LEXICAL = f"""
WITH {QUERY}, matched AS MATERIALIZED (
    SELECT c.number, c.lexemes, c.length FROM rag_chunks AS c
    WHERE c.lexemes @@ %(match)s::tsquery AND {{only}} LIMIT %(rows)s),
lexical AS MATERIALIZED (
    SELECT c.number, {BM25} AS score FROM matched AS c ORDER BY score DESC, c.number LIMIT %(depth)s)
SELECT l.number, 1 - (c.embedding <=> %(vector)s), l.score
FROM lexical AS l JOIN rag_chunks AS c ON c.number = l.number"""
LIVE = "c.retired IS NULL"
WITHIN = "c.number >= %(first)s AND c.number < %(stop)s"  # one article's chunks (retired or not: a question
# that began before a build replaced the article reads the version it found)
EXACT = "+ 0 "  # not the HNSW index's ordering: one article's chunks are compared exactly, as the folder store does
RECORDS = """
SELECT c.number, c.article, c.ordinal, c.start, c."end", c.first_sentence, c.stop_sentence,
       (SELECT coalesce(json_agg(json_build_array(s.number, s.start, s."end") ORDER BY s.number), '[]')
        FROM rag_sentences AS s WHERE s.number >= c.first_sentence AND s.number < c.stop_sentence)
FROM rag_chunks AS c WHERE c.number = ANY(%s)"""
ARTICLE = "SELECT number, source, title, text, body_start, body_end FROM rag_articles"

T = TypeVar("T")


def _connect(url: str, reader: bool) -> Any:
    """Open a connection with pgvector's types; raise DatabaseError with one sentence if that fails."""
    import psycopg
    from pgvector.psycopg import register_vector

    name = display_url(url)
    try:
        connection = psycopg.connect(url, autocommit=reader, connect_timeout=int(os.environ.get(
            "PGCONNECT_TIMEOUT", "3")), application_name="rag-news", client_encoding="utf8")
    except psycopg.Error as error:
        raise DatabaseError(f"The database at {name} is not reachable ({_reason(error)}); check the URL "
                            "(RAG_DATABASE_URL or --db) and that Postgres is running.") from None
    if not reader:  # a build may create the extension itself; the session settings below need it first
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
            connection.commit()
        except psycopg.Error:
            connection.rollback()  # not allowed here: the settings below then say what to run
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")  # the planner's cost of a lexical query would pay for a JIT compile
            # psycopg prepares a statement run 5 times, and Postgres then may keep one generic plan for every
            # question: right after a build, the 10^5-chunk search took 39 ms with it, 10 ms planned per question.
            cursor.execute("SET plan_cache_mode = force_custom_plan")
            cursor.execute(f"SET hnsw.ef_search = {HNSW_SEARCH_DEPTH}")
            cursor.execute("SET hnsw.iterative_scan = relaxed_order")  # a filter never starves the dense side
            cursor.execute(f"SET statement_timeout = '{'15s' if reader else '0'}'")
        if reader:
            register_vector(connection)  # a build writes vectors in binary itself, and may create the extension
        else:
            connection.commit()
    except psycopg.ProgrammingError:
        connection.close()
        raise _no_vector(name) from None
    except psycopg.Error as error:
        connection.close()
        raise DatabaseError(f"The database at {name} refused the session settings ({_reason(error)}).") from None
    return connection


def display_url(url: str) -> str:
    """Return ``url`` without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "the given URL"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[-1].strip().rstrip(".") if text else type(error).__name__


def _no_vector(name: str) -> DatabaseError:
    return DatabaseError(f"The database at {name} has no `vector` extension; install pgvector on the server "
                         "and run `CREATE EXTENSION vector;` in that database as its owner.")


class _Connections:
    """A small pool of reading connections, shared by a process's threads; a broken one is dropped.

    After a fork (gunicorn ``--preload``) the child leaves the parent's connections alone and opens its own.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = display_url(url)
        self._idle: list[Any] = []  # always this list: the finalizer below closes what it holds
        self._pid = os.getpid()
        self._lock = threading.Lock()
        # Not __del__: a finalizer holds the idle connections itself, so a pool dropped in a reference cycle or at
        # exit closes them before the garbage collector reaches them (psycopg warns of an unclosed connection).
        self._closer = weakref.finalize(self, _close_idle, self._idle, self._pid)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        import psycopg

        connection = self._take()
        try:
            with connection.cursor() as cursor:
                yield cursor
        except psycopg.errors.UndefinedTable:
            raise _missing(self.name) from None
        except psycopg.errors.QueryCanceled:
            raise DatabaseError(f"The database at {self.name} took too long to answer; try again.") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            connection.close()
            raise DatabaseError(f"The database at {self.name} stopped answering ({_reason(error)}); "
                                "try again shortly.") from None
        finally:
            if not connection.closed:
                with self._lock:
                    self._idle.append(connection)

    def together(self, *jobs: Callable[[Any], T]) -> list[T]:
        """Run each job with a cursor of a connection of its own, all at the same time; return their results.

        The first runs in this thread. An error of any job is raised once every job has finished.
        """
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException] = []

        def run(n: int) -> None:
            try:
                with self.cursor() as cursor:
                    results[n] = jobs[n](cursor)
            except BaseException as error:  # noqa: BLE001 - handed to the calling thread
                errors.append(error)

        helpers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(1, len(jobs))]
        for helper in helpers:
            helper.start()
        run(0)
        for helper in helpers:
            helper.join()
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        """Close the idle connections of this process."""
        with self._lock:
            _close_idle(self._idle, self._pid)

    def _take(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours to use or close
                _INHERITED.extend(self._idle)
                self._idle.clear()
                self._pid = os.getpid()
                self._closer.detach()
                self._closer = weakref.finalize(self, _close_idle, self._idle, self._pid)
            if self._idle:
                return self._idle.pop()
        return _connect(self.url, reader=True)


_INHERITED: list[Any] = []


def _close_idle(idle: list[Any], pid: int) -> None:
    """Close and forget the connections in ``idle``, when they were opened by this process (``pid``)."""
    if pid != os.getpid():
        return
    connections = idle[:]
    idle.clear()
    for connection in connections:
        connection.close()


def _missing(name: str) -> BrokenIndexError:
    return BrokenIndexError(f"There is no index in the database at {name}; run `rag build PATH... --db URL`.")


class PostgresSnapshot:
    """One generation of the database's index, read on demand (articles and sentences cached; rows never change)."""

    def __init__(self, connections: _Connections, version: str, meta: dict[str, Any], state: dict[str, Any]) -> None:
        self.connections = connections
        self.version = version
        self._meta, self._state = meta, state
        self._sources: dict[str, int] = {}  # source -> article number, as found by this snapshot's searches
        self._articles: collections.OrderedDict[int, Article] = collections.OrderedDict()
        self._lock = threading.Lock()

    @functools.cached_property
    def manifest(self) -> Manifest:
        """The model and settings, counts, and every live article (listed on first use)."""
        with self.connections.cursor() as cursor:
            cursor.execute("SELECT source, title, doc_id, sha256, path, chunks, sentences, characters, added "
                           "FROM rag_articles WHERE retired IS NULL ORDER BY number")
            sources = [SourceInfo(*row) for row in cursor.fetchall()]
        return Manifest(self._meta["model"], self._meta["dimension"], self._meta["chunker"], sources,
                        self._state["built_at"], FORMAT, "hnsw (pgvector)", dict(self._state["counts"]))

    def candidates(self, query: str, vector: np.ndarray, depth: int,
                   within: tuple[int, int] | None = None) -> list[Candidate]:
        first, stop = within or (0, 0)
        depth = min(depth, stop - first) if within is not None else depth
        if not self._state["counts"]["chunks"] or depth <= 0:
            return []
        times = collections.Counter(t for t in terms(query) if len(t.encode("utf-8")) <= MAX_LEXEME_BYTES)
        only, exact = (WITHIN, EXACT) if within is not None else (LIVE, "")
        chunks = self._state["counts"]["chunks"]
        values = {"terms": list(times), "times": list(times.values()), "chunks": chunks, "depth": depth,
                  "average": max(self._state["lexical_length"], 1) / max(chunks, 1),
                  "vector": np.asarray(vector, dtype=np.float32), "first": first, "stop": stop}

        def dense_side(cursor: Any) -> list[tuple]:
            cursor.execute(DENSE.format(only=only, exact=exact), values)
            return cursor.fetchall()

        def lexical_side(cursor: Any) -> list[tuple]:
            cursor.execute("SELECT term, chunks FROM rag_terms WHERE term = ANY(%s)", (values["terms"],))
            match = _match(dict(cursor.fetchall()), LEXICAL_ROWS if within is None else None)
            if match is None:
                return []
            cursor.execute(LEXICAL.format(only=only), {**values, "match": match,
                                                       "rows": LEXICAL_ROWS if within is None else stop - first})
            return cursor.fetchall()

        dense_rows, lexical_rows = self.connections.together(dense_side, lexical_side)
        dense = sorted(dense_rows, key=lambda row: (-row[1], row[0]))
        lexical = sorted((row for row in lexical_rows if row[2] > 0), key=lambda row: (-row[2], row[0]))
        rows = dense_rows + lexical_rows
        fused = fuse([[row[0] for row in dense], [row[0] for row in lexical]])
        scores = {row[0]: (float(row[1]), float(row[2])) for row in rows}
        return [Candidate(n, fused[n], *scores[n]) for n in sorted(fused, key=lambda n: (-fused[n], n))]

    def records(self, numbers: Sequence[int]) -> list[ChunkRecord]:
        with self.connections.cursor() as cursor:
            cursor.execute(RECORDS, (list(numbers),))
            rows = {row[0]: row for row in cursor.fetchall()}
        result = []
        for number in numbers:
            _, article_number, ordinal, start, end, first, stop, spans = rows[number]
            article = self._article(article_number)
            with self._lock:
                self._sources[article.source] = article_number
            chunk = Chunk(article.source, ordinal, start, end, article.text[start:end])
            result.append(ChunkRecord(number, chunk, article.title, article.doc_id, article.text, range(first, stop),
                                      tuple(Sentence(s, e) for _, s, e in spans)))
        return result

    def article(self, source: str) -> Article:
        """Return the article with this source name: the version this snapshot's searches found, else the live one."""
        number = self._sources.get(source)
        if number is not None:
            return self._article(number)
        with self.connections.cursor() as cursor:
            cursor.execute(f"{ARTICLE} WHERE source = %s AND retired IS NULL", (source,))
            row = cursor.fetchone()
        if row is None:
            raise KeyError(source)
        return Article(*row[1:])

    def article_number(self, doc_id: str) -> int | None:
        return next((n for n, info in enumerate(self.manifest.sources) if info.doc_id == doc_id), None)

    def article_chunks(self, doc_id: str) -> tuple[int, int]:
        with self.connections.cursor() as cursor:
            cursor.execute("SELECT first_chunk, first_chunk + chunks FROM rag_articles "
                           "WHERE doc_id = %s AND retired IS NULL ORDER BY number LIMIT 1", (doc_id,))
            row = cursor.fetchone()
        if row is None:
            raise missing_article(doc_id)
        return int(row[0]), int(row[1])

    def _article(self, number: int) -> Article:
        found = self._articles.get(number)
        if found is None:
            with self.connections.cursor() as cursor:
                cursor.execute(ARTICLE + " WHERE number = %s", (number,))
                found = Article(*cursor.fetchone()[1:])
            with self._lock:
                _remember(self._articles, number, found, CACHED_ARTICLES)
        return found


def _match(found: dict[str, int], most: int | None) -> str | None:
    """Return the full-text query of the words whose chunks the lexical side scores: the rarest first, as long
    as they hold at most ``most`` chunks together (always at least the rarest; every word if ``most`` is None).

    Example: {'pari': 900, 'meet': 300, 'chair': 40} with 1,000 rows -> "'chair' | 'meet'". Every query word
    still counts in the score; a chunk holding only very common words is not a candidate (what a BM25 engine's
    dynamic pruning also skips). Below ``LEXICAL_ROWS`` matching chunks this is exact BM25.
    """
    chosen: list[str] = []
    rows = 0
    for term in sorted(found, key=lambda t: (found[t], t)):
        if chosen and most is not None and rows + found[term] > most:
            break
        chosen.append(term)
        rows += found[term]
    return " | ".join(f"'{term}'" for term in chosen) or None


def _remember(cache: collections.OrderedDict[int, Any], key: int, value: Any, size: int) -> None:
    """Put ``value`` in a least-recently-used cache of ``size`` entries."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > size:
        cache.popitem(last=False)


def _tsvector(words: Sequence[str]) -> bytes:
    """Return the binary form of a tsvector of ``words`` with their positions (so a lexeme's count is its tf).

    Example: ('pari', 'meet', 'pari') -> 'meet':2 'pari':1,3.
    """
    positions: dict[bytes, list[int]] = {}
    for at, word in enumerate(words[:MAX_POSITION], start=1):
        encoded = word.encode("utf-8")
        if len(encoded) <= MAX_LEXEME_BYTES:
            positions.setdefault(encoded, []).append(at)
    parts = [struct.pack(">i", len(positions))]
    for lexeme, at in sorted(positions.items()):
        at = at[:MAX_POSITIONS]
        parts.append(lexeme + b"\0" + struct.pack(f">H{len(at)}H", len(at), *at))
    return b"".join(parts)


def _vector(values: np.ndarray) -> bytes:
    """Return pgvector's binary form of a vector."""
    return struct.pack(">HH", len(values), 0) + np.asarray(values, dtype=">f4").tobytes()


@dataclass
class Writer:
    """One build inside its transaction: what it keeps, adds and retires."""

    connection: Any
    known: dict[str, tuple[int, str]]  # live source -> (article number, sha256)
    added: dict[str, str] = field(default_factory=dict)  # live source -> when it first came into the index
    seen: set[str] = field(default_factory=set)
    embedded: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    terms: collections.Counter[str] = field(default_factory=collections.Counter)

    def unchanged(self, source: str, digest: str) -> bool:
        """Return whether the live copy of ``source`` has this text; if so keep it."""
        if source in self.known and self.known[source][1] == digest:
            self.seen.add(source)
            self.reused.append(source)
            return True
        return False

    def add(self, article: Article, part: Part) -> None:
        """Write one article's rows (retiring its earlier version)."""
        if article.source in self.seen:
            return
        self.seen.add(article.source)
        self.embedded.append(article.source)
        if article.source in self.known:
            self.retire([self.known[article.source][0]])
        cursor = self.connection.cursor()
        cursor.execute("SELECT nextval('rag_article_numbers'), "
                       "setval('rag_chunk_numbers', nextval('rag_chunk_numbers') + %s), "
                       "setval('rag_sentence_numbers', nextval('rag_sentence_numbers') + %s)",
                       (len(part.chunks), len(part.sentences)))
        number, last_chunk, last_sentence = cursor.fetchone()
        first_chunk, first_sentence = last_chunk - len(part.chunks), last_sentence - len(part.sentences)
        words = [terms.__wrapped__(chunk.text) for chunk in part.chunks]  # uncached: the cache is for questions
        for chunk_words in words:
            self.terms.update(set(w for w in chunk_words if len(w.encode("utf-8")) <= MAX_LEXEME_BYTES))
        cursor.execute("INSERT INTO rag_articles (number, source, title, doc_id, sha256, path, text, body_start, "
                       "body_end, chunks, sentences, lexical_length, first_chunk, characters, added) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                       (number, article.source, article.title, article.doc_id, article.digest, _path(article),
                        article.text, article.body_start, article.body_end, len(part.chunks), len(part.sentences),
                        sum(len(w) for w in words), first_chunk, len(article.text),
                        self.added.get(article.source) or time.strftime("%Y-%m-%dT%H:%M:%S%z")))
        with cursor.copy("COPY rag_sentences FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int8", "int4", "int4"])
            for n, sentence in enumerate(part.sentences):
                copy.write_row((first_sentence + n, number, sentence.start, sentence.end))
        with cursor.copy("COPY rag_chunks FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int8", "int4", "int4", "int4", "int8", "int8", "bytea", "bytea", "int4",
                            "timestamptz"])
            for n, (chunk, (first, stop), vector, chunk_words) in enumerate(
                    zip(part.chunks, sentence_ranges(part), part.chunk_vectors, words)):
                copy.write_row((first_chunk + n, number, chunk.ordinal, chunk.start, chunk.end, first_sentence + first,
                                first_sentence + stop, _vector(vector), _tsvector(chunk_words), len(chunk_words), None))

    def retire(self, articles: list[int]) -> None:
        """Retire these articles' rows: no search finds them; questions in flight can still read them."""
        if not articles:
            return
        cursor = self.connection.cursor()
        cursor.execute("SELECT u.lexeme, count(*) FROM rag_chunks AS c, unnest(c.lexemes) AS u "
                       "WHERE c.article = ANY(%s) GROUP BY u.lexeme", (articles,))
        self.terms.subtract(dict(cursor.fetchall()))
        cursor.execute("UPDATE rag_articles SET retired = now() WHERE number = ANY(%s)", (articles,))
        cursor.execute("UPDATE rag_chunks SET retired = now() WHERE article = ANY(%s)", (articles,))


def _path(article: Article) -> str | None:
    return os.path.abspath(article.source) if os.path.exists(article.source) else None


class PostgresStore:
    """An index in a Postgres database (``RAG_DATABASE_URL``): replicas read it, any machine builds it."""

    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.connections = _Connections(url)
        self.name = self.connections.name

    def exists(self) -> bool:
        return self.live_version() is not None

    def live_version(self) -> str | None:
        """Return the live generation (one indexed read), or None when nothing was built."""
        import psycopg

        try:
            with self.connections.cursor() as cursor:
                cursor.execute("SELECT value->>'generation' FROM rag_meta WHERE key = 'state'")
                row = cursor.fetchone()
        except BrokenIndexError:
            return None
        except psycopg.Error as error:
            raise DatabaseError(f"The database at {self.name} could not be read ({_reason(error)}).") from None
        return row[0] if row else None

    def read_manifest(self) -> Manifest:
        return self.open().manifest

    def old_articles(self) -> list[Article]:
        snapshot = self.open()
        return [snapshot.article(info.source) for info in snapshot.manifest.sources]

    def open(self, model: str | None = None) -> PostgresSnapshot:
        with self.connections.cursor() as cursor:
            cursor.execute("SELECT key, value FROM rag_meta")
            meta = dict(cursor.fetchall())
        _check_schema(meta, self.name)
        if "state" not in meta:
            raise _missing(self.name)
        index = meta["index"]
        if model is not None and index["model"] != model:
            raise BrokenIndexError(f"The index in the database at {self.name} was built with {index['model']}, "
                                   f"not {model}; run `rag build PATH... --db URL` with the model you want.")
        return PostgresSnapshot(self.connections, str(meta["state"]["generation"]), index, meta["state"])

    def update(self, articles: list[Article], embedder: Embedder, settings: Settings, force: bool = False,
               say: Say | None = None, progress: Progress | None = None) -> BuildReport:
        def fill(writer: Writer) -> None:
            fresh = [a for a in articles if not writer.unchanged(a.source, a.digest)]
            done = 0
            for batch in _batches(fresh, settings):
                for article, part in zip(batch, prepare_articles(batch, embedder, settings)):
                    writer.add(article, part)
                done += len(batch)
                if progress:
                    progress("articles", done, len(fresh))

        return self.update_with(fill, embedder.model_id, embedder.dimension, settings, force, say)

    def update_with(self, fill: Callable[[Writer], None], model: str, dimension: int, settings: Settings,
                    force: bool = False, say: Say | None = None) -> BuildReport:
        """Run a build whose articles ``fill`` gives the writer (``Writer.unchanged`` / ``Writer.add``)."""
        started = time.perf_counter()
        with self.writing(model, dimension, settings, force, say) as writer:
            fill(writer)
            if not writer.seen:
                raise ArticleError("No readable articles were given.")
        return BuildReport(self.open(), writer.embedded, writer.reused, writer.removed, time.perf_counter() - started)

    @contextmanager
    def writing(self, model: str, dimension: int, settings: Settings, force: bool = False,
                say: Say | None = None) -> Iterator[Writer]:
        """Open a build: lock, migrate, yield a writer; on leaving, retire what was not seen and commit."""
        import psycopg

        connection = _connect(self.url, reader=False)
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
            if not cursor.fetchone()[0]:
                if say:
                    say(f"Another build of the database at {self.name} is running; waiting for it to finish.")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            meta = _migrate(cursor, dimension, self.name)
            wanted = {"model": model, "dimension": dimension, "chunker": chunker_settings(settings)}
            if meta.get("index") not in (None, wanted):
                force = True
                if meta["index"]["dimension"] != dimension:
                    cursor.execute("TRUNCATE rag_articles, rag_chunks, rag_sentences, rag_terms")
                    cursor.execute("DROP INDEX IF EXISTS rag_chunks_embedding")
                    cursor.execute(f"ALTER TABLE rag_chunks ALTER COLUMN embedding TYPE vector({int(dimension)})")
            cursor.execute(f"DELETE FROM rag_articles WHERE retired < now() - interval '{RETIRED_KEPT}'")
            cursor.execute("SELECT source, number, sha256, added, title FROM rag_articles WHERE retired IS NULL "
                           "ORDER BY number")
            rows = cursor.fetchall()
            known = {source: (number, digest) for source, number, digest, _, _ in rows}
            writer = Writer(connection, {} if force else known, {source: added for source, _, _, added, _ in rows})
            if force:
                writer.retire([number for number, _ in known.values()])
            yield writer
            if not force:
                writer.retire([number for source, (number, _) in known.items() if source not in writer.seen])
            writer.removed = [Removed(source, title) for source, _, _, _, title in rows if source not in writer.seen]
            self._commit(cursor, writer, wanted, meta)
            connection.commit()
        except psycopg.OperationalError as error:
            raise DatabaseError(f"The database at {self.name} stopped answering during the build "
                                f"({_reason(error)}); nothing was changed, run the build again.") from None
        except psycopg.errors.InsufficientPrivilege as error:
            raise DatabaseError(f"The database at {self.name} refused the build ({_reason(error)}); "
                                "build as a user who may create tables there.") from None
        finally:
            connection.close()

    def _commit(self, cursor: Any, writer: Writer, wanted: dict[str, Any], meta: dict[str, Any]) -> None:
        changed = {term: n for term, n in writer.terms.items() if n}
        cursor.execute("INSERT INTO rag_terms SELECT * FROM unnest(%s::text[], %s::int[]) ON CONFLICT (term) "
                       "DO UPDATE SET chunks = rag_terms.chunks + excluded.chunks",
                       (list(changed), list(changed.values())))
        cursor.execute("DELETE FROM rag_terms WHERE chunks <= 0")
        cursor.execute("SELECT to_regclass('rag_chunks_embedding') IS NULL")
        if cursor.fetchone()[0]:
            cursor.execute(HNSW)  # after the first load: building the graph once beats growing it row by row
        # Fresh statistics commit with the rows: until autovacuum got to a big load, replicas' plans were
        # guesses (the fused query took 10 times as long at 10^5 chunks).
        cursor.execute("ANALYZE rag_articles, rag_chunks, rag_sentences, rag_terms")
        cursor.execute("SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(sentences), 0), "
                       "coalesce(sum(lexical_length), 0) FROM rag_articles WHERE retired IS NULL")
        articles, chunks, sentences, length = cursor.fetchone()
        generation = int(meta.get("state", {}).get("generation", 0)) + 1
        state = {"generation": generation, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                 "counts": {"articles": articles, "chunks": int(chunks), "sentences": int(sentences)},
                 "lexical_length": int(length)}
        for key, value in (("index", wanted), ("state", state)):
            cursor.execute("INSERT INTO rag_meta VALUES (%s, %s) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))



def _check_schema(meta: dict[str, Any], name: str) -> None:
    version = int(meta.get("schema", {}).get("version", 0))
    if version > SCHEMA_VERSION:
        raise DatabaseError(f"The database at {name} holds an index of schema version {version}, newer than this "
                            f"rag-news reads ({SCHEMA_VERSION}); upgrade rag-news on this machine.")
    if version < SCHEMA_VERSION:
        raise BrokenIndexError(f"The index in the database at {name} has schema version {version}; "
                               "run `rag build PATH... --db URL` to migrate it.")


def _migrate(cursor: Any, dimension: int, name: str) -> dict[str, Any]:
    """Create the tables, or bring an older schema up to this version; return the meta rows."""
    import psycopg

    cursor.execute("SELECT to_regclass('rag_meta') IS NOT NULL")
    if not cursor.fetchone()[0]:
        try:
            cursor.execute("SAVEPOINT extension")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
            cursor.execute("RELEASE SAVEPOINT extension")
        except psycopg.Error:
            cursor.execute("ROLLBACK TO SAVEPOINT extension")
        cursor.execute("SELECT to_regtype('vector') IS NOT NULL")
        if not cursor.fetchone()[0]:
            raise _no_vector(name)
        cursor.execute(SCHEMA.format(dimension=int(dimension)))
        cursor.execute("INSERT INTO rag_meta VALUES ('schema', %s)", (json.dumps({"version": SCHEMA_VERSION}),))
    cursor.execute("SELECT key, value FROM rag_meta")
    meta = dict(cursor.fetchall())
    version = int(meta.get("schema", {}).get("version", 0))
    if version > SCHEMA_VERSION:
        _check_schema(meta, name)
    for step in range(version + 1, SCHEMA_VERSION + 1):
        cursor.execute(MIGRATIONS[step])
        cursor.execute("UPDATE rag_meta SET value = %s WHERE key = 'schema'", (json.dumps({"version": step}),))
    return meta


def _batches(articles: list[Article], settings: Settings) -> Iterator[list[Article]]:
    """Yield groups of articles of about ``BATCH_CHUNKS`` chunks (estimated from their length)."""
    batch: list[Article] = []
    size = 0
    for article in articles:
        batch.append(article)
        size += max(1, (article.body_end - article.body_start) // (settings.chunk_tokens * 3))
        if size >= BATCH_CHUNKS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch

