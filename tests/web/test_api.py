"""The JSON API through Flask's test client: every endpoint and every error case."""
from __future__ import annotations

import json

import pytest

QUESTION = "who chaired the Paris meeting?"


def events(body: str) -> list[tuple[str, dict]]:
    parsed = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((lines["event"], json.loads(lines["data"])))
    return parsed


def test_ask_returns_the_same_object_as_the_cli(client, app):
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200 and response.is_json
    data = response.get_json()
    assert list(data) == ["question", "answer", "short_answer", "found", "citations", "timings_ms", "short_start",
                          "short_end", "sure", "answer_kind", "generated", "model", "notice", "unsupported",
                          "quotes_dropped"]
    assert data["answer_kind"] == "fact"
    assert (data["generated"], data["model"], data["notice"], data["unsupported"]) == (False, None, None, [])
    assert data["found"] and "Carter" in data["answer"] and "Le Drian" in data["answer"]
    text = app.extensions["rag"].index.articles[0].text
    for citation in data["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["text"]
    assert len(data["citations"]) <= 3


def test_k_and_history(client):
    assert len(client.post("/api/ask", json={"question": QUESTION, "k": 1}).get_json()["citations"]) == 1
    alone = client.post("/api/ask", json={"question": "When?"}).get_json()
    history = [{"role": "user", "content": "Where will the 27 defense ministers meet?"},
               {"role": "assistant", "content": "Brussels"}]
    followed = client.post("/api/ask", json={"question": "When?", "history": history}).get_json()
    assert not alone["found"]
    assert followed["found"] and "three weeks" in followed["answer"] and followed["question"] == "When?"


@pytest.mark.parametrize("how", ["flag", "accept"])
def test_streaming_sends_citations_first_then_pieces_then_the_whole(client, how: str):
    if how == "flag":
        response = client.post("/api/ask", json={"question": QUESTION, "stream": True})
    else:
        response = client.post("/api/ask", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    stream = events(response.get_data(as_text=True))
    names = [name for name, _ in stream]
    assert names[0] == "citations" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    done = stream[-1][1]
    assert stream[0][1]["citations"] == done["citations"] and done["citations"]
    assert "".join(data["text"] for name, data in stream if name == "delta") == done["answer"]


def test_documents_health_and_openapi(client, app):
    article = app.extensions["rag"].index.articles[0]
    document = client.get(f"/api/documents/{article.doc_id}").get_json()
    assert document == {"id": article.doc_id, "source": article.source, "title": article.title, "text": article.text}
    health = client.get("/api/health").get_json()
    assert health["status"] == "ok" and health["chunks"] > 0 and health["sources"][0]["id"] == article.doc_id
    assert "MiniLM" in health["model"]
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1") and "/api/ask" in spec["paths"]


def post_raw(client, body: bytes | str, content_type: str = "application/json"):
    return client.post("/api/ask", data=body, content_type=content_type)


@pytest.mark.parametrize("send, status, words", [
    (lambda c: post_raw(c, "{not json"), 400, "not valid JSON"),
    (lambda c: post_raw(c, "question=hi", "application/x-www-form-urlencoded"), 415, "Content-Type"),
    (lambda c: post_raw(c, "", "text/plain"), 415, "Content-Type"),
    (lambda c: c.post("/api/ask", json=["who?"]), 400, "JSON object"),
    (lambda c: c.post("/api/ask", json="who?"), 400, "JSON object"),
    (lambda c: c.post("/api/ask", json={}), 400, "'question' is required"),
    (lambda c: c.post("/api/ask", json={"question": ""}), 400, "empty"),
    (lambda c: c.post("/api/ask", json={"question": "   "}), 400, "empty"),
    (lambda c: c.post("/api/ask", json={"question": 42}), 400, "must be a string"),
    (lambda c: c.post("/api/ask", json={"question": ["who?"]}), 400, "must be a string"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "k": 0}), 400, "'k'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "k": 10**9}), 400, "'k'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "k": "3"}), 400, "'k'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "k": True}), 400, "'k'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "stream": "yes"}), 400, "'stream'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "history": "hi"}), 400, "'history'"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "history": [{"role": "x", "content": "a"}]}), 400, "role"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "history": [["user", "a"]]}), 400, "history item"),
    (lambda c: c.post("/api/ask", json={"question": "who?", "history": [{"role": "user", "content": "a"}] * 51}),
     400, "at most 50"),
    (lambda c: c.post("/api/ask", json={"question": "x" * 70_000}), 413, "too large"),
    (lambda c: c.post("/api/ask", json={"question": "x" * 3000}), 400, "characters long"),
    (lambda c: c.get("/api/documents/nope"), 404, "no document"),
    (lambda c: c.get("/api/documents/..%2F..%2Fetc%2Fpasswd"), 404, "no"),
    (lambda c: c.get("/api/documents/../../etc/passwd"), 404, "no"),
    (lambda c: c.get("/api/nothing-here"), 404, "no such API route"),
    (lambda c: c.get("/api/ask"), 405, "not allowed"),
    (lambda c: c.delete("/api/health"), 405, "not allowed"),
])
def test_every_api_error_is_one_json_sentence(client, send, status: int, words: str):
    response = send(client)
    assert response.status_code == status
    assert response.is_json, response.get_data(as_text=True)[:200]
    message = response.get_json()["error"]
    assert words in message and message.endswith(".") and "\n" not in message
    assert client.get("/api/health").status_code == 200  # still serving


def test_security_headers_and_framing(client):
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Frame-Options"] == "DENY"
    embed = client.get("/embed")
    assert "frame-ancestors https://news.example" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers
    assert client.post("/api/ask", json={"question": QUESTION}).headers["X-Content-Type-Options"] == "nosniff"


def test_cors_only_for_configured_origins(client):
    allowed = client.get("/api/health", headers={"Origin": "https://news.example"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://news.example"
    other = client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options("/api/ask", headers={"Origin": "https://news.example",
                                                    "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_pages_are_plain_html_with_no_inline_script(client):
    for path in ("/", "/embed"):
        html = client.get(path).get_data(as_text=True)
        assert '<script src="/static/chat.js" defer></script>' in html
        assert "<script>" not in html and "http://" not in html and "https://" not in html
        assert "Paris coalition meeting" in html
    with client.get("/static/chat.js") as script:
        assert script.status_code == 200 and "textContent" in script.get_data(as_text=True)


def test_api_key_when_configured(bundled_index_dir):
    from web import create_app

    client = create_app({"INDEX_DIR": str(bundled_index_dir), "API_KEY": "s3cret-key"}).test_client()
    missing = client.post("/api/ask", json={"question": QUESTION})
    assert missing.status_code == 401 and "API key" in missing.get_json()["error"]
    wrong = client.post("/api/ask", json={"question": QUESTION}, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    assert client.post("/api/ask", json={"question": QUESTION}, headers={"X-API-Key": "s3cret-key"}).status_code == 200
    bearer = client.post("/api/ask", json={"question": QUESTION}, headers={"Authorization": "Bearer s3cret-key"})
    assert bearer.status_code == 200
    assert client.get("/api/health").status_code == 200 and client.get("/api/openapi.json").status_code == 200
    assert client.get("/v1/models").status_code == 401 and client.post("/mcp", json={}).status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200


def test_rate_limit_when_configured(bundled_index_dir):
    from web import create_app

    client = create_app({"INDEX_DIR": str(bundled_index_dir), "RATE_LIMIT": "3/minute"}).test_client()
    statuses = [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.post("/api/ask", json={"question": QUESTION})
    assert limited.is_json and "Too many requests" in limited.get_json()["error"]
    assert client.get("/api/health").status_code == 200 and client.get("/").status_code == 200
    openai_door = client.get("/v1/models")  # the other doors count against the same limit, in their own shapes
    assert openai_door.status_code == 429 and openai_door.get_json()["error"]["code"] == "rate_limit_exceeded"
    mcp = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert mcp.status_code == 429 and "Too many requests" in mcp.get_json()["error"]["message"]


NESTED = "[" * 980 + "]" * 980  # about 2 KB


@pytest.mark.parametrize("path, body", [
    ("/api/ask", '{"question": ' + NESTED + "}"),
    ("/api/documents", '{"text": ' + NESTED + "}"),
    ("/v1/chat/completions", '{"model": "rag-news", "messages": ' + NESTED + "}"),
    ("/mcp", '{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": ' + NESTED + "}"),
])
def test_deeply_nested_json_is_a_400_in_each_doors_shape(client, path: str, body: str):
    response = client.post(path, data=body, headers={"Content-Type": "application/json",
                                                     "Accept": "application/json, text/event-stream"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "nested too deeply" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, body, words", [
    ("/api/ask", {"question": QUESTION, "history": [{"role": "user", "content": "Who met \udc00 in Paris?"}]},
     "history is not valid Unicode"),
    ("/api/ask", {"question": "Who met \ud800 in Paris?"}, "question is not valid Unicode"),
    ("/v1/chat/completions", {"model": "rag-news", "messages": [
        {"role": "user", "content": "Who met \udc00 in Paris?"}, {"role": "assistant", "content": "Ministers."},
        {"role": "user", "content": "When?"}]}, "history is not valid Unicode"),
    ("/api/documents", {"text": "The ferry \udc00 restarts in May, said the council."}, "article text is not valid"),
    ("/api/documents", {"text": "The ferry\x00 restarts in May, said the council."}, "NUL character"),
])
def test_a_lone_surrogate_or_nul_is_a_400_before_any_work(client, path: str, body: dict, words: str):
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and words in response.get_data(as_text=True), response.get_data(as_text=True)


def test_a_chunked_body_over_the_limit_is_a_413(server: str):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(server)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    piece = b'{"question": "' + b"a" * 65_536
    connection.request("POST", "/api/ask", body=iter([piece] * 32), encode_chunked=True,
                       headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    assert response.status == 413 and "too large" in json.loads(response.read())["error"]
    connection.close()


@pytest.mark.parametrize("ident", [{"a": 1}, 1.5, True, None, [1]])
def test_an_mcp_request_id_must_be_a_string_or_a_whole_number(client, ident: object):
    response = client.post("/mcp", json={"jsonrpc": "2.0", "id": ident, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"})
    assert response.status_code == 400 and '"id" must be a string' in response.get_json()["error"]["message"]


def test_cors_answers_vary_by_origin(client):
    response = client.post("/api/ask", json={"question": QUESTION}, headers={"Origin": "https://news.example"})
    assert "Origin" in response.headers.get("Vary", "")


@pytest.mark.parametrize("question, kind", [("Summarize the article", "overview"),
                                            ("What did Carter say about Le Drian?", "quote"),
                                            ("Why was the meeting held in Paris?", "explanation")])
def test_answer_kinds_streamed_and_whole_cite_verbatim(client, app, question: str, kind: str):
    whole = client.post("/api/ask", json={"question": question}).get_json()
    stream = events(client.post("/api/ask", json={"question": question, "stream": True}).get_data(as_text=True))
    done = stream[-1][1]
    assert whole["answer_kind"] == done["answer_kind"] == kind and whole["citations"] == done["citations"]
    text = app.extensions["rag"].index.articles[0].text
    assert whole["found"] and whole["citations"]
    for citation in whole["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["text"]
    assert f"{whole['citations'][0]['text']} [1]" in whole["answer"]
