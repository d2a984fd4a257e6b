"""The article endpoints over real HTTP: list, add (text, file, URL), remove, jobs, keys, bad input, concurrency."""
from __future__ import annotations

import http.server
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from rag.articles import bundled_article

STORY = ("# Harbour tunnel approved\n\nThe city council approved the harbour tunnel on Monday. "
         "It will cost 480 million euros, said the engineer Maria Costa.")
PAGE = (b"<html><head><title>Ferry line closes</title></head><body><article><h1>Ferry line closes</h1>"
        b"<p>The old ferry line will close in June, said the harbour master Jonas Berg.</p>"
        b"<p>Boats have crossed the bay there since 1890.</p></article></body></html>")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, bundled_index_dir: Path) -> Iterator[tuple[str, object]]:
    """A writable copy of the bundled index behind a real threaded server; loopback fetches allowed (tests only)."""
    from web import create_app

    folder = tmp_path_factory.mktemp("docs") / "index"
    shutil.copytree(bundled_index_dir, folder)
    app = create_app({"INDEX_DIR": str(folder), "FETCH_ALLOW_LOOPBACK": True, "MAX_DOCUMENT_BYTES": 200_000})
    http_server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http_server.server_port}", app
    http_server.shutdown()
    http_server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/to/"):
                self.send_response(302)
                self.send_header("Location", "http://" + self.path[4:])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def call(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None
         ) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def post_json(base: str, value: object, query: str = "?wait=1") -> tuple[int, dict]:
    return call(base, "POST", "/api/documents" + query, json.dumps(value).encode(), {"Content-Type": "application/json"})


def post_file(base: str, name: str, data: bytes, field: str = "file") -> tuple[int, dict]:
    boundary = "----rag-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return call(base, "POST", "/api/documents?wait=1", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def titles(base: str) -> list[str]:
    return [d["title"] for d in call(base, "GET", "/api/documents")[1]["documents"]]


def ask(base: str, question: str, doc_id: str | None = None) -> dict:
    body = {"question": question, **({"doc_id": doc_id} if doc_id else {})}
    return call(base, "POST", "/api/ask", json.dumps(body).encode(), {"Content-Type": "application/json"})[1]


def test_add_by_text_file_and_url_then_ask_and_remove(served, site: str):
    base, _ = served
    assert titles(base) == ["Paris coalition meeting"]
    status, pasted = post_json(base, {"text": STORY})
    assert status == 201 and pasted["title"] == "Harbour tunnel approved" and not pasted["already_indexed"]
    assert pasted["characters"] == len(STORY) and pasted["added"] and pasted["chunks"] >= 1
    status, uploaded = post_file(base, "notes.md", "# Night trains\n\nThe night train to Vienna returns in May.".encode())
    assert status == 201 and uploaded["source"] == "upload:notes.md" and uploaded["title"] == "Night trains"
    status, fetched = post_json(base, {"url": f"{site}/ferry.html"})
    assert status == 201 and fetched["title"] == "Ferry line closes" and fetched["source"] == f"{site}/ferry.html"
    assert titles(base) == ["Paris coalition meeting", "Harbour tunnel approved", "Night trains", "Ferry line closes"]
    answer = ask(base, "How much will the tunnel cost?")
    assert answer["found"] and answer["short_answer"] == "480 million euros"
    assert ask(base, "When will the ferry line close?", fetched["id"])["citations"][0]["doc_id"] == fetched["id"]
    limited = ask(base, "How much will the tunnel cost?", uploaded["id"])
    assert {c["doc_id"] for c in limited["citations"]} <= {uploaded["id"]}
    again = post_json(base, {"text": STORY})[1]
    assert again["already_indexed"] and again["id"] == pasted["id"] and len(titles(base)) == 4
    for document in (pasted, uploaded, fetched):
        status, removed = call(base, "DELETE", f"/api/documents/{document['id']}")
        assert status == 200 and removed["removed"]["id"] == document["id"]
    assert titles(base) == ["Paris coalition meeting"]
    assert call(base, "DELETE", f"/api/documents/{pasted['id']}")[0] == 404
    assert ask(base, "who chaired the Paris meeting?")["found"]


def test_a_job_reports_progress_until_done(served):
    base, _ = served
    status, started = post_json(base, {"text": STORY.replace("Monday", "Friday"), "title": "Tunnel, again"}, query="")
    assert status == 202 and started["status_url"] == f"/api/documents/jobs/{started['job']['id']}"
    states = []
    for _ in range(600):
        job = call(base, "GET", started["status_url"])[1]
        states.append(job["state"])
        if job["state"] in ("done", "failed"):
            break
        threading.Event().wait(0.1)
    assert states[-1] == "done" and job["document"]["title"] == "Tunnel, again"
    assert call(base, "DELETE", f"/api/documents/{job['document']['id']}")[0] == 200
    assert call(base, "GET", "/api/documents/jobs/0123456789abcdef")[0] == 404
    assert call(base, "GET", "/api/documents/jobs/../../etc")[0] == 404


def test_concurrent_adds_all_land_and_nothing_is_lost(served):
    base, _ = served
    results: list[tuple[int, dict]] = []
    stories = [f"# Market day {n}\n\nThe market in town {n} opens on day {n}, said the mayor." for n in range(4)]
    threads = [threading.Thread(target=lambda s=s: results.append(post_json(base, {"text": s}))) for s in stories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [201] * 4
    assert sorted(titles(base)) == sorted(["Paris coalition meeting"] + [f"Market day {n}" for n in range(4)])
    for _, document in results:
        call(base, "DELETE", f"/api/documents/{document['id']}")
    assert titles(base) == ["Paris coalition meeting"]


@pytest.mark.parametrize("send, status, words", [
    (lambda b: post_file(b, "photo.png", b"\x89PNG\r\n\x1a\n\x00\x00"), 400, "not a .txt"),
    (lambda b: post_file(b, "story.txt", b"\x00\x01\x02binary"), 400, "binary"),
    (lambda b: post_file(b, "story.txt", b"   \n  "), 400, "empty"),
    (lambda b: post_file(b, "story.html", b"<html><body><script>x()</script></body></html>"), 400, "no article text"),
    (lambda b: post_file(b, "story.txt", b"\xc3\x28\x81\x8d" * 50), 400, "not UTF-8"),
    (lambda b: post_file(b, "story.txt", b"word " * 45_000), 400, "over the"),
    (lambda b: post_file(b, "story.txt", b"word " * 100_000), 413, "too large"),
    (lambda b: post_file(b, "story.txt", b"text", field="other"), 400, "no file"),
    (lambda b: post_json(b, {"text": "word " * 50_000}), 400, "over the"),
    (lambda b: post_json(b, {"text": ""}), 400, "empty"),
    (lambda b: post_json(b, {"text": "a"}), 400, "no words to index"),
    (lambda b: post_file(b, "story.txt", b"?! a"), 400, "no words to index"),
    (lambda b: post_json(b, {"text": 42}), 400, "must be a string"),
    (lambda b: post_json(b, {}), 400, "exactly one of"),
    (lambda b: post_json(b, {"text": "a", "url": "http://x.example/"}), 400, "exactly one of"),
    (lambda b: post_json(b, ["text"]), 400, "JSON object"),
    (lambda b: post_json(b, {"url": "file:///etc/passwd"}), 400, "not file:"),
    (lambda b: post_json(b, {"url": "ftp://example.com/story.txt"}), 400, "not ftp:"),
    (lambda b: post_json(b, {"url": "gopher://example.com/"}), 400, "not gopher:"),
    (lambda b: post_json(b, {"url": "javascript:alert(1)"}), 400, "not javascript:"),
    (lambda b: post_json(b, {"url": "http://10.0.0.1/admin"}), 400, "private address"),
    (lambda b: post_json(b, {"url": "http://169.254.169.254/latest/meta-data/"}), 400, "cloud metadata"),
    (lambda b: post_json(b, {"url": "http://[::ffff:192.168.0.1]/"}), 400, "private address"),
    (lambda b: call(b, "POST", "/api/documents", b"text=hi", {"Content-Type": "application/x-www-form-urlencoded"}),
     415, "multipart form"),
    (lambda b: call(b, "DELETE", "/api/documents/nope"), 404, "no document"),
    (lambda b: call(b, "GET", "/api/documents/nope/questions"), 404, "no document"),
    (lambda b: call(b, "POST", "/api/ask", json.dumps({"question": "who?", "doc_id": "nope"}).encode(),
                    {"Content-Type": "application/json"}), 404, "no article"),
    (lambda b: call(b, "POST", "/api/ask", json.dumps({"question": "who?", "doc_id": 7}).encode(),
                    {"Content-Type": "application/json"}), 400, "'doc_id'"),
])
def test_bad_adds_are_one_sentence_and_keep_the_index(served, send, status: int, words: str):
    base, _ = served
    got, body = send(base)
    assert got == status, body
    assert words in body["error"] and body["error"].endswith(".") and "\n" not in body["error"]
    assert titles(base) == ["Paris coalition meeting"]


def test_a_redirect_to_a_private_name_is_refused(served, site: str, monkeypatch: pytest.MonkeyPatch):
    import socket

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *rest, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                                                            ("10.0.0.1", rest[0]))]
                        if host == "intranet.test" else real(host, *rest, **kw))
    base, _ = served
    status, body = post_json(base, {"url": f"{site}/to/intranet.test/admin"})
    assert status == 400 and "intranet.test is a private address (10.0.0.1)" in body["error"]
    assert titles(base) == ["Paris coalition meeting"]


def test_suggested_questions_come_from_the_article_and_are_answered(served):
    base, _ = served
    article = bundled_article()
    status, body = call(base, "GET", f"/api/documents/{article.doc_id}/questions")
    assert status == 200 and 1 <= len(body["questions"]) <= 3
    for question in body["questions"]:
        assert question.endswith("?") and any(word in article.text for word in question.rstrip("?").split()[-2:])
        assert ask(base, question, article.doc_id)["found"]


def test_writes_need_the_key_and_reads_can_be_public(bundled_index_dir: Path, tmp_path: Path):
    from web import create_app

    shutil.copytree(bundled_index_dir, tmp_path / "index")
    public = create_app({"INDEX_DIR": str(tmp_path / "index"), "API_KEY": "s3cret", "PUBLIC_READS": True}).test_client()
    assert public.get("/api/documents").status_code == 200
    assert public.post("/api/ask", json={"question": "who chaired the Paris meeting?"}).status_code == 200
    refused = public.post("/api/documents", json={"text": STORY})
    assert refused.status_code == 401 and "API key" in refused.get_json()["error"]
    assert public.delete(f"/api/documents/{bundled_article().doc_id}").status_code == 401
    assert public.post("/api/documents?wait=1", json={"text": STORY}, headers={"X-API-Key": "s3cret"}).status_code == 201
    assert 'data-writes="key"' in public.get("/").get_data(as_text=True)
    private = create_app({"INDEX_DIR": str(tmp_path / "index"), "API_KEY": "s3cret"}).test_client()
    assert private.get("/api/documents").status_code == 401  # without RAG_PUBLIC_READS every call needs the key
    assert private.get("/api/health").status_code == 200


def test_the_loopback_flag_cannot_be_set_from_the_environment(bundled_index_dir: Path, monkeypatch):
    from web import create_app

    monkeypatch.setenv("RAG_INDEX_DIR", str(bundled_index_dir))
    monkeypatch.setenv("RAG_FETCH_ALLOW_LOOPBACK", "true")
    assert create_app().config["FETCH_ALLOW_LOOPBACK"] is False


def test_pages_outside_the_api_get_a_styled_404(client):
    page = client.get("/no/such/page")
    html = page.get_data(as_text=True)
    assert page.status_code == 404 and "There is no page here." in html and "/static/chat.css" in html
    assert "<script" not in html and "Go to the chat" in html
