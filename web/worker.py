"""The Procfile's gunicorn worker: gthread, with gunicorn's own error answers in the API's JSON shape.

gunicorn answers some requests before the app sees them (a request line over 4,094 bytes: 414; headers too large:
431; bytes that are not HTTP: 400), with a small HTML page. A client of the JSON API gets
``{"error": "one sentence"}`` there too, like every other error, with the same status.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

SENTENCES = {
    414: "The request line is too long; send the question in a POST body instead of the address.",
    431: "The request headers are too large; send fewer or smaller headers.",
    501: "The request uses a transfer coding this server does not support; send a plain or chunked body.",
    500: "Something went wrong on the server; try again.",
}


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:  # type: ignore[no-untyped-def]
    """Write gunicorn's error answer as ``{"error": "..."}`` (gunicorn's ``util.write_error``, in JSON)."""
    sentence = SENTENCES.get(status_int, "The request is not valid HTTP; check the client that sent it.")
    body = json.dumps({"error": sentence})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, (head + body).encode("latin-1"))


class JsonErrorWorker(ThreadWorker):
    """gunicorn's gthread worker whose own error answers are JSON."""

    def init_process(self) -> None:
        util.write_error = write_json_error  # in this worker process only, before it serves anything
        super().init_process()
