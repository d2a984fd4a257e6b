"""The Host and Origin guard, the API key's forms and what a caller without the key may see; in real Chromium
where a browser is the attacker (two loopback origins: the server at 127.0.0.1, the other site at localhost)."""
from __future__ import annotations

import http.server
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from rag.articles import bundled_article

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
KEY = "s3cret-key"
EMOJI_STORY = ("# Harbour party 🎉🎉\n\nFireworks 🎆 and music 🎶 open the harbour party 🥳 on Friday. "
               "The mayor Ana Lima said the ferry to the island will run until two in the morning.")


def serve(app) -> tuple[str, object]:
    http_server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{http_server.server_port}", http_server


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def writable(tmp_path: Path, bundled_index_dir: Path) -> Iterator[tuple[str, object]]:
    from web import create_app

    shutil.copytree(bundled_index_dir, tmp_path / "index")
    app = create_app({"INDEX_DIR": str(tmp_path / "index")})
    base, http_server = serve(app)
    yield base, app
    http_server.shutdown()
    http_server.server_close()


def other_site(html: str) -> tuple[str, object]:
    """Serve one page at http://localhost:PORT/ (another origin than the server's 127.0.0.1)."""
    body = html.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://localhost:{server.server_port}/", server


def listed(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/api/documents", timeout=30) as response:
        return [d["title"] for d in json.load(response)["documents"]]


def test_another_site_cannot_add_through_a_visitors_browser(chromium, writable):
    base, _ = writable
    attack = f"""<html><body><script>
      const form = new FormData();
      form.append("file", new Blob(["The council said the ferry would restart in May."]), "planted.txt");
      fetch("{base}/api/documents?wait=1", {{method: "POST", mode: "no-cors", body: form}})
        .finally(() => document.title = "sent");  // answered (or refused): the add is over either way
    </script></body></html>"""
    page_url, site = other_site(attack)
    try:
        page = chromium.new_page()
        page.goto(page_url)
        expect(page).to_have_title("sent", timeout=60_000)
        page.close()
    finally:
        site.shutdown()
        site.server_close()
    assert listed(base) == ["Paris coalition meeting"]
    same_origin = chromium.new_page()  # the server's own page still adds (its Origin is the server's)
    same_origin.goto(base + "/")
    status = same_origin.evaluate("""async () => (await fetch('/api/documents?wait=1', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({text: 'The council said the ferry would restart in May.'})})).status""")
    same_origin.close()
    assert status == 201 and len(listed(base)) == 2


@pytest.mark.parametrize("method, path", [("GET", "/api/health"), ("POST", "/api/ask"),
                                          ("POST", "/v1/chat/completions"), ("POST", "/mcp"), ("GET", "/")])
def test_a_rebinding_host_name_is_refused_and_named_hosts_are_served(bundled_index_dir: Path, method: str, path: str):
    from web import create_app

    body = {"question": "who chaired the Paris meeting?", "model": "rag-news",
            "messages": [{"role": "user", "content": "who chaired the Paris meeting?"}]}
    app = create_app({"INDEX_DIR": str(bundled_index_dir), "ALLOWED_HOSTS": "news.example,.rag.test"})
    client = app.test_client()
    refused = client.open(path, method=method, json=body if method == "POST" else None,
                          headers={"Host": "attacker.example:5000"})
    assert refused.status_code == 403 and "RAG_ALLOWED_HOSTS" in refused.get_data(as_text=True)
    for host in ("127.0.0.1:5000", "[::1]:80", "localhost", "news.example", "chat.rag.test:8000"):
        served = client.open(path, method=method, json=body if method == "POST" else None, headers={"Host": host})
        assert served.status_code != 403, (host, served.get_data(as_text=True))


def test_the_key_needs_its_bearer_and_a_keyless_caller_sees_no_titles(bundled_index_dir: Path):
    from web import create_app

    client = create_app({"INDEX_DIR": str(bundled_index_dir), "API_KEY": KEY}).test_client()
    question = {"question": "who chaired the Paris meeting?"}
    assert client.post("/api/ask", json=question, headers={"Authorization": KEY}).status_code == 401
    assert client.post("/api/ask", json=question, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert client.post("/api/ask", json=question, headers={"Authorization": f"bearer {KEY}"}).status_code == 200
    assert client.get("/api/health").get_json() == {"status": "ok"}
    full = client.get("/api/health", headers={"X-API-Key": KEY}).get_json()
    assert full["sources"][0]["title"] == "Paris coalition meeting" and full["index"]
    assert "Paris coalition meeting" not in client.get("/").get_data(as_text=True)


def test_the_page_asks_with_the_key_typed_in_articles(chromium, bundled_index_dir: Path):
    from web import create_app

    base, http_server = serve(create_app({"INDEX_DIR": str(bundled_index_dir), "API_KEY": KEY}))
    try:
        page = chromium.new_page()
        page.goto(base + "/")
        page.click("#open-library")
        page.fill("#api-key", KEY)
        page.keyboard.press("Escape")
        page.fill("#question", "who chaired the Paris meeting?")
        page.keyboard.press("Enter")
        answer = page.locator(".message.assistant").last
        expect(answer.locator(".sources")).to_be_visible(timeout=60_000)
        assert "API key" not in answer.inner_text()
        page.close()
    finally:
        http_server.shutdown()
        http_server.server_close()


def test_a_citation_after_emoji_is_highlighted_exactly(chromium, writable):
    base, _ = writable
    request = urllib.request.Request(base + "/api/documents?wait=1", json.dumps({"text": EMOJI_STORY}).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=120).close()
    page = chromium.new_page()
    page.goto(base + "/")
    page.fill("#question", "Until when will the ferry to the island run?")
    page.keyboard.press("Enter")
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".sources")).to_be_visible(timeout=60_000)
    quoted = page.locator(".source-card button").first.locator(".card-quote").inner_text()
    page.locator(".marker").first.click()
    mark = page.locator("#panel mark.cited")
    expect(mark).to_be_visible()
    assert "two in the morning" in quoted and mark.inner_text() == quoted
    page.close()
