"""The chat page and the compact chat for iframes; all behaviour lives in static/chat.js."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .security import may_read

pages = Blueprint("pages", __name__)


@pages.get("/")
def chat() -> str:
    """Render the full chat page."""
    return render_template("chat.html", compact=False, sources=_sources(), writes=_writes())


@pages.get("/embed")
def embed() -> str:
    """Render the compact chat meant for an <iframe>."""
    return render_template("chat.html", compact=True, sources=_sources(), writes="none")


def _sources() -> list[str]:
    """The titles the page names; none to a visitor who may not read the index (a key and no public reads)."""
    if not may_read(current_app):
        return []
    return [info.title for info in current_app.extensions["rag"].index.manifest.sources]


def _writes() -> str:
    """Whether the page can add articles as it is ("open") or needs the API key typed in ("key")."""
    return "key" if current_app.config["API_KEY"] else "open"
