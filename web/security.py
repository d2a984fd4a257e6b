"""Response headers, CORS, the optional API key and the optional per-client rate limit.

All of it is off or permissive by default; ``RAG_*`` settings turn it on. With ``RAG_API_KEY``
every API call needs the key; with ``RAG_PUBLIC_READS`` too, only adding and removing articles do.
"""
from __future__ import annotations

import hmac

from flask import Flask, Response, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .errors import Unauthorized, is_api_path

OPEN_ENDPOINTS = {"api.health", "api.openapi"}
WRITE_ENDPOINTS = {"documents.add", "documents.remove"}

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")


def add_security(app: Flask) -> None:
    """Set CSP (no inline script), nosniff and referrer headers; allow framing of /embed only."""
    origins = [o.strip() for o in str(app.config["CORS_ORIGINS"]).split(",") if o.strip()]
    app.config["CORS_ORIGIN_LIST"] = origins
    if origins:
        CORS(app, resources={r"/api/*": {"origins": origins}, r"/v1/*": {"origins": origins},
                             r"/mcp": {"origins": origins, "expose_headers": ["Mcp-Session-Id"]}})
    if app.config["RATE_LIMIT"]:
        limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                          application_limits=[str(app.config["RATE_LIMIT"])])
        limiter.request_filter(lambda: not is_api_path(request.path) or request.endpoint in OPEN_ENDPOINTS)
    key = str(app.config["API_KEY"] or "")
    public_reads = bool(app.config["PUBLIC_READS"])

    @app.before_request
    def require_key() -> None:
        if not key or not is_api_path(request.path) or request.endpoint in OPEN_ENDPOINTS \
                or request.method == "OPTIONS" or (public_reads and request.endpoint not in WRITE_ENDPOINTS):
            return
        given = request.headers.get("X-API-Key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
            raise Unauthorized("A valid API key is required; send it in the X-API-Key header "
                               "or as Authorization: Bearer KEY.")

    @app.after_request
    def headers(response: Response) -> Response:
        embed = request.path == "/embed"
        ancestors = app.config["FRAME_ANCESTORS"] if embed else "'none'"
        response.headers["Content-Security-Policy"] = _CSP.format(ancestors=ancestors)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not embed:
            response.headers["X-Frame-Options"] = "DENY"
        return response
