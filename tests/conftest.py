"""Shared fixtures: every path and setting points at a temporary folder; the real model loads once."""
from __future__ import annotations

import os
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
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the default index lives in the user's data folder
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
