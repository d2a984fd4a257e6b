"""A scripted OpenAI-compatible server on 127.0.0.1: a stand-in for an OUTSIDE service (an LLM) in the tests.

The test sets ``script``: a function from the request body to a ``Reply`` (content, a status, a delay, HTML, a
refusal). Replies are streamed as Server-Sent Events when the request asks (as our client always does). Every
request is recorded with its headers, so a test can check what was sent and where.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "scripted-model"


@dataclass(frozen=True)
class Reply:
    content: str = ""
    status: int = 200
    error: str = "scripted failure"
    delay: float = 0.0  # seconds before anything is sent
    html: bool = False  # a web page instead of the API's JSON
    refusal: str | None = None
    piece: int = 7  # characters per streamed chunk
    pause: float = 0.0  # seconds between chunks


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


def passages(body: dict[str, Any]) -> dict[int, str]:
    """Return the numbered passages of the prompt (the last user message): {number: text}."""
    text = body["messages"][-1]["content"]
    text = text[text.index("Passages:") + len("Passages:"):text.rindex("\n\nQuestion:")]
    heads = list(re.finditer(r"^\[(\d+)\] [^\n]*\n", text, re.MULTILINE))
    return {int(head.group(1)): text[head.end():(heads[i + 1].start() if i + 1 < len(heads) else len(text))].strip()
            for i, head in enumerate(heads)}


def cited(answer: str, citations: list[tuple[int, int, str]], found: bool = True) -> str:
    """The JSON our schema asks for: the answer and (marker, passage, quote) citations."""
    return json.dumps({"found": found, "answer": answer, "citations": [
        {"marker": m, "passage": p, "quote": q} for m, p, q in citations]})


class ScriptedLLM:
    """The server; use as a context manager. ``url`` is its OpenAI base URL (…/v1)."""

    def __init__(self, script: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.script = script or (lambda body: Reply(cited("", [], found=False)))
        self.requests: list[Request] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, {}))
                if self.path.rstrip("/") == "/v1/models":
                    self._json(200, {"object": "list", "data": [
                        {"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = stub.script(body)
                time.sleep(reply.delay)
                if reply.html:
                    page = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
                    self._send(200, "text/html", page)
                elif reply.status != 200:
                    self._json(reply.status, {"error": {"message": reply.error, "type": "server_error"}})
                elif body.get("stream"):
                    self._stream(reply)
                else:
                    message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
                    self._json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": MODEL,
                                     "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

            def _stream(self, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
                if reply.refusal:
                    deltas.append({"refusal": reply.refusal})
                deltas += [{"content": reply.content[at:at + reply.piece]}
                           for at in range(0, len(reply.content), reply.piece)]
                try:
                    for delta in deltas:
                        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(reply.pause)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    pass
                self.close_connection = True

            def _json(self, status: int, data: dict[str, Any]) -> None:
                self._send(status, "application/json", json.dumps(data).encode())

            def _send(self, status: int, kind: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_port}/v1"

    def __enter__(self) -> ScriptedLLM:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def chats(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]
