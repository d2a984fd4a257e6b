"""Response headers for every page and API response, and CORS for configured origins."""
from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")


def add_security(app: Flask) -> None:
    """Set CSP (no inline script), nosniff and referrer headers; allow framing of /embed only."""
    origins = [o.strip() for o in str(app.config["CORS_ORIGINS"]).split(",") if o.strip()]
    if origins:
        CORS(app, resources={r"/api/*": {"origins": origins}})

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
