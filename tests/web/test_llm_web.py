"""With an LLM configured (a scripted OpenAI-compatible server on loopback): /api/ask plain and streamed, /v1, MCP
over HTTP and the page in Chromium show the model's answer, its checked citations and its unsupported sentences."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import jsonschema
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI
from playwright.sync_api import expect, sync_playwright

from llm_stub import MODEL, Reply, ScriptedLLM, cited, passages
from rag.articles import bundled_article

QUESTION = "who chaired the Paris meeting?"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def first_words(text: str, count: int = 8) -> str:
    return " ".join(text.split()[:count])


def mixed(body) -> Reply:
    """One sentence with a real quote, one with a made-up quote, one with none; streamed in small pieces."""
    found = passages(body)
    return Reply(cited("Carter and Le Drian co-chaired it [1]. They met on the Moon [2]. It went well.",
                       [(1, 1, first_words(found[1])), (2, 1, "they met on the Moon")]), piece=5, pause=0.01)


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(mixed) as stub:
        yield stub


@pytest.fixture(scope="module")
def llm_app(app_with_llm, llm: ScriptedLLM):
    with app_with_llm(llm.url, MODEL) as app:
        yield app


@pytest.fixture(scope="module")
def llm_server(serve_app, llm_app) -> Iterator[str]:
    with serve_app(llm_app) as url:
        yield url


@pytest.fixture(autouse=True)
def scripted(llm: ScriptedLLM) -> None:
    llm.script = mixed
    llm.requests.clear()


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def check(answer: dict) -> None:
    """The model's answer as the page, the API and MCP show it: one checked citation, two unsupported sentences."""
    article = bundled_article()
    assert answer["generated"] is True and answer["model"] == MODEL and answer["notice"] is None
    assert answer["answer"] == "Carter and Le Drian co-chaired it [1]. They met on the Moon. It went well."
    assert len(answer["citations"]) == 1 and answer["quotes_dropped"] == 1
    for citation in answer["citations"]:
        assert article.text[citation["start"]:citation["end"]] == citation["text"]
    spans = [(s["start"], s["end"]) if isinstance(s, dict) else tuple(s) for s in answer["unsupported"]]
    assert [answer["answer"][s:e] for s, e in spans] == ["They met on the Moon.", "It went well."]


def test_api_ask_returns_the_checked_answer_as_the_openapi_document_says(llm_app) -> None:
    client = llm_app.test_client()
    answer = client.post("/api/ask", json={"question": QUESTION}).get_json()
    check(answer)
    spec = client.get("/api/openapi.json").get_json()
    jsonschema.validate(answer, {"$ref": "#/components/schemas/Answer", "components": spec["components"]})
    assert {"generated", "model", "notice", "unsupported"} <= set(spec["components"]["schemas"]["Answer"]["properties"])


def test_the_stream_sends_the_draft_as_it_comes_then_the_checked_citations(llm_app) -> None:
    response = llm_app.test_client().post("/api/ask", json={"question": QUESTION, "stream": True})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    stream = events(response.get_data(as_text=True))
    names = [name for name, _ in stream]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"delta"} and len(names) > 10
    draft = "".join(data["text"] for name, data in stream if name == "delta")
    assert draft == "Carter and Le Drian co-chaired it [1]. They met on the Moon [2]. It went well."  # as written
    check(stream[-1][1])
    assert stream[-2][1]["citations"] == stream[-1][1]["citations"]


def test_the_stream_falls_back_to_the_extractive_answer_in_pieces(llm_app, llm) -> None:
    llm.script = lambda body: Reply(status=503, error="loading model")
    stream = events(llm_app.test_client().post("/api/ask", json={"question": QUESTION, "stream": True})
                    .get_data(as_text=True))
    done = stream[-1][1]
    assert not done["generated"] and done["notice"] == ("The language model answered with an error (HTTP 503), "
                                                        "so this answer is extractive.")
    assert "".join(d["text"] for n, d in stream if n == "delta") == done["answer"] and done["citations"]


def test_a_bad_question_is_still_a_400_when_streaming(llm_app, llm) -> None:
    response = llm_app.test_client().post("/api/ask", json={"question": "   ", "stream": True})
    assert response.status_code == 400 and "The question is empty" in response.get_json()["error"]
    assert llm.chats == []  # nothing was sent


def test_the_openai_door_carries_the_model_and_the_checks(llm_server: str) -> None:
    client = OpenAI(base_url=f"{llm_server}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(model="rag-news", messages=[{"role": "user", "content": QUESTION}])
    message = completion.choices[0].message.model_dump()
    check({**message, "answer": message["content"]})
    chunks = list(client.chat.completions.create(model="rag-news", stream=True,
                                                 messages=[{"role": "user", "content": QUESTION}]))
    last = chunks[-1].choices[0].delta.model_dump()
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == message["content"]
    assert last["generated"] and last["model"] == MODEL and last["citations"] == message["citations"]
    client.close()


def test_mcp_ask_says_which_model_wrote_it(llm_server: str) -> None:
    async def run() -> dict:
        async with httpx2.AsyncClient() as http, \
                streamable_http_client(f"{llm_server}/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as mcp:
            await mcp.initialize()
            return (await mcp.call_tool("ask", {"question": QUESTION})).structured_content

    answer = asyncio.run(run())
    check({**answer, "quotes_dropped": 1})


def test_the_page_names_the_model_marks_unsupported_sentences_and_highlights_a_citation(llm_server: str,
                                                                                       artifacts: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(llm_server + "/")
        page.fill("#question", QUESTION)
        page.keyboard.press("Enter")
        answer = page.locator(".message.assistant").last
        expect(answer.locator(".written-by")).to_have_text(
            f"Written by {MODEL}; every quote checked against the article", timeout=60_000)
        expect(answer.locator(".unsupported")).to_have_count(2)
        expect(answer.locator(".unsupported").first).to_contain_text("They met on the Moon.")
        expect(answer.locator(".unsupported-flag").first).to_be_visible()
        expect(answer.locator(".marker")).to_have_count(1)
        quoted = answer.locator(".card-quote").first.inner_text()
        answer.locator(".marker").first.click()
        mark = page.locator("#panel mark.cited")
        expect(mark).to_be_in_viewport()
        assert mark.inner_text() == quoted and quoted in bundled_article().text
        page.screenshot(path=str(artifacts / "llm-answer.png"))
        assert errors == []
        browser.close()
