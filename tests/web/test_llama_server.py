"""A real LLM server: llama.cpp's llama-server with SmolLM2-135M-Instruct on loopback, through ``ask --llm``,
/api/ask (plain and streamed), MCP and /v1.

The tiny model answers badly, so these tests check the protocol (JSON schema, streaming, the model's name, a
timeout) and that our checks hold whatever it writes: every citation is the article's own characters, every
marker names a citation, and an answer that is not the model's says why. The binary and the model come from the
cache that ``python tests/llama_server.py`` fills (CI runs it first); nothing downloads here.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI

from llama_server import cached, serve
from rag.articles import bundled_article
from rag.llm import OpenAIWriter, Source, WriterError

ROOT = Path(__file__).parents[2]
NAME = "smollm2"
TIMEOUT = 30  # seconds; about 10 at most on an idle 2-core machine (a busier one gets the extractive answer, checked)
QUESTIONS = ["who chaired the Paris meeting?", "Where will the 27 defense ministers meet?"]


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    """llama-server with SmolLM2 on 127.0.0.1 (2 threads, one slot); its OpenAI base URL."""
    found = cached()
    if found is None:
        pytest.skip("llama-server and SmolLM2 are not in the cache: run `python tests/llama_server.py` (CI does; "
                    "it builds llama.cpp from the llama-cpp-python source package, about 5-7 minutes)")
    with serve(*found, name=NAME) as url:
        yield url


def check(answer: dict) -> None:
    """Whatever the model wrote: citations verbatim, markers name citations, and the JSON says whose answer it is."""
    article = bundled_article()
    assert isinstance(answer["generated"], bool) and answer["answer"].strip()
    for citation in answer["citations"]:
        assert article.text[citation["start"]:citation["end"]] == citation["text"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])} <= {c["n"] for c in answer["citations"]}
    if answer["generated"]:
        assert answer["model"] == NAME and answer["notice"] is None
        if answer["found"]:
            assert answer["citations"]  # a model answer shown has at least one checked citation
        for span in answer["unsupported"]:
            start, end = (span["start"], span["end"]) if isinstance(span, dict) else span
            assert 0 <= start < end <= len(answer["answer"])
    else:
        assert answer["model"] is None and answer["notice"].endswith("so this answer is extractive.")


@pytest.fixture(scope="module")
def llama_app(app_with_llm, llama: str):
    with app_with_llm(llama, NAME, TIMEOUT) as app:
        yield app


@pytest.fixture(scope="module")
def llama_site(serve_app, llama_app) -> Iterator[str]:
    with serve_app(llama_app) as url:
        yield url


def test_the_server_takes_our_json_schema_streams_and_names_its_model(llama: str) -> None:
    article = bundled_article()
    writer = OpenAIWriter(llama, timeout=120)
    assert writer.model == NAME  # asked the server: the alias it serves
    pieces: list[str] = []
    text = article.text[:600]
    draft = writer.write(QUESTIONS[0], [], [Source(1, article.title, article.source, text)], pieces.append)
    assert writer._structured  # the JSON schema was accepted, not refused
    assert draft.model == NAME
    if draft.found:
        assert "".join(pieces).strip() == draft.answer  # the answer streamed out of the JSON as it came
    writer.close()
    hurried = OpenAIWriter(llama, NAME, timeout=0.05)
    with pytest.raises(WriterError, match="did not answer within 0.05 s"):
        hurried.write(QUESTIONS[1], [], [Source(1, article.title, article.source, article.text[:3000])])
    hurried.close()


def test_ask_llm_on_the_command_line(bundled_index_dir: Path, llama: str, model_cache: Path) -> None:
    env = {**os.environ, "RAG_CACHE_DIR": str(model_cache), "PYTHONPATH": str(ROOT)}
    env["RAG_LLM_TIMEOUT"] = str(TIMEOUT)
    run = subprocess.run([sys.executable, "-m", "rag", "ask", "--index", str(bundled_index_dir), "--llm", llama,
                          "--llm-model", NAME, "--json", QUESTIONS[0]], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    check(json.loads(run.stdout))


def test_api_ask_plain_and_streamed(llama_app) -> None:
    client = llama_app.test_client()
    check(client.post("/api/ask", json={"question": QUESTIONS[1]}).get_json())
    response = client.post("/api/ask", json={"question": QUESTIONS[0], "stream": True})
    stream = []
    for block in response.get_data(as_text=True).strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        stream.append((lines["event"], json.loads(lines["data"])))
    names = [name for name, _ in stream]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"delta"}
    check(stream[-1][1])
    assert stream[-2][1]["citations"] == stream[-1][1]["citations"]


def test_mcp_and_the_openai_door(llama_site: str) -> None:
    async def run() -> dict:
        async with httpx2.AsyncClient(timeout=300) as http, \
                streamable_http_client(f"{llama_site}/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as mcp:
            await mcp.initialize()
            return (await mcp.call_tool("ask", {"question": QUESTIONS[1]})).structured_content

    check(asyncio.run(run()))
    client = OpenAI(base_url=f"{llama_site}/v1", api_key="unused", max_retries=0, timeout=300)
    message = client.chat.completions.create(model="rag-news", messages=[
        {"role": "user", "content": QUESTIONS[0]}]).choices[0].message.model_dump()
    check({**message, "answer": message["content"], "found": bool(message["citations"])})
    client.close()
