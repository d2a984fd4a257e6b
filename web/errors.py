"""One place that turns every failure under the API doors into one sentence with its status.

Each door speaks its clients' error shape: ``/api/`` sends ``{"error": "one sentence"}``, the
OpenAI-compatible ``/v1/`` sends ``{"error": {"message", "type", "param", "code"}}`` (what the
``openai`` SDK reads), and ``/mcp`` sends a JSON-RPC error (what an MCP client reads).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from rag.errors import RagError

_MESSAGES = {
    400: "The request is malformed.",
    404: "There is no such API route; see /api/openapi.json.",
    405: "This method is not allowed here; the Allow header names the ones that are.",
    413: "The request body is too large.",
    415: "Send the request body as JSON with Content-Type: application/json.",
    429: "Too many requests from this client; wait a minute and try again.",
}
_OPENAI_CODES = {401: "invalid_api_key", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 413: "request_too_large", 415: "unsupported_media_type", 429: "rate_limit_exceeded"}
_JSONRPC_INVALID_REQUEST, _JSONRPC_INTERNAL_ERROR = -32600, -32603


def is_api_path(path: str) -> bool:
    """Tell whether ``path`` is under one of the machine doors (``/api/``, ``/v1/``, ``/mcp``)."""
    return path.startswith(("/api/", "/v1/")) or is_mcp_path(path)


def is_mcp_path(path: str) -> bool:
    """Tell whether ``path`` is the MCP door's."""
    return path == "/mcp" or path.startswith("/mcp/")


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


class Forbidden(RagError):
    """The request comes from a web page whose origin is not allowed."""

    http_status = 403


class InvalidRequest(RagError):
    """A bad request to the OpenAI-compatible door: which field (``param``) and a machine-readable ``code``."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.code = code
        self.http_status = status


def register_errors(app: Flask) -> None:
    """Install the error handlers for the API doors, and a styled page for every other path."""

    @app.errorhandler(RagError)
    def rag_error(error: RagError) -> Response:
        return error_response(str(error), error.http_status, getattr(error, "param", None), getattr(error, "code", None))

    @app.errorhandler(UnsupportedType)
    def unsupported(_: Exception) -> Response:
        return error_response(_MESSAGES[415], 415)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        if not is_api_path(request.path):
            return render_template("error.html", status=status, title=_PAGES.get(status, error.name)), status
        response = error_response(_MESSAGES.get(status, f"{error.name}."), status)
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(RecursionError)
    def too_deep(_: RecursionError) -> Response:  # a JSON body of ~1,000 nested brackets (2 KB) gets here
        return error_response("The request body is nested too deeply; send a flat JSON object.", 400)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("Unexpected error on %s %s", request.method, request.path)
        if is_api_path(request.path):
            return error_response("Something went wrong on the server; the error was logged.", 500)
        return render_template("error.html", status=500, title=_PAGES[500]), 500


def error_response(message: str, status: int, param: str | None = None, code: str | None = None) -> Response:
    """Return the error in the shape of the door the request came through."""
    body: dict[str, Any]
    if request.path.startswith("/v1/"):
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": message, "type": kind, "param": param,
                          "code": code or _OPENAI_CODES.get(status)}}
    elif is_mcp_path(request.path):
        body = {"jsonrpc": "2.0", "id": None, "error": {
            "code": _JSONRPC_INTERNAL_ERROR if status >= 500 else _JSONRPC_INVALID_REQUEST, "message": message}}
    else:
        body = {"error": message}
    response = jsonify(body)
    response.status_code = status
    return response
