"""Settings: one frozen dataclass built from ``RAG_*`` environment variables.

CLI flags override it with ``dataclasses.replace``. This module reads the
environment and nothing else.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .articles import MAX_MEGABYTES
from .errors import InputError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_index_dir() -> Path:
    """Return the index used when none is named: ``index`` in the user's data folder (platformdirs).

    Example on Linux: ~/.local/share/rag-news/index (or under $XDG_DATA_HOME).
    """
    import platformdirs

    return Path(platformdirs.user_data_dir("rag-news", appauthor=False)) / "index"


@dataclass(frozen=True)
class Settings:
    """Everything the library can be told; defaults are the measured best."""

    index_dir: Path = field(default_factory=default_index_dir)
    model: str = DEFAULT_MODEL
    k: int = 3
    chunk_tokens: int = 128
    chunk_overlap: int = 32
    max_question_chars: int = 2000
    threads: int = 0
    hnsw_from: int = 50_000
    max_article_mb: int = MAX_MEGABYTES
    database_url: str = ""  # a Postgres URL: the index lives in that database instead of index_dir
    # An OpenAI-compatible server that writes the answers (rag/writer.py); empty: extractive answers only.
    llm_url: str = ""
    llm_model: str = ""  # empty: the first model the server lists
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 60.0  # seconds for the whole answer; slower means the extractive answer

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``RAG_INDEX_DIR``, ``RAG_EMBED_MODEL``, ``RAG_DATABASE_URL``, ``RAG_LLM_*`` and the whole-number
        ``RAG_*`` settings."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("RAG_INDEX_DIR"):
            values["index_dir"] = Path(env["RAG_INDEX_DIR"])
        if env.get("RAG_EMBED_MODEL"):
            values["model"] = env["RAG_EMBED_MODEL"]
        if env.get("RAG_DATABASE_URL"):
            values["database_url"] = env["RAG_DATABASE_URL"]
        for key, name in (("llm_url", "RAG_LLM_URL"), ("llm_model", "RAG_LLM_MODEL"),
                          ("llm_api_key", "RAG_LLM_API_KEY")):
            if env.get(name):
                values[key] = env[name].strip()
        if env.get("RAG_LLM_TIMEOUT"):
            values["llm_timeout"] = _parse_seconds("RAG_LLM_TIMEOUT", env["RAG_LLM_TIMEOUT"])
        for key, name in (("k", "RAG_K"), ("chunk_tokens", "RAG_CHUNK_TOKENS"),
                            ("chunk_overlap", "RAG_CHUNK_OVERLAP"), ("threads", "RAG_THREADS"),
                            ("hnsw_from", "RAG_HNSW_FROM"), ("max_article_mb", "RAG_MAX_ARTICLE_MB")):
            if env.get(name):
                values[key] = _parse_int(name, env[name])
        return cls(**values).checked()

    def checked(self) -> Settings:
        """Return self if every value is usable, else raise InputError."""
        if not 1 <= self.k <= 50:
            raise InputError(f"k must be between 1 and 50, not {self.k}.")
        if not 16 <= self.chunk_tokens <= 1024:
            raise InputError(f"The chunk size must be between 16 and 1024 tokens, not {self.chunk_tokens}.")
        if self.hnsw_from < 1:
            raise InputError(f"RAG_HNSW_FROM must be at least 1, not {self.hnsw_from}.")
        if not 1 <= self.max_article_mb <= 1024:
            raise InputError(f"RAG_MAX_ARTICLE_MB must be between 1 and 1024, not {self.max_article_mb}.")
        if not 0 <= self.threads <= 256:
            raise InputError(f"The thread count must be between 0 (automatic) and 256, not {self.threads}.")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise InputError("The database URL must start with postgresql://, e.g. postgresql://user@host/dbname.")
        if self.llm_url and not self.llm_url.startswith(("http://", "https://")):
            raise InputError("The LLM URL must start with http:// or https://, e.g. http://127.0.0.1:11434/v1.")
        if not 0.1 <= self.llm_timeout <= 3600:
            raise InputError(f"The LLM timeout must be between 0.1 and 3600 seconds, not {self.llm_timeout}.")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2 + 1:
            raise InputError("The chunk overlap must be at least 0 and at most half the chunk size.")
        return self

    def replace(self, **changes: object) -> Settings:
        """Return a copy with ``changes`` applied (None values are ignored), checked."""
        given = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given).checked()


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {raw!r}.") from None


def _parse_seconds(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"{name} must be a number of seconds, not {raw!r}.") from None
