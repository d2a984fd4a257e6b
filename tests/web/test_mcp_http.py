"""The MCP server over Streamable HTTP at /mcp under the Procfile's gunicorn, driven by the official ``mcp`` SDK client.

Both protocol eras the SDK speaks: the initialize handshake (what desktop clients use today) and the
newest per-request protocol. The server runs with RAG_API_KEY set, as /api/ does.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client, ClientSession, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS



def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def session(base: str, headers: dict[str, str]):
    """An initialized ClientSession over Streamable HTTP with these headers on every request."""
    async with httpx2.AsyncClient(headers=headers) as http, \
            streamable_http_client(f"{base}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as mcp:
        yield mcp


def test_handshake_session_over_http_with_the_sdk_client(procfile_server, mcp_tour):
    async def run() -> None:
        async with session(procfile_server.url, bearer(procfile_server.key)) as mcp:
            started = await mcp.initialize()
            assert started.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS and started.server_info.name == "rag-news"
            await mcp_tour(mcp)
            with pytest.raises(MCPError, match="The request body is too large"):  # 100 KB > RAG_MAX_CONTENT_LENGTH
                await mcp.call_tool("ask", {"question": "x" * 100_000})
            assert not (await mcp.call_tool("list_articles", {})).is_error  # still serving

    asyncio.run(run())


def test_newest_protocol_over_http_with_the_sdk_client(procfile_server, mcp_tour):
    async def run() -> str:
        async with httpx2.AsyncClient(headers=bearer(procfile_server.key)) as http, \
                Client(streamable_http_client(f"{procfile_server.url}/mcp", http_client=http)) as mcp:
            await mcp_tour(mcp)
            return mcp.session.protocol_version  # type: ignore[attr-defined]

    assert asyncio.run(run()) in MODERN_PROTOCOL_VERSIONS


@pytest.mark.parametrize("headers, words", [
    (lambda key: {}, "A valid API key is required"),
    (lambda key: bearer("guess"), "A valid API key is required"),
    (lambda key: {"X-API-Key": "guess"}, "A valid API key is required"),
    (lambda key: {**bearer(key), "Origin": "http://evil.example"}, "Writes from a web page on another site are refused"),
    (lambda key: {"X-API-Key": key}, None),
])
def test_the_api_key_rule_and_the_origin_guard(procfile_server, headers, words: str | None):
    async def run() -> None:
        async with session(procfile_server.url, headers(procfile_server.key)) as mcp:
            if words is None:
                assert (await mcp.initialize()).server_info.name == "rag-news"
                return
            with pytest.raises(MCPError, match=words):
                await mcp.initialize()

    asyncio.run(run())


@pytest.mark.parametrize("send, status, words", [
    (lambda c: c.get("/mcp"), 405, "not allowed"),
    (lambda c: c.delete("/mcp"), 405, "not allowed"),
    (lambda c: c.post("/mcp", data="{}", content_type="text/plain"), 415, "Content-Type: application/json"),
    (lambda c: c.post("/mcp", data="{not json", content_type="application/json"), 400, "not valid JSON"),
    (lambda c: c.post("/mcp", json=[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]), 400, "one JSON-RPC 2.0 message"),
    (lambda c: c.post("/mcp", json={"id": 1}), 400, "one JSON-RPC 2.0 message"),
    (lambda c: c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "x" * 70_000}), 413, "too large"),
    (lambda c: c.post("/mcp/extra", json={}), 404, "no such"),
])
def test_malformed_requests_get_a_json_rpc_error(client, send, status: int, words: str):
    response = send(client)
    assert response.status_code == status and response.is_json
    body = response.get_json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None and body["error"]["code"] == -32600
    assert words in body["error"]["message"] and "\n" not in body["error"]["message"]


def test_a_request_without_accept_gets_json_and_one_that_refuses_json_gets_406(client):
    ping = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    assert client.post("/mcp", json=ping).get_json() == {"jsonrpc": "2.0", "id": 7, "result": {}}
    refused = client.post("/mcp", json=ping, headers={"Accept": "text/html"})
    assert refused.status_code == 406 and "application/json" in refused.get_json()["error"]["message"]


def test_a_browser_origin_listed_in_rag_cors_origins_is_let_through(client):
    allowed = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                          headers={"Origin": "https://news.example", "Accept": "application/json, text/event-stream"})
    assert allowed.status_code == 200 and allowed.get_json()["result"] == {}
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://news.example"
