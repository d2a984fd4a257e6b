"""Web fixtures: one app per session over the bundled index, and a real server on a free port."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).parents[1] / "artifacts"


@pytest.fixture(scope="session")
def app(bundled_index_dir: Path):
    from web import create_app

    return create_app({"INDEX_DIR": str(bundled_index_dir), "CORS_ORIGINS": "https://news.example",
                       "FRAME_ANCESTORS": "https://news.example"})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def server(app) -> Iterator[str]:
    """The app served over real HTTP by a threaded WSGI server on 127.0.0.1."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
