"""Web fixtures: one app per session over the bundled index, a real server on a free port, the Procfile's gunicorn."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


class Served(NamedTuple):
    """A running server: its base URL and the API key it wants."""

    url: str
    key: str


@pytest.fixture(scope="session")
def app(bundled_index_dir: Path):
    from web import create_app

    return create_app({"INDEX_DIR": str(bundled_index_dir), "CORS_ORIGINS": "https://news.example",
                       "FRAME_ANCESTORS": "https://news.example"})


@pytest.fixture()
def client(app):
    return app.test_client()


@contextlib.contextmanager
def _serving(app) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture(scope="session")
def server(app) -> Iterator[str]:
    """The app served over real HTTP by a threaded WSGI server on 127.0.0.1."""
    with _serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def serve_app() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """Return ``serve(app)``: serve an app over real HTTP on 127.0.0.1 while in the ``with``, yielding its URL."""
    return _serving


@pytest.fixture(scope="session")
def app_with_llm(bundled_index_dir: Path) -> Callable[..., contextlib.AbstractContextManager]:
    """Return ``make(url, model, timeout)``: an app over the bundled index whose answers the LLM at ``url`` writes
    (``RAG_LLM_TIMEOUT`` set only while it loads), closed after the ``with``."""
    from web import create_app

    @contextlib.contextmanager
    def make(url: str, model: str, timeout: float = 60.0) -> Iterator:
        os.environ["RAG_LLM_TIMEOUT"] = str(timeout)
        try:
            app = create_app({"INDEX_DIR": str(bundled_index_dir), "LLM_URL": url, "LLM_MODEL": model})
        finally:
            del os.environ["RAG_LLM_TIMEOUT"]
        yield app
        app.extensions["rag"].writer.close()

    return make


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return _free_port()


@pytest.fixture(scope="session")
def start_procfile() -> Callable[..., tuple[subprocess.Popen, str]]:
    """Return ``start(env, output)``: run the Procfile's command on a free 127.0.0.1 port, wait for /api/health."""
    line = (ROOT / "Procfile").read_text(encoding="utf-8").strip()
    assert line.startswith("web: ") and "--preload" in line

    def start(env: dict[str, str], output: object = subprocess.PIPE) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        server = subprocess.Popen(
            ["bash", "-c", f"exec {line.removeprefix('web: ')}"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            text=True, env={**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "2", **env,
                            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    return server, base
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else "the server exited"
                assert time.monotonic() < deadline, f"{base} did not come up"
                time.sleep(0.5)

    return start


@pytest.fixture(scope="session")
def procfile_server(start_procfile, tmp_path_factory: pytest.TempPathFactory,
                    bundled_index_dir: Path) -> Iterator[Served]:
    """The Procfile's gunicorn over a copy of the bundled index, with RAG_API_KEY set; checked for 5xx when stopped."""
    work = tmp_path_factory.mktemp("procfile")
    shutil.copytree(bundled_index_dir, work / "index")
    log = work / "server.log"
    with log.open("w", encoding="utf-8") as output:
        key = "procfile-test-key"
        server, base = start_procfile({"RAG_INDEX_DIR": str(work / "index"), "RAG_API_KEY": key}, output)
        try:
            yield Served(base, key)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    text = log.read_text(encoding="utf-8")
    assert server.returncode == 0 and "Traceback" not in text, text[-3000:]
    assert not [line for line in text.splitlines() if '" 5' in line and "HTTP/1.1" in line], "a request got a 5xx"
