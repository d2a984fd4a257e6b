"""Stateless replicas on one database: gunicorn processes with RAG_DATABASE_URL and no index folder.

A build from a third process is answered from by every replica without a restart and without a failed
request; a database restarted under load gives clear 503 JSON errors while down and answers again after.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.articles import make_article
from rag.settings import Settings
from rag.stores.postgres import PostgresStore

BRIDGE = "The bridge opened in March. It cost 4 million dollars."
TUNNEL = "The tunnel opened in June. Engineers dug it under the river for three years."
BIN = Path(sys.executable).parent


def post(base: str, question: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + "/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@contextmanager
def replica(url: str, folder: Path, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run the Procfile's gunicorn command with RAG_DATABASE_URL, in an empty folder; yield its base URL."""
    from engines import free_port

    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([str(BIN / "gunicorn"), "web:create_app()", "--workers", str(workers), "--bind",
                               f"127.0.0.1:{port}", "--timeout", "60"], cwd=folder, stdout=log, stderr=log,
                              env={**os.environ, "RAG_DATABASE_URL": url, "PYTHONPATH": str(Path(__file__).parents[2])})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the replica did not start"
                time.sleep(0.3)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


class Load:
    """Threads that ask a question over and over, keeping every status and error body."""

    def __init__(self, bases: list[str], question: str, threads: int = 2) -> None:
        self.results: list[tuple[int, dict]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(base, question)) for base in bases
                        for _ in range(threads)]

    def _run(self, base: str, question: str) -> None:
        while not self.stop.is_set():
            try:
                self.results.append(post(base, question))
            except OSError as error:
                self.results.append((0, {"error": str(error)}))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


def test_two_replicas_answer_from_a_build_made_by_a_third_process(database, embedder, onnx_export, tmp_path: Path):
    PostgresStore(database).update([make_article(BRIDGE, "bridge.txt")], embedder, Settings(database_url=database))
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "bridge.txt").write_text(BRIDGE, encoding="utf-8")
    (tmp_path / "news" / "tunnel.txt").write_text(TUNNEL, encoding="utf-8")
    with replica(database, tmp_path / "one") as (first, _), replica(database, tmp_path / "two") as (second, _):
        assert "March" in post(first, "When did the bridge open?")[1]["answer"]
        assert "June" not in post(second, "When did the tunnel open?")[1]["answer"]
        with Load([first, second], "When did the bridge open?") as load:
            build = subprocess.run([str(BIN / "rag"), "build", str(tmp_path / "news"), "--db", database],
                                   capture_output=True, text=True, cwd=tmp_path)
            assert build.returncode == 0, build.stderr
            built = time.monotonic()
            waits = []
            for base in (first, second):
                while "June" not in post(base, "When did the tunnel open?")[1]["answer"]:
                    assert time.monotonic() - built < 30, "a replica did not pick up the build"
                    time.sleep(0.05)
                waits.append(time.monotonic() - built)
        assert load.results and {status for status, _ in load.results} == {200}, load.results[-3:]
        assert all("March" in body["answer"] for _, body in load.results)
        assert max(waits) < 5  # each replica checks the database's generation at most once a second
    assert not any((tmp_path / name / "index").exists() for name in ("one", "two"))  # nothing on local disk


def test_a_database_restarted_under_load_gives_503_then_answers_again(embedder, onnx_export, tmp_path: Path):
    from engines import LocalPostgres, own_folder

    with own_folder("rag-test-restart-") as folder:
        server = LocalPostgres(folder).init()
        server.start()
        try:
            url = server.create_database("news")
            PostgresStore(url).update([make_article(BRIDGE, "bridge.txt")], embedder, Settings(database_url=url))
            with replica(url, tmp_path / "web", workers=2) as (base, gunicorn):
                workers = sorted(child.pid for child in _children(gunicorn.pid))
                with Load([base], "When did the bridge open?", threads=3) as load:
                    time.sleep(1)
                    server.stop()
                    time.sleep(2)  # questions that had read what they needed before the stop are answered meanwhile
                    down = len(load.results)
                    time.sleep(3)
                    while_down = load.results[down:]
                    server.start()
                    deadline = time.monotonic() + 30
                    while post(base, "When did the bridge open?")[0] != 200:
                        assert time.monotonic() < deadline, "the replica did not recover"
                        time.sleep(0.2)
                    time.sleep(1)
                    after = len(load.results)
                    time.sleep(1)
                assert sorted(child.pid for child in _children(gunicorn.pid)) == workers  # no web restart
        finally:
            server.stop()
    statuses = {status for status, _ in load.results}
    assert statuses <= {200, 503}, statuses
    assert while_down and {status for status, _ in while_down} == {503}
    for _, body in while_down:
        assert set(body) == {"error"} and body["error"].startswith("The database at postgresql://postgres@127.0.0.1")
    assert load.results[after:] and all(status == 200 and "March" in body["answer"]
                                        for status, body in load.results[after:])


def _children(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children()
