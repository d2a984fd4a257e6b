"""The index's articles under ``/api/documents``: list, add (text, file or URL), remove, add jobs, suggestions.

An add is read and checked in the request (a bad file, a refused URL: 4xx at once), then indexed
in a job (``jobs.py``) that the page polls; ``?wait=1`` waits for it. Views only read input, call
``rag`` and render.
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from rag.articles import MEGABYTE, SUFFIXES, Article, article_from_bytes
from rag.errors import ArticleError, InputError, MissingArticleError
from rag.fetch import fetch_article
from rag.library import Entry, add_articles, article_from_text, entries, remove_articles

from .api import whole_body
from .errors import UnsupportedMedia

documents = Blueprint("documents", __name__, url_prefix="/api/documents")
WAIT_SECONDS = 50


def _assistant():  # type: ignore[no-untyped-def]
    assistant = current_app.extensions["rag"]
    assistant.reload_if_rebuilt(every=0)  # an add or remove in another worker shows at once
    return assistant


@documents.get("")
def listing() -> Response:
    """List the index's articles: id, title, size, when added."""
    return jsonify({"documents": [_entry(entry) for entry in entries(_assistant().index.manifest)]})


@documents.post("")
def add() -> tuple[Response, int] | Response:
    """Add one article (JSON text or url, or a multipart file) and index it in a job."""
    limit = int(current_app.config["MAX_DOCUMENT_BYTES"])
    request.max_content_length = limit + 64 * 1024  # room for the form's own bytes
    article = _article_from_request(limit)
    assistant = current_app.extensions["rag"]

    def work(progress):  # type: ignore[no-untyped-def]
        change = add_articles([article], assistant.settings.index_dir, assistant.embedder, assistant.settings,
                              keep_both=True, progress=progress)
        assistant.reload_if_rebuilt(every=0)
        entry = (change.added + change.unchanged)[0]
        return {**_entry(entry), "already_indexed": not change.added}

    job = current_app.extensions["rag-jobs"].start(article.title, article.digest, work)
    if request.args.get("wait") in ("1", "true"):
        job = _wait(job["id"])
        if job["state"] == "done":
            return jsonify(job["document"]), 201
        if job["state"] == "failed":
            raise ArticleError(job["error"])
    response = jsonify({"job": job, "status_url": f"/api/documents/jobs/{job['id']}"})
    response.headers["Location"] = f"/api/documents/jobs/{job['id']}"
    return response, 202


@documents.get("/jobs/<job_id>")
def job(job_id: str) -> Response:
    """Report how far an add has got: queued, running (stage, done, total), done (document) or failed (error)."""
    state = current_app.extensions["rag-jobs"].read(job_id, _landed)
    if state is None:
        raise MissingArticleError(f"There is no add job with id {job_id[:40]!r}.")
    return jsonify(state)


@documents.delete("/<doc_id>")
def remove(doc_id: str) -> Response:
    """Remove one article from the index; the others stay."""
    assistant = _assistant()
    info = next((info for info in assistant.index.manifest.sources if info.doc_id == doc_id), None)
    if info is None:
        raise MissingArticleError(f"There is no document with id {doc_id[:40]!r}.")
    change = remove_articles([info.source], assistant.settings.index_dir, assistant.embedder, assistant.settings)
    assistant.reload_if_rebuilt(every=0)
    return jsonify({"removed": _entry(change.removed[0]), "documents": len(change.index.manifest.sources)})


@documents.get("/<doc_id>/questions")
def questions(doc_id: str) -> Response:
    """Suggest first questions drawn from this article's text, each one it answers."""
    from rag.suggest import suggest_questions

    assistant = _assistant()
    cache: dict[tuple[str, str], list[str]] = current_app.extensions["rag-suggestions"]
    key = (assistant.index.version, doc_id)
    if key not in cache:
        if not any(info.doc_id == doc_id for info in assistant.index.manifest.sources):
            raise MissingArticleError(f"There is no document with id {doc_id[:40]!r}.")
        cache[key] = suggest_questions(assistant, doc_id)
    return jsonify({"questions": cache[key]})


def _article_from_request(limit: int) -> Article:
    """Read the article from a multipart file, or from JSON text or url; raise a one-sentence error."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InputError("The form has no file; send it in the field 'file'.")
        name = _file_name(upload.filename)
        if not name.lower().endswith(SUFFIXES):
            raise ArticleError(f"{name} is not a {'/'.join(SUFFIXES)} file.")
        data = upload.read(limit + 1)
        if len(data) > limit:
            raise ArticleError(f"{name} is over the {limit / MEGABYTE:.1f} MB limit for one article.")
        return article_from_bytes(data, name, f"upload:{name}", name, max_megabytes=1024)
    if not request.is_json:
        raise UnsupportedMedia("Send JSON with 'text' or 'url', or a multipart form with a file in 'file'.")
    whole_body()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("The request body must be a JSON object with 'text' or 'url'.")
    if ("text" in body) == ("url" in body):
        raise InputError("Give exactly one of 'text' (the article) or 'url' (a web page to fetch).")
    if "url" in body:
        if not isinstance(body["url"], str):
            raise InputError("The field 'url' must be a string.")
        return fetch_article(body["url"], limit, allow_loopback=bool(current_app.config["FETCH_ALLOW_LOOPBACK"]))
    if not isinstance(body["text"], str):
        raise InputError("The field 'text' must be a string.")
    if len(body["text"].encode("utf-8", "surrogatepass")) > limit:
        raise ArticleError(f"The text is over the {limit / MEGABYTE:.1f} MB limit for one article.")
    return article_from_text(body["text"], body.get("title"))


def _file_name(raw: str) -> str:
    """Return the last part of an uploaded file's name, without control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "article.txt"
    return name[-120:]


def _wait(job_id: str) -> dict[str, Any]:
    jobs = current_app.extensions["rag-jobs"]
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        state = jobs.read(job_id, _landed)
        if state is None:
            raise MissingArticleError(f"The add job {job_id} has vanished; list the articles to see if it landed.")
        if state["state"] in ("done", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def _landed(digest: str) -> dict[str, Any] | None:
    """Return the listing of the indexed article whose text has sha256 ``digest``, or None if none has."""
    manifest = _assistant().index.manifest
    found = next((entry for entry, info in zip(entries(manifest), manifest.sources) if info.sha256 == digest), None)
    return None if found is None else {**_entry(found), "already_indexed": False}


def _entry(entry: Entry) -> dict[str, Any]:
    data = asdict(entry)
    return {"id": data.pop("doc_id"), **data}
