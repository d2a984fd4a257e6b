"""Add jobs: a slot is never leaked, an end is never lost, a job killed after its commit reads as done."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from rag.articles import bundled_article
from web.jobs import Jobs

from test_documents import call, post_json, served, titles  # noqa: F401 - the module's served fixture

FERRY = "The council said the ferry would restart in May."


def test_adds_refused_before_their_job_never_use_up_the_slots(served):  # noqa: F811
    base, _ = served
    for _ in range(8):  # more than the 4 slots
        status, body = post_json(base, {"text": FERRY, "title": "Ferry \udc00 news"})
        assert status == 400 and "lone surrogate" in body["error"], body
    status, document = post_json(base, {"text": FERRY, "title": "Ferry news"})
    assert status == 201, document
    call(base, "DELETE", f"/api/documents/{document['id']}")
    assert titles(base) == ["Paris coalition meeting"]


def test_a_job_store_that_cannot_be_written_answers_503_and_frees_the_slot(served):  # noqa: F811
    base, app = served
    folder = app.extensions["rag-jobs"].folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("not a folder")  # every write of a job's state now fails, as on a full disk
    try:
        for _ in range(6):
            status, body = post_json(base, {"text": FERRY})
            assert status == 503 and "could not record the add" in body["error"] and "\n" not in body["error"]
    finally:
        folder.unlink()
    status, document = post_json(base, {"text": FERRY})
    assert status == 201, document
    call(base, "DELETE", f"/api/documents/{document['id']}")


def test_an_end_that_cannot_be_written_is_kept_and_seen_by_other_workers(tmp_path: Path):
    folder = tmp_path / ".jobs"
    folder.mkdir()
    old = folder / ".0123456789abcdef.1.tmp"
    old.touch()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    logged: list[str] = []
    jobs = Jobs(folder, 1, logged.append)

    def work(progress):
        job = next(p for p in folder.glob("*.json"))
        # from here on each write of this job's state fails: its staging path is taken by a folder
        (folder / f".{job.stem}.{threading.get_ident()}.tmp" / "x").mkdir(parents=True)
        progress("chunks", 1, 2)
        return {"id": "abc"}

    first = jobs.start("Ferry", "0" * 64, work)
    assert not old.exists()  # a zero-byte staging file from a failed write is pruned
    deadline = time.monotonic() + 10
    while jobs.read(first["id"])["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert jobs.read(first["id"])["document"] == {"id": "abc"}
    on_disk = json.loads((folder / f"{first['id']}.json").read_text())
    assert on_disk["state"] in ("queued", "running")  # the file could not take the end...
    other_worker = Jobs(folder, 1, logged.append)
    assert other_worker.read(first["id"])["state"] == "done"  # ...but its marker tells every worker
    second = jobs.start("Ferry", "1" * 64, lambda progress: {"id": "def"})  # the one slot was given back
    assert second["state"] == "queued" and not logged


def test_a_job_killed_right_after_its_commit_reads_as_done(tmp_path: Path, bundled_index_dir: Path, free_port: int):
    from web import create_app

    folder = tmp_path / "index"
    shutil.copytree(bundled_index_dir, folder)
    env = {**os.environ, "RAG_INDEX_DIR": str(folder), "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(free_port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        live = (folder / "CURRENT").read_text()
        status, body = post_json(base, {"text": FERRY * 40}, query="")
        assert status == 202
        job = body["job"]["id"]
        while (folder / "CURRENT").read_text() == live:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        server.send_signal(signal.SIGKILL)  # the instant the new version is live
        server.wait()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    app = create_app({"INDEX_DIR": str(folder)})
    state = app.test_client().get(f"/api/documents/jobs/{job}").get_json()
    assert state["state"] == "done" and state["error"] is None, state
    listed = app.test_client().get("/api/documents").get_json()["documents"]
    assert state["document"]["id"] in [d["id"] for d in listed] and len(listed) == 2
    assert bundled_article().doc_id in [d["id"] for d in listed]


@pytest.mark.parametrize("digest, expected", [("landed", "done"), ("0" * 64, "failed")])
def test_a_job_of_a_dead_process_is_done_only_if_its_article_landed(tmp_path: Path, bundled_index_dir: Path,
                                                                     digest: str, expected: str):
    from web import create_app

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    app = create_app({"INDEX_DIR": str(bundled_index_dir), "MAX_JOBS": 1})
    jobs: Jobs = app.extensions["rag-jobs"]
    state = {"id": "00000000000000aa", "state": "running", "title": "x", "stage": "chunks", "done": 0, "total": 1,
             "document": None, "error": None, "pid": dead.pid, "started": time.time(),
             "digest": bundled_article().digest if digest == "landed" else digest}
    jobs._write(state)
    try:
        got = app.test_client().get("/api/documents/jobs/00000000000000aa").get_json()
    finally:
        (jobs.folder / "00000000000000aa.json").unlink()
    assert got["state"] == expected, got
    assert (got["document"] or {}).get("id") == (bundled_article().doc_id if expected == "done" else None)
