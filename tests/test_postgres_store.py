"""The Postgres store against a real Postgres 18 + pgvector started by the tests (``database`` fixture)."""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from rag.articles import bundled_article, load_articles, make_article
from rag.build import update_index
from rag.errors import BrokenIndexError, DatabaseError, MissingArticleError
from rag.evaluate import evaluate, read_questions
from rag.pipeline import Assistant
from rag.settings import Settings
from rag.stores import open_store
from rag.stores.folder import FolderStore
from rag.stores.postgres import LOCK_KEY, PostgresStore, display_url

DATA = Path(__file__).parent / "data"
PARIS = Path(__file__).parents[1] / "rag" / "data" / "paris-coalition-meeting.txt"
STORY = "Ministers met in Rome on Monday. They agreed to share radar data. The talks ended early.\n\nMore talks follow in May."
RAG = str(Path(sys.executable).parent / "rag")


def replica(url: str) -> Assistant:
    """An Assistant on a database as a web replica has it: the ONNX query encoder, one thread."""
    return Assistant(Settings(database_url=url, threads=1), build_missing=False)


@pytest.fixture(scope="module")
def stores(tmp_path_factory, embedder, postgres, onnx_export):
    """The bundled article and the SQuAD Normans article in a folder and in a database, each with an Assistant
    as a replica has it (the ONNX query encoder, the reader, one thread)."""
    folder = tmp_path_factory.mktemp("parity") / "index"
    url = postgres.create_database("parity")
    articles = load_articles([PARIS, DATA / "normans.txt"])
    update_index(articles, folder, embedder, Settings(index_dir=folder))
    PostgresStore(url).update(articles, embedder, Settings(database_url=url))
    return Assistant(Settings(index_dir=folder, threads=1), build_missing=False), replica(url)


@pytest.mark.parametrize("questions", ["paris_questions.jsonl", "normans_questions.jsonl"])
def test_the_same_answers_and_figures_from_a_folder_and_a_database(stores, questions: str):
    rows = read_questions(DATA / questions)
    answers: list[list] = [[], []]
    figures = []
    for assistant, kept in zip(stores, answers):
        asked = assistant.ask
        assistant.ask = lambda *args, asked=asked, kept=kept: kept.append(asked(*args)) or kept[-1]  # record
        try:
            figures.append(dataclasses.replace(evaluate(assistant, rows), latency_p50_ms=0, latency_p95_ms=0))
        finally:
            del assistant.ask
    assert figures[0] == figures[1]  # what `rag eval` prints
    for row, folder, database in zip(rows, *answers):
        assert (folder.answer, folder.short_answer, folder.found) == \
            (database.answer, database.short_answer, database.found), row.question
        assert [dataclasses.replace(c, score=0) for c in folder.citations] == \
            [dataclasses.replace(c, score=0) for c in database.citations], row.question
        assert [c.score for c in folder.citations] == pytest.approx([c.score for c in database.citations], abs=1e-4)


def test_one_article_questions_from_a_folder_and_a_database(stores):
    folder, database = stores
    for info in folder.index.manifest.sources:
        first, stop = database.index.article_chunks(info.doc_id)
        assert stop - first == info.chunks
        assert {r.chunk.source for r in database.index.records(range(first, stop))} == {info.source}
        for question in ("Who led the meeting?", "Where did the Normans come from?", "When was it?"):
            a = folder.ask(question, article=info.doc_id)
            b = database.ask(question, article=info.doc_id)
            assert (a.answer, a.found, [(c.doc_id, c.start, c.end) for c in a.citations]) == \
                (b.answer, b.found, [(c.doc_id, c.start, c.end) for c in b.citations]), question
            assert all(c.doc_id == info.doc_id for c in b.citations)
    for assistant in stores:
        with pytest.raises(MissingArticleError, match="There is no article with id 'nope'"):
            assistant.ask("Who led the meeting?", article="nope")


def test_fused_candidates_and_scores_match_the_folder_store(stores):
    folder, database = stores
    for row in read_questions(DATA / "paris_questions.jsonl") + read_questions(DATA / "normans_questions.jsonl"):
        vector = database.encoder.embed([row.question])[0]
        a = folder.index.candidates(row.question, vector, 50)
        b = database.index.candidates(row.question, vector, 50)
        chunks = [[(r.chunk.source, r.chunk.ordinal) for r in store.index.records([c.number for c in found])]
                  for store, found in ((folder, a), (database, b))]
        assert chunks[0] == chunks[1] and [c.score for c in a] == [c.score for c in b], row.question
        assert [c.dense for c in a] == pytest.approx([c.dense for c in b], abs=1e-5)
        assert [c.lexical for c in a] == pytest.approx([c.lexical for c in b], rel=1e-5)


def test_the_database_holds_what_a_replica_needs(stores):
    folder, database = stores
    index = database.index
    manifest = index.manifest
    assert manifest.counts == folder.index.manifest.counts and manifest.format == "rag-postgres v2"
    assert [(s.source, s.doc_id, s.sha256, s.chunks, s.sentences, s.characters) for s in manifest.sources] == \
        [(s.source, s.doc_id, s.sha256, s.chunks, s.sentences, s.characters) for s in folder.index.manifest.sources]
    for number, info in enumerate(manifest.sources):
        assert index.article_number(info.doc_id) == number and info.added
        article = index.article(info.source)
        assert article == folder.index.article(info.source) and len(article.text) > 1000
    with psycopg.connect(database.store.url) as connection:
        columns = {row[0] for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name LIKE 'rag_%'")}
        kinds = dict(connection.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'rag_chunks'"))
    assert "embedding" in columns and "text" in columns and "sha256" in columns and "lexemes" in columns
    assert "vector_cosine_ops" in kinds["rag_chunks_embedding"] and "gin" in kinds["rag_chunks_lexemes"]
    assert not {"sentence_vectors", "token_vectors", "word_pieces", "mentions"} & columns  # the reader reads text


def test_a_schema_1_database_is_migrated_by_the_next_build(database, embedder, onnx_export):
    """Schema 1 kept the retired sentence scoring's mentions and word pieces; the next build drops them."""
    store = PostgresStore(database)
    settings = Settings(database_url=database)
    store.update([bundled_article()], embedder, settings)
    with psycopg.connect(database, autocommit=True) as connection:  # back to schema 1's layout
        connection.execute("ALTER TABLE rag_sentences ADD COLUMN mentions text NOT NULL DEFAULT '[]', "
                           "ADD COLUMN word_pieces int4[] NOT NULL DEFAULT '{}'")
        connection.execute("ALTER TABLE rag_articles ADD COLUMN word_pieces bigint NOT NULL DEFAULT 0, "
                           "DROP COLUMN first_chunk, DROP COLUMN characters, DROP COLUMN added")
        connection.execute("UPDATE rag_meta SET value = '{\"version\": 1}' WHERE key = 'schema'")
    with pytest.raises(BrokenIndexError, match=r"has schema version 1; run `rag build PATH\.\.\. --db URL` to "
                                               "migrate it"):
        replica(database)
    report = store.update([bundled_article()], embedder, settings)
    assert report.reused == ["paris-coalition-meeting.txt"]
    assistant = replica(database)
    info = assistant.index.manifest.sources[0]
    assert info.characters == len(bundled_article().text)
    assert assistant.index.article_chunks(info.doc_id)[1] - assistant.index.article_chunks(info.doc_id)[0] == info.chunks
    assert "Carter" in assistant.ask("who chaired the Paris meeting?", article=info.doc_id).answer


def test_builds_are_incremental_by_content_hash(database, embedder, onnx_export):
    store = PostgresStore(database)
    settings = Settings(database_url=database)
    one, two = make_article(STORY, "one.txt"), make_article(STORY.replace("Rome", "Oslo"), "two.txt")
    first = store.update([one, two], embedder, settings)
    assert sorted(first.embedded) == ["one.txt", "two.txt"] and first.index.version == "1"
    changed = make_article(STORY.replace("radar", "satellite"), "two.txt")
    second = store.update([one, changed], embedder, settings)
    assert second.embedded == ["two.txt"] and second.reused == ["one.txt"] and second.index.version == "2"
    third = store.update([changed], embedder, settings)
    assert [gone.source for gone in third.removed] == ["one.txt"] and third.embedded == []
    assistant = replica(database)
    assert "satellite" in assistant.ask("What did they agree to share?").answer
    assert [s.source for s in assistant.index.manifest.sources] == ["two.txt"]
    forced = store.update([changed], embedder, settings, force=True)
    assert forced.embedded == ["two.txt"] and forced.index.manifest.counts["chunks"] == 1


def test_a_replica_picks_up_a_build_committed_elsewhere(database, embedder, onnx_export):
    settings = Settings(database_url=database)
    PostgresStore(database).update([make_article("The bridge opened in March. It cost 4 million dollars.",
                                                 "bridge.txt")], embedder, settings)
    assistant = replica(database)
    assert "March" in assistant.ask("When did the bridge open?").answer
    assert not assistant.reload_if_rebuilt(every=0)
    PostgresStore(database).update([make_article("The bridge opened in October. It cost 4 million dollars.",
                                                 "bridge.txt")], embedder, settings)
    assert assistant.reload_if_rebuilt(every=0)
    assert "October" in assistant.ask("When did the bridge open?").answer


def test_two_builds_at_once_are_serialized_by_the_database(database, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(6):
        (corpus / f"s{n}.txt").write_text(f"Story {n} happened on Monday. It was reported widely.", encoding="utf-8")
    command = [RAG, "build", str(corpus), "--db", database]
    waiting = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {LOCK_KEY} AND NOT granted"
    with psycopg.connect(database, autocommit=True) as holder:
        # Hold the builds' lock until both wait for it, so they overlap however fast each one starts.
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while holder.execute(waiting).fetchone()[0] < 2:
            assert first.poll() is None and second.poll() is None and time.monotonic() < deadline, \
                "both builds should be waiting for the lock"
            time.sleep(0.05)
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert any("waiting for it to finish" in err for _, err in outputs)
    assert sum("6 embedded" in out for out, _ in outputs) == 1 and sum("6 reused" in out for out, _ in outputs) == 1
    manifest = PostgresStore(database).read_manifest()
    assert manifest.counts["articles"] == 6 and manifest.counts["chunks"] == 6


def test_a_killed_build_leaves_the_previous_articles_answerable(database, embedder, onnx_export, tmp_path: Path):
    settings = Settings(database_url=database)
    store = PostgresStore(database)
    store.update([bundled_article()], embedder, settings)
    before = store.read_manifest()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(60):
        (corpus / f"story{n}.txt").write_text((STORY + f" Item {n}.\n\n") * 10, encoding="utf-8")
    stages = {"holding the lock": f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {LOCK_KEY}",
              "writing rows": "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rag-news' "
                              "AND backend_xid IS NOT NULL"}
    for stage, probe in stages.items():
        process = subprocess.Popen([RAG, "build", str(corpus), "--db", database], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 600
        with psycopg.connect(database, autocommit=True) as watcher:
            while not watcher.execute(probe).fetchone()[0]:
                assert process.poll() is None and time.monotonic() < deadline, f"the build ended before {stage}"
                time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert store.read_manifest().sources == before.sources, stage
        assert "Carter" in replica(database).ask("who chaired the Paris meeting?").answer
    report = store.update([bundled_article(), make_article(STORY, "story.txt")], embedder, settings)
    assert report.reused == ["paris-coalition-meeting.txt"] and report.index.manifest.counts["articles"] == 2


def test_an_unreachable_database_is_one_clear_sentence(postgres, embedder):
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing"
    with pytest.raises(DatabaseError, match=r"^The database at postgresql://postgres@127\.0\.0\.1:\d+/nothing is not "
                                            r"reachable \(.*\); check the URL") as caught:
        Assistant(Settings(database_url=url), embedder=embedder)
    assert "\n" not in str(caught.value)
    result = subprocess.run([RAG, "build", str(PARIS), "--db", url], capture_output=True, text=True)
    assert result.returncode == 6 and result.stderr.startswith("error: The database at") \
        and result.stderr.count("\n") == 1


def test_a_database_without_the_vector_extension_is_named(postgres, embedder):
    url = postgres.create_database("no_vector", vector=False)
    with pytest.raises(DatabaseError, match="has no `vector` extension; install pgvector"):
        Assistant(Settings(database_url=url), embedder=embedder)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE ROLE builder LOGIN")
    limited = url.replace("postgres@", "builder@")
    with pytest.raises(DatabaseError, match="has no `vector` extension"):
        PostgresStore(limited).update([bundled_article()], embedder, Settings(database_url=limited))


def test_a_build_creates_the_vector_extension_where_its_user_may(postgres, tmp_path: Path):
    url = postgres.create_database("fresh_no_vector", vector=False)
    result = subprocess.run([RAG, "build", str(PARIS), "--db", url], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone() == (1,)


def test_an_empty_database_says_to_build_and_a_newer_schema_says_to_upgrade(database, embedder):
    with pytest.raises(BrokenIndexError, match=r"There is no index in the database at .*; run `rag build PATH\.\.\. "
                                               r"--db URL`\."):
        Assistant(Settings(database_url=database), embedder=embedder)
    store = PostgresStore(database)
    store.update([bundled_article()], embedder, Settings(database_url=database))
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("UPDATE rag_meta SET value = '{\"version\": 99}' WHERE key = 'schema'")
    with pytest.raises(DatabaseError, match="schema version 99, newer than this rag-news reads"):
        Assistant(Settings(database_url=database), embedder=embedder)
    with pytest.raises(DatabaseError, match="schema version 99, newer"):
        store.update([bundled_article()], embedder, Settings(database_url=database))


def test_the_cli_builds_asks_and_describes_a_database(database, onnx_export, tmp_path: Path):
    env = {**os.environ, "RAG_DATABASE_URL": database}
    built = subprocess.run([RAG, "build", str(PARIS)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert f"in {display_url(database)} (1 embedded" in built.stdout
    asked = subprocess.run([str(Path(sys.executable).parent / "ask"), "--json", "who chaired the Paris meeting?"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert asked.returncode == 0 and "Carter" in json.loads(asked.stdout)["answer"]
    info = subprocess.run([RAG, "info", "--db", database, "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(info.stdout)["counts"]["articles"] == 1
    listed = subprocess.run([RAG, "list", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert [Path(entry["source"]).name for entry in json.loads(listed.stdout)] == ["paris-coalition-meeting.txt"]
    added = subprocess.run([RAG, "add", str(DATA / "normans.txt")], capture_output=True, text=True, env=env,
                           cwd=tmp_path)
    assert added.returncode == 2 and added.stderr.startswith("error: Articles are added to and removed from an index "
                                                             "in a database by `rag build PATH... --db URL`")
    rebuilt = subprocess.run([RAG, "build", str(DATA / "normans.txt")], capture_output=True, text=True, env=env,
                             cwd=tmp_path)
    assert rebuilt.returncode == 0 and "1 removed" in rebuilt.stdout
    assert "(not among the paths given; `rag build` makes the index hold exactly them, give them too)" in rebuilt.stderr
    assert not (tmp_path / "index").exists()  # nothing local: the database is the index
    assert isinstance(open_store(Settings(database_url=database)), PostgresStore)
    assert isinstance(open_store(Settings(index_dir=tmp_path / "x")), FolderStore)
    with pytest.raises(Exception, match="must start with postgresql://"):
        Settings(database_url="mysql://host/db").checked()


def test_the_url_shown_never_has_the_password():
    assert display_url("postgresql://reader:s3cret@db.internal:5433/news") == "postgresql://reader@db.internal:5433/news"


def _closed_port() -> int:
    from engines import free_port

    return free_port()


def test_the_two_halves_of_a_search_run_at_once_on_two_connections(database):
    from rag.stores.postgres import _Connections

    connections = _Connections(database)
    try:
        def backend(cursor):  # a second's sleep each: together they take about one second, not two
            cursor.execute("SELECT pg_backend_pid(), pg_sleep(1)")
            return cursor.fetchone()[0]

        began = time.perf_counter()
        first, second = connections.together(backend, backend)
        assert first != second and time.perf_counter() - began < 1.9

        def broken(cursor):
            cursor.execute("SELECT 1 / 0")

        with pytest.raises(psycopg.errors.DivisionByZero):
            connections.together(backend, broken)
        assert len(connections._idle) == 2  # both connections came back and still work
        assert connections.together(*(lambda c, n=n: c.execute("SELECT %s", (n,)).fetchone()[0] for n in (1, 2))) \
            == [1, 2]
    finally:
        connections.close()


def test_a_pool_dropped_without_closing_closes_its_connections(database):
    from rag.stores.postgres import _Connections

    connections = _Connections(database)
    backends = set(connections.together(*(lambda c: c.execute("SELECT pg_backend_pid()").fetchone()[0]
                                           for _ in range(2))))

    def still_open() -> set[int]:
        with psycopg.connect(database, autocommit=True) as watcher:
            return {row[0] for row in watcher.execute("SELECT pid FROM pg_stat_activity")} & backends

    assert len(backends) == 2 and still_open() == backends
    connections.itself = connections  # a reference cycle: only the garbage collector frees it
    del connections
    gc.collect()
    deadline = time.monotonic() + 5
    while still_open() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not still_open()
