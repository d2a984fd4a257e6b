"""One place that turns every failure under ``/api/`` into ``{"error": "one sentence"}`` with its status."""
from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from rag.errors import RagError

_MESSAGES = {
    400: "The request is malformed.",
    404: "There is no such API route; see /api/openapi.json.",
    405: "This method is not allowed here; see /api/openapi.json.",
    413: "The request body is too large.",
    415: "Send the request body as JSON with Content-Type: application/json.",
    429: "Too many requests from this client; wait a minute and try again.",
}


_PAGES = {404: "There is no page here.", 405: "This page can't be used that way.",
          500: "Something went wrong on the server."}


class UnsupportedType(Exception):
    """The request body is not declared as JSON."""


class UnsupportedMedia(RagError):
    """The request body is neither JSON nor a form this endpoint reads."""

    http_status = 415


class NotFound(RagError):
    """No article has the requested id."""

    http_status = 404


class Unauthorized(RagError):
    """The API key is missing or wrong."""

    http_status = 401


def register_errors(app: Flask) -> None:
    """Install the JSON error handlers for API paths, and a styled page for every other path."""

    @app.errorhandler(RagError)
    def rag_error(error: RagError) -> Response:
        return _json(str(error), error.http_status)

    @app.errorhandler(UnsupportedType)
    def unsupported(_: Exception) -> Response:
        return _json(_MESSAGES[415], 415)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        if not request.path.startswith("/api/"):
            return render_template("error.html", status=status, title=_PAGES.get(status, error.name)), status
        return _json(_MESSAGES.get(status, f"{error.name}."), status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("Unexpected error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return _json("Something went wrong on the server; the error was logged.", 500)
        return render_template("error.html", status=500, title=_PAGES[500]), 500


def _json(message: str, status: int) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response
