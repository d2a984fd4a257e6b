"""Shared fixtures: every path and setting points at a temporary folder; the real model loads once."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export cache for the session (the first use of the model makes the export)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Path:
    """Run each test in its own folder with no RAG_* settings from the outside."""
    for name in list(os.environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAG_CACHE_DIR", str(model_cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def embedder():
    from rag.embedder import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the bundled article, built once for the session."""
    from rag.articles import bundled_article
    from rag.build import update_index
    from rag.settings import Settings

    folder = tmp_path_factory.mktemp("bundled") / "index"
    update_index([bundled_article()], folder, embedder, Settings(index_dir=folder))
    return folder


@pytest.fixture(scope="session")
def assistant(bundled_index_dir: Path, embedder):
    """An Assistant over the bundled article, sharing the session's model."""
    from rag.pipeline import Assistant
    from rag.settings import Settings

    return Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder)


@pytest.fixture(scope="session")
def postgres():
    """A real Postgres 18 + pgvector for the session, on 127.0.0.1, in a folder of its own (see ``own_folder``)."""
    from engines import LocalPostgres, own_folder

    with own_folder("rag-test-postgres-") as folder:
        server = LocalPostgres(folder).init()
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture()
def database(postgres, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database (with the vector extension) for this test."""
    name = "t_" + re.sub(r"\W+", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)


@pytest.fixture(scope="session")
def ray_cluster():
    """A real two-node Ray cluster on 127.0.0.1 for the session (one CPU each)."""
    from engines import LocalRay, own_folder

    with own_folder("rag-test-ray-") as folder:
        cluster = LocalRay(folder)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture(scope="session")
def onnx_export(embedder, model_cache: Path) -> Path:
    """The query encoder's ONNX export in the session cache, so Assistants and replicas answer without torch."""
    from rag.embedder import export_onnx
    from rag.queryencoder import FORMAT, export_folder

    os.environ["RAG_CACHE_DIR"] = str(model_cache)
    folder = export_folder(embedder.model_id)
    if not (folder / "model.onnx").is_file():
        assert export_onnx(embedder, folder, FORMAT)
    return folder
