"""The MCP server over Streamable HTTP at ``/mcp``, inside the Flask app: one WSGI process, no second server.

The SDK's HTTP transport is ASGI. In its stateless, JSON-response mode each POST is answered by one
JSON body, so the a2wsgi bridge can run it under gunicorn's WSGI workers: each process gets one
event-loop thread, started on its first MCP request (after gunicorn has forked the workers), that
holds the SDK's session manager open; each request is handed to that loop. Flask's own rules run
first (Host and Origin guard, API key, rate limit, body size, headers: ``security.py``; a request
from a web page is refused here unless its origin is listed in ``RAG_CORS_ORIGINS``, the DNS-rebinding
guard the MCP spec asks for); the body must be one JSON object. Being stateless, the server offers no server-sent stream: GET is 405,
as the spec allows, so no request can hold a worker open.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import os
import threading
from typing import Any

from a2wsgi import ASGIMiddleware
from flask import Blueprint, current_app, request
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from rag.errors import InputError

from .api import whole_body
from .errors import UnsupportedType

mcp_door = Blueprint("mcp", __name__)


class McpOverWsgi:
    """Run an MCP server's stateless Streamable HTTP app on one event-loop thread per process."""

    def __init__(self, server: MCPServer, max_bytes: int) -> None:
        self.server = server
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._wsgi: ASGIMiddleware | None = None

    def wsgi(self) -> ASGIMiddleware:
        """Return this process's bridge, starting its loop thread on first use (threads do not survive a fork)."""
        with self._lock:
            if self._wsgi is None or self._pid != os.getpid():
                self._wsgi, self._pid = self._start(), os.getpid()
            return self._wsgi

    def _start(self) -> ASGIMiddleware:
        self.server.streamable_http_app(  # makes a fresh session manager; its Starlette app is not used
            stateless_http=True, json_response=True, max_request_body_size=self.max_bytes,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        manager = self.server.session_manager
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="mcp-http", daemon=True).start()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def hold_open() -> None:
            try:
                async with manager.run():
                    ready.set_result(None)
                    await asyncio.Event().wait()  # for the life of the process
            except BaseException as error:
                if not ready.done():
                    ready.set_exception(error)
                raise

        asyncio.run_coroutine_threadsafe(hold_open(), loop)
        ready.result(timeout=30)
        return ASGIMiddleware(manager.handle_request, loop=loop)  # type: ignore[arg-type]


@mcp_door.post("/mcp")
def mcp_endpoint() -> Any:
    """Hand one JSON-RPC message to the MCP server; stateless, so GET (a server-sent stream) is 405."""
    if not request.is_json:
        raise UnsupportedType()
    body = whole_body()  # at most MAX_CONTENT_LENGTH bytes, else 413; chunked bodies too
    try:
        message = json.loads(body)
    except ValueError:
        raise InputError("The request body is not valid JSON.") from None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
        raise InputError('The request body must be one JSON-RPC 2.0 message: an object with "jsonrpc": "2.0" '
                         'and a "method".')
    if "id" in message and (not isinstance(message["id"], (str, int)) or isinstance(message["id"], bool)):
        raise InputError('The JSON-RPC "id" must be a string or a whole number; leave it out for a notification.')
    request.environ["wsgi.input"], request.environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    request.environ.setdefault("HTTP_ACCEPT", "application/json, text/event-stream")  # none sent: take the JSON answer
    return current_app.extensions["rag_mcp"].wsgi()  # Flask runs a returned WSGI app and streams its response
