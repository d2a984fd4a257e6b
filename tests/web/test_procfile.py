"""The Procfile's command, as a platform would run it: start on a free port, ask over HTTP, stop cleanly."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from urllib.parse import urlsplit


def wait_until_up(server: subprocess.Popen, url: str) -> bytes:
    """Return the body of ``url`` once the server answers; fail if it exits or takes over two minutes."""
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, f"{url} did not come up"
            time.sleep(0.5)


def test_procfile_command_serves_and_stops_cleanly(tmp_path: Path, bundled_index_dir: Path, start_procfile):
    shutil.copytree(bundled_index_dir, tmp_path / "index")
    server, base = start_procfile({"RAG_INDEX_DIR": str(tmp_path / "index")})
    try:
        for _ in range(4):  # more requests than workers: every worker answers
            request = urllib.request.Request(base + "/api/ask", method="POST",
                                             data=json.dumps({"question": "who chaired the Paris meeting?"}).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
            assert answer["found"] and "Le Drian" in answer["answer"]
        add = urllib.request.Request(base + "/api/documents?wait=1", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"text": "The ferry line closes in June, said Jonas Berg."}).encode())
        with urllib.request.urlopen(add, timeout=120) as response:  # a worker loads torch and embeds
            assert response.status == 201
        for path, headers, status in (("/api/ask?q=" + "a" * 5000, {}, 414),  # answered by gunicorn, not the app
                                      ("/api/health", {"X-Pad": "b" * 9000}, 431)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(base + path, headers=headers), timeout=30)
            assert refused.value.code == status and refused.value.headers["Content-Type"] == "application/json"
            error = json.loads(refused.value.read())["error"]
            assert error.endswith(".") and "\n" not in error and "<" not in error
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "Traceback" not in output
    # every worker exits by itself: onnxruntime is never imported before the fork (see rag/queryencoder.py)
    assert output.count("Worker exiting") == 2 and "Shutting down: Master" in output, output
    for sign in ("SIGABRT", "SIGKILL", "terminate called", "std::system_error", "was sent"):
        assert sign not in output, output


def drip(base: str, stop: threading.Event) -> None:
    """Send a request's headers one byte a second, as a slow (or hostile) client does, until ``stop``."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as connection:
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 1000:
            if stop.is_set():
                return
            try:
                connection.send(bytes([byte]))
            except OSError:
                return
            stop.wait(1)


def test_slow_clients_and_an_add_do_not_freeze_the_server(tmp_path: Path, bundled_index_dir: Path, start_procfile):
    shutil.copytree(bundled_index_dir, tmp_path / "index")
    server, base = start_procfile({"RAG_INDEX_DIR": str(tmp_path / "index")})
    stop = threading.Event()
    try:
        drippers = [threading.Thread(target=drip, args=(base, stop)) for _ in range(4)]  # more than the 2 workers
        for dripper in drippers:
            dripper.start()
        time.sleep(2)
        add = urllib.request.Request(base + "/api/documents?wait=1", method="POST",
                                     headers={"Content-Type": "application/json"},
                                     data=json.dumps({"text": "The ferry line closes in June, said Jonas Berg. " * 400}
                                                     ).encode())
        adding = threading.Thread(target=lambda: urllib.request.urlopen(add, timeout=120).close())
        adding.start()
        times = []
        for _ in range(20):
            started = time.perf_counter()
            with urllib.request.urlopen(base + "/api/health", timeout=30) as response:
                assert json.load(response)["status"] == "ok"
            times.append(time.perf_counter() - started)
            time.sleep(0.2)
        adding.join(timeout=120)
        assert max(times) < 2.0, times  # sync workers: each health call waited for a slow client (43 s)
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def test_sigterm_during_an_add_stops_within_the_graceful_timeout(tmp_path: Path, bundled_index_dir: Path,
                                                                 start_procfile):
    from rag.index import load_index

    shutil.copytree(bundled_index_dir, tmp_path / "index")
    server, base = start_procfile({"RAG_INDEX_DIR": str(tmp_path / "index")})
    add = urllib.request.Request(base + "/api/documents", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"text": "The ferry line closes in June, said Jonas Berg. " * 3000}
                                                 ).encode())
    with urllib.request.urlopen(add, timeout=30) as response:
        job = json.load(response)["job"]["id"]
    time.sleep(1)  # the job is loading the model or embedding
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    output, _ = server.communicate(timeout=60)
    assert time.monotonic() - started < 15, output  # a non-daemon job thread held the worker for 32 s, then a kill
    assert "Traceback" not in output and "was sent SIGKILL" not in output, output
    assert len(load_index(tmp_path / "index").manifest.sources) in (1, 2)  # as before, or with the article: never broken
    assert (tmp_path / "index" / ".jobs" / f"{job}.json").is_file()


def builders(worker) -> list:
    """The worker's builder children (not multiprocessing's small resource tracker)."""
    import psutil

    found = []
    for child in worker.children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # it ended meanwhile
            pass
    return found


def test_adds_leave_the_workers_memory_flat(tmp_path: Path, bundled_index_dir: Path, start_procfile):
    import psutil

    shutil.copytree(bundled_index_dir, tmp_path / "index")
    server, base = start_procfile({"RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_BUILDER_IDLE_SECONDS": "4"})

    def asks() -> None:
        for _ in range(6):  # every worker answers, and so has loaded what an ask needs
            request = urllib.request.Request(base + "/api/ask", method="POST", headers={"Content-Type": "application/json"},
                                             data=json.dumps({"question": "who chaired the Paris meeting?"}).encode())
            urllib.request.urlopen(request, timeout=60).close()

    try:
        workers = psutil.Process(server.pid).children()
        asks()
        before = [worker.memory_info().rss for worker in workers]
        for n in range(3):
            add = urllib.request.Request(base + "/api/documents?wait=1", method="POST",
                                         headers={"Content-Type": "application/json"},
                                         data=json.dumps({"text": f"Ferry {n} leaves at noon, said Jonas Berg. " * 50}
                                                         ).encode())
            with urllib.request.urlopen(add, timeout=120) as response:
                assert response.status == 201
        asks()
        deadline = time.monotonic() + 60
        while any(builders(worker) for worker in workers):  # each builder exits after 4 s without an add
            assert time.monotonic() < deadline
            time.sleep(0.5)
        after = [worker.memory_info().rss for worker in workers]
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    growth = [b / a - 1 for a, b in zip(before, after)]
    assert max(growth) < 0.10, (before, after)  # in the worker, one add took 276 -> 915 MB for good


def test_rag_serve_starts_the_development_server(tmp_path: Path, bundled_index_dir: Path, free_port: int):
    port = free_port
    # Ctrl+C as in a terminal: a test run started in the background inherits SIGINT ignored, so give it back
    server = subprocess.Popen([str(Path(sys.executable).parent / "rag"), "serve", "--index", str(bundled_index_dir),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert b"Ask the article" in wait_until_up(server, f"http://127.0.0.1:{port}/")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            raise
    assert server.returncode == 0 and "Traceback" not in output and "Serving on" in output


def test_rag_serve_refuses_a_missing_index(tmp_path: Path):
    result = subprocess.run([str(Path(sys.executable).parent / "rag"), "serve", "--index", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 4 and result.stderr.startswith("error: There is no index")
