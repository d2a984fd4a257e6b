"""The MCP server over stdio, driven by the official ``mcp`` SDK's client: ``rag mcp`` spawned as a desktop client would.

The Streamable HTTP side (the same server at /mcp under the Procfile's gunicorn) is in tests/web/test_mcp_http.py;
both run the same tour (``mcp_tour`` in conftest.py).
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

RAG = str(Path(sys.executable).parent / "rag")


def server(index_dir: Path) -> StdioServerParameters:
    return StdioServerParameters(command=RAG, args=["mcp", "--index", str(index_dir)], env=dict(os.environ))


def test_stdio_session_with_the_sdk_client(bundled_index_dir: Path, mcp_tour, tmp_path: Path):
    async def session() -> None:
        with (tmp_path / "stderr.txt").open("w") as errors:
            async with stdio_client(server(bundled_index_dir), errlog=errors) as (read, write), \
                    ClientSession(read, write) as mcp:
                started = await mcp.initialize()
                assert started.server_info.name == "rag-news" and "found=false" in started.instructions
                await mcp_tour(mcp)
                huge = await mcp.call_tool("ask", {"question": "x" * 100_000})  # no body limit on stdio
                assert huge.is_error and huge.content[0].text == (
                    "The question is 100000 characters long; keep it under 2000.")
                assert not (await mcp.call_tool("list_articles", {})).is_error  # still serving

    asyncio.run(session())
    log = (tmp_path / "stderr.txt").read_text()
    assert log.startswith("rag-news MCP server on standard input and output") and "Traceback" not in log


def test_stdio_with_the_sdk_client_in_its_newest_protocol(bundled_index_dir: Path):
    async def session() -> dict:
        async with Client(server(bundled_index_dir)) as mcp:  # "auto": discover, else the initialize handshake
            result = await mcp.call_tool("ask", {"question": "who chaired the Paris meeting?"})
            return result.structured_content

    answer = asyncio.run(session())
    assert "Le Drian" in answer["answer"] and answer["found"] and isinstance(answer["sure"], bool)


def test_stdio_server_survives_garbage_and_ends_cleanly_when_stdin_closes(bundled_index_dir: Path):
    lines = [b"this is not JSON\n", b"\xff\xfe\n", b"[1, 2]\n",
             json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                 "protocolVersion": "2025-06-18", "capabilities": {},
                 "clientInfo": {"name": "by-hand", "version": "0"}}}).encode() + b"\n",
             b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n',
             json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                 "name": "ask", "arguments": {"question": "who chaired the Paris meeting?"}}}).encode() + b"\n"]
    with subprocess.Popen([RAG, "mcp", "--index", str(bundled_index_dir)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdin and process.stdout and process.stderr
        process.stdin.write(b"".join(lines))
        process.stdin.flush()
        replies: dict = {}
        while 2 not in replies:  # every reply up to the answer; the garbage lines may get error replies (id null)
            reply = json.loads(process.stdout.readline())
            replies[reply.get("id")] = reply
        process.stdin.close()  # the client goes away: the server ends, cleanly
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0 and b"Traceback" not in stderr, stderr
    assert replies[1]["result"]["serverInfo"]["name"] == "rag-news"
    assert "Le Drian" in replies[2]["result"]["structuredContent"]["answer"]


def test_rag_mcp_refuses_a_missing_index(tmp_path: Path):
    done = subprocess.run([RAG, "mcp", "--index", str(tmp_path / "none")], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 4 and done.stderr.startswith("error: There is no index") and done.stdout == ""
