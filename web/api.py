"""JSON API under ``/api/``: ask (plain or streamed), documents, health, OpenAPI."""
from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from rag.answerer import answer_to_dict
from rag.errors import InputError
from rag.followup import Turn
from rag.pipeline import MAX_K, valid_k

from .errors import NotFound, UnsupportedType
from .openapi import openapi_document
from .security import may_read

api = Blueprint("api", __name__, url_prefix="/api")


def current_assistant():  # type: ignore[no-untyped-def]
    """Return this process's Assistant, swapping in a rebuilt index first if there is one."""
    assistant = current_app.extensions["rag"]
    assistant.reload_if_rebuilt()  # a `rag build` of the served index is picked up without a restart
    return assistant


@api.post("/ask")
def ask() -> Response:
    """Answer a question; as Server-Sent Events when asked to stream."""
    body = json_object()
    question = body.get("question")
    if question is None:
        raise InputError("The field 'question' is required.")
    if not isinstance(question, str):
        raise InputError("The field 'question' must be a string.")
    k = body.get("k", current_app.config["K"])
    if not valid_k(k):
        raise InputError(f"The field 'k' must be a whole number from 1 to {MAX_K}.")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InputError("The field 'stream' must be true or false.")
    doc_id = body.get("doc_id")
    if doc_id is not None and not isinstance(doc_id, str):
        raise InputError("The field 'doc_id' must be a string: the id of one article, or left out for all.")
    assistant, history = current_assistant(), _history(body.get("history", []))
    streamed = stream or request.accept_mimetypes.best == "text/event-stream"
    if streamed and assistant.writer is not None:
        events = _written_events(lambda on_text: assistant.ask(question, k, history, article=doc_id, on_text=on_text))
    else:
        answer = answer_to_dict(assistant.ask(question, k, history, article=doc_id))
        if not streamed:
            return jsonify(answer)
        events = _events(answer)
    return Response(stream_with_context(events), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@api.get("/documents/<doc_id>")
def document(doc_id: str) -> Response:
    """Return an article's full text, so a citation's start/end can be highlighted."""
    index = current_assistant().index
    number = index.article_number(doc_id)  # the manifest has every id; only the one article asked for is read
    if number is None:
        raise NotFound(f"There is no document with id {doc_id[:40]!r}.")
    article = index.article(index.manifest.sources[number].source)
    return jsonify({"id": article.doc_id, "source": article.source, "title": article.title, "text": article.text})


@api.get("/health")
def health() -> Response:
    """Report readiness and what the loaded index holds (only readiness to a caller who may not read it)."""
    assistant = current_assistant()
    manifest = assistant.index.manifest
    if not may_read(current_app):
        return jsonify({"status": "ok"})
    return jsonify({"status": "ok", "index": assistant.store.name, "model": manifest.model,
                    "built_at": manifest.built_at, "chunks": manifest.counts.get("chunks", 0),
                    "sources": [{"id": s.doc_id, "source": s.source, "title": s.title, "chunks": s.chunks}
                                for s in manifest.sources]})


@api.get("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(MAX_K, current_app.config["MAX_CONTENT_LENGTH"],
                                    current_app.config["MAX_DOCUMENT_BYTES"], current_app.config["MODEL_NAME"]))


def whole_body() -> bytes:
    """Return the request body; raise 413 when it is over the limit, a chunked one (no Content-Length) too.

    Werkzeug stops reading a chunked body at the limit and hands back what it read, which then parsed
    as "not valid JSON"; a body that filled the limit is taken as over it.
    """
    data = request.get_data()
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()
    return data


def json_object() -> dict[str, Any]:
    """Return the request's JSON object body; raise a one-sentence error for anything else."""
    if not request.is_json:
        raise UnsupportedType()
    whole_body()
    body = request.get_json(silent=True)
    if body is None:
        raise InputError("The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise InputError("The request body must be a JSON object.")
    return body


def _history(raw: Any) -> list[Turn]:
    if not isinstance(raw, list):
        raise InputError("The field 'history' must be a list of {role, content} objects.")
    turns = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("role"), str) \
                or not isinstance(item.get("content"), str):
            raise InputError("Each history item must be an object with string 'role' and 'content'.")
        turns.append(Turn(item["role"], item["content"]))
    return turns


def _events(answer: dict[str, Any]) -> Iterator[str]:
    """Yield the citations first, then the answer in pieces, then the whole object."""
    yield _event("citations", {"citations": answer["citations"]})
    for piece in answer_pieces(answer["answer"]):
        yield _event("delta", {"text": piece})
    yield _event("done", answer)


def _written_events(ask: Any) -> Iterator[str]:
    """Yield the language model's text as it writes, then the checked citations, then the whole answer (whose
    ``answer`` replaces the draft: checked, or the extractive answer when the draft failed its checks).

    The question is asked on a thread that hands over text as it comes; a bad question raises here, before any
    event, so it is answered with a 400 like any other.
    """
    pieces: queue.Queue[str | None] = queue.Queue()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["answer"] = ask(pieces.put)
        except BaseException as error:  # handed to the request's thread
            outcome["error"] = error
        finally:
            pieces.put(None)

    threading.Thread(target=run, name="rag-ask", daemon=True).start()
    first = pieces.get()
    if first is None and "error" in outcome:
        raise outcome["error"]
    return _drafted(first, pieces, outcome)


def _drafted(first: str | None, pieces: queue.Queue[str | None], outcome: dict[str, Any]) -> Iterator[str]:
    piece, sent = first, False
    while piece is not None:
        yield _event("delta", {"text": piece})
        sent, piece = True, pieces.get()
    if "error" in outcome:
        yield _event("error", {"error": "The answer could not be finished; try again."})
        return
    answer = answer_to_dict(outcome["answer"])
    if not sent:  # nothing was drafted (the extractive answer): its text in pieces, as without a model
        for text in answer_pieces(answer["answer"]):
            yield _event("delta", {"text": text})
    yield _event("citations", {"citations": answer["citations"]})
    yield _event("done", answer)


def answer_pieces(text: str, words: int = 4) -> Iterator[str]:
    """Yield ``text`` a few words at a time; the pieces join back to ``text`` exactly."""
    parts = text.split(" ")
    for start in range(0, len(parts), words):
        yield " ".join(parts[start:start + words]) + (" " if start + words < len(parts) else "")


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
