"""Response headers, CORS, the Host and Origin guard, the optional API key and the optional rate limit.

Always on: every request must name a Host this server answers to (an IP address, ``localhost``,
or a name in ``RAG_ALLOWED_HOSTS``), so a DNS-rebinding page can't reach a server on loopback;
and every write (any method but GET, HEAD, OPTIONS) from a web page must come from this server's
own origin or one in ``RAG_CORS_ORIGINS`` (at ``/mcp``: one listed there), so another site can't add or remove articles through
the browser of someone who can reach this server. The rest is off by default: with
``RAG_API_KEY`` every API call needs the key; with ``RAG_PUBLIC_READS`` too, only writes do.
"""
from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .errors import Forbidden, Unauthorized, is_api_path, is_mcp_path

OPEN_ENDPOINTS = {"api.health", "api.openapi"}
WRITE_ENDPOINTS = {"documents.add", "documents.remove"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

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
    hosts = [h.strip().lower() for h in str(app.config["ALLOWED_HOSTS"]).split(",") if h.strip()]

    @app.before_request
    def same_host_and_origin() -> None:
        host = request.host.lower()
        if not host_allowed(host, hosts):
            raise Forbidden(f"This server does not answer to the host name {host[:100]!r}; add it to "
                            "RAG_ALLOWED_HOSTS if it is this server's name.")
        if request.method in SAFE_METHODS:
            return
        origin = request.headers.get("Origin")
        if origin is None:
            cross = request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site")
        else:  # /mcp is for MCP clients, which send no Origin: a page there needs its origin listed (the MCP spec)
            own = urlsplit(origin).netloc.lower() == host and not is_mcp_path(request.path)
            cross = origin not in origins and not own
        if cross:
            raise Forbidden("Writes from a web page on another site are refused; list its origin in "
                            "RAG_CORS_ORIGINS to allow it.")

    @app.before_request
    def require_key() -> None:
        if not key or not is_api_path(request.path) or request.endpoint in OPEN_ENDPOINTS \
                or request.method == "OPTIONS" or (public_reads and request.endpoint not in WRITE_ENDPOINTS):
            return
        if not has_key(key):
            raise Unauthorized("A valid API key is required; send it in the X-API-Key header "
                               "or as Authorization: Bearer KEY.")

    @app.after_request
    def headers(response: Response) -> Response:
        embed = request.path == "/embed"
        ancestors = app.config["FRAME_ANCESTORS"] if embed else "'none'"
        response.headers["Content-Security-Policy"] = _CSP.format(ancestors=ancestors)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if origins and is_api_path(request.path):
            response.vary.add("Origin")  # the CORS answer depends on it: a shared cache must not reuse it across sites
        if not embed:
            response.headers["X-Frame-Options"] = "DENY"
        return response


def has_key(key: str) -> bool:
    """Tell whether the request carries ``key`` (X-API-Key, or Authorization: Bearer KEY; nothing else)."""
    authorization = request.headers.get("Authorization", "")
    given = request.headers.get("X-API-Key") or (authorization[7:] if authorization[:7].lower() == "bearer " else "")
    return bool(given) and hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))


def may_read(app: Flask) -> bool:
    """Tell whether this request may see the index's contents (titles, paths): no key set, public reads, or the key."""
    key = str(app.config["API_KEY"] or "")
    return not key or bool(app.config["PUBLIC_READS"]) or has_key(key)


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Tell whether a Host header names this server: an IP address, ``localhost``, or an allowed name.

    A DNS-rebinding page reaches a loopback server under its own name, never an IP address.
    Example: host_allowed('evil.example:5000', []) -> False; ('news.example', ['.example']) -> True.
    """
    name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    if name == "localhost" or name.endswith(".localhost") or "*" in allowed:
        return True
    return any(name == entry or (entry.startswith(".") and name.endswith(entry)) for entry in allowed)
