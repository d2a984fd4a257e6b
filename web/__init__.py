"""Web front door: the chat page, the embeddable chat, the JSON API, the OpenAI-compatible API and MCP.

``create_app`` loads the model and index once per process and keeps them in
``app.extensions["rag"]``; views only read input, call the library and render.
"""
from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask

from .api import api
from .documents import documents
from .errors import register_errors
from .jobs import Jobs
from .mcp_http import McpOverWsgi, mcp_door
from .openai_chat import openai_door
from .pages import pages
from .security import add_security


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app; settings come from ``RAG_*`` variables, or ``test_config`` in tests."""
    app = Flask(__name__)
    app.config.from_mapping(
        INDEX_DIR=None,
        EMBED_MODEL=None,
        K=3,
        CORS_ORIGINS="",
        ALLOWED_HOSTS="",
        MAX_CONTENT_LENGTH=64 * 1024,
        FRAME_ANCESTORS="*",
        API_KEY="",
        RATE_LIMIT="",
        THREADS=1,
        MODEL_NAME="rag-news",
        JSON_SORT_KEYS=False,
        PUBLIC_READS=False,
        MAX_DOCUMENT_BYTES=1024 * 1024,
        MAX_JOBS=4,
        FETCH_ALLOW_LOOPBACK=False,
    )
    if test_config is None:
        app.config.from_prefixed_env("RAG")
        app.config["FETCH_ALLOW_LOOPBACK"] = False  # tests only: a server never fetches from its own machine
    else:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    assistant = _load_assistant(app)
    app.extensions["rag"] = assistant
    app.extensions["rag_mcp"] = _mcp_server(app)
    app.extensions["rag-jobs"] = Jobs(assistant.settings.index_dir / ".jobs", int(app.config["MAX_JOBS"]),
                                      app.logger.error)
    app.extensions["rag-suggestions"] = {}
    app.register_blueprint(api)
    app.register_blueprint(documents)
    app.register_blueprint(openai_door)
    app.register_blueprint(mcp_door)
    app.register_blueprint(pages)
    register_errors(app)
    add_security(app)
    # The model and index live as long as the process: a gunicorn worker forked from here (--preload) then neither
    # copies their pages nor scans them when it collects garbage, so it exits in about a second instead of 10-40 s.
    gc.freeze()
    return app


def _load_assistant(app: Flask):  # type: ignore[no-untyped-def]
    """Load the model and index once for this process (and, with gunicorn --preload, for its workers)."""
    from rag.pipeline import Assistant
    from rag.settings import Settings

    settings = Settings.from_env().replace(
        index_dir=Path(app.config["INDEX_DIR"]) if app.config["INDEX_DIR"] else None,
        model=app.config["EMBED_MODEL"], k=int(app.config["K"]), threads=int(app.config["THREADS"]),
        llm_url=app.config.get("LLM_URL") or None, llm_model=app.config.get("LLM_MODEL") or None)
    return Assistant(settings, say=app.logger.warning)


def _mcp_server(app: Flask) -> McpOverWsgi:
    """The MCP tools over this process's Assistant, served at /mcp."""
    from rag.mcpserver import make_server

    return McpOverWsgi(make_server(app.extensions["rag"]), int(app.config["MAX_CONTENT_LENGTH"]))
