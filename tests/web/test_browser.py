"""The chat page in real headless Chromium (Debian's, driven by Playwright), against a real server.

Also articles from the page (add by paste, file, drop and URL, ask about one, remove) and a chat
whose server goes away (the question is kept, and Retry answers once it is back).
"""
from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, server: str, request) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.errors = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(server + "/")
    yield page
    assert page.errors == []
    context.close()


def ask(page: Page, question: str, answers_before: int) -> None:
    page.fill("#question", question)
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant:not(.working)")).to_have_count(answers_before + 1, timeout=30_000)
    expect(page.locator("#status")).not_to_have_text("Working on your question\u2026", timeout=30_000)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


def test_ask_and_see_the_answer(page: Page, artifacts: Path):
    page.fill("#question", "who chaired the Paris meeting?")
    page.keyboard.press("Enter")
    expect(page.locator(".message.user")).to_have_text("who chaired the Paris meeting?")
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".sources")).to_be_visible(timeout=30_000)
    expect(answer).to_contain_text("Carter")
    expect(answer).to_contain_text("Le Drian")
    expect(answer.locator(".marker")).to_have_count(1)
    expect(page.locator("#question")).to_be_focused()
    page.screenshot(path=str(artifacts / "answer.png"))


def test_shift_enter_makes_a_new_line_not_a_question(page: Page):
    page.fill("#question", "first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator("#question")).to_have_value("first line\nsecond line")
    expect(page.locator(".message")).to_have_count(0)


def test_clicking_a_citation_highlights_the_exact_span(page: Page, server: str, app, artifacts: Path):
    ask(page, "Which aircraft carrier is sailing in the Arabian Gulf?", 0)
    card = page.locator(".source-card button").first
    quoted = card.locator(".card-quote").inner_text()
    page.locator(".marker").first.click()
    mark = page.locator("#panel mark.cited")
    expect(mark).to_be_visible()
    expect(mark).to_be_in_viewport()
    assert mark.inner_text() == quoted
    assert "Charles de Gaulle" in quoted
    article = app.extensions["rag"].index.articles[0]
    assert page.evaluate("document.getElementById('panel-text').textContent") == article.text
    page.screenshot(path=str(artifacts / "citation.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#panel")).to_be_hidden()
    card.click()
    expect(mark).to_be_visible()


def test_follow_up_question_uses_the_conversation(page: Page, artifacts: Path):
    ask(page, "Where will the 27 defense ministers meet?", 0)
    ask(page, "When?", 1)
    last = page.locator(".message.assistant").last
    expect(last).to_contain_text("three weeks")
    expect(last).not_to_have_class("message assistant not-found")
    page.screenshot(path=str(artifacts / "follow-up.png"))


def test_not_found_answers_look_different(page: Page):
    ask(page, "What is the capital of Peru?", 0)
    last = page.locator(".message.assistant").last
    expect(last).to_have_class("message assistant not-found")
    expect(last).to_have_text("The article doesn't say.")


def test_an_unsure_answer_shows_its_warning_where_the_short_answer_would_be(page: Page, bundled_index_dir: Path,
                                                                           embedder, artifacts: Path):
    import json

    from rag.answerer import UNSURE, Policy, answer_to_dict
    from rag.pipeline import Assistant
    from rag.settings import Settings

    question = "Where will the 27 defense ministers meet?"
    wary = Assistant(Settings(index_dir=bundled_index_dir), build_missing=False, embedder=embedder,
                     policy=Policy(sure_above=1e9))  # the real answer, as an unsure reader gives it
    unsure = answer_to_dict(wary.ask(question))
    assert unsure["found"] and not unsure["sure"]
    page.evaluate("([key, turns]) => localStorage.setItem(key, turns)",
                  ["rag-news:chat:/", json.dumps([{"question": question, "answer": unsure}])])
    page.reload()
    last = page.locator(".message.assistant").last
    expect(last.locator(".unsure")).to_have_text(UNSURE)
    expect(last.locator(".short-answer")).to_have_count(0)
    expect(last.locator(".answer-text")).to_contain_text("Brussels")
    expect(last.locator(".marker")).to_have_count(1)
    page.screenshot(path=str(artifacts / "unsure.png"))
    ask(page, question, 1)  # the server's own reader is sure of this one: the short answer leads
    expect(page.locator(".message.assistant").last.locator(".short-answer")).to_have_text("Brussels")
    expect(page.locator(".message.assistant").last.locator(".unsure")).to_have_count(0)


def test_html_in_a_question_is_shown_as_text_and_runs_nothing(page: Page, artifacts: Path):
    attack = "<img src=x onerror=alert(1)> who met in Paris?"
    ask(page, attack, 0)
    expect(page.locator(".message.user")).to_have_text(attack)
    assert page.locator(".messages img").count() == 0
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.screenshot(path=str(artifacts / "xss.png"))


def test_narrow_screen(browser, server: str, artifacts: Path):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    page.goto(server + "/")
    ask(page, "When will US special operations forces be deployed?", 0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator(".source-card button").first.click()
    mark = page.locator("#panel mark.cited")
    expect(mark).to_be_in_viewport()
    box = page.locator("#panel").bounding_box()
    assert box is not None and box["width"] <= 375 and box["y"] > 100  # a sheet from the bottom
    page.screenshot(path=str(artifacts / "narrow.png"))
    context.close()


def test_embed_page_works_in_an_iframe_sized_box(browser, server: str, artifacts: Path):
    context = browser.new_context(viewport={"width": 400, "height": 560})
    page = context.new_page()
    page.goto(server + "/embed")
    ask(page, "Where will the core nations meet after Brussels?", 0)
    expect(page.locator(".message.assistant").last).to_contain_text("London")
    page.screenshot(path=str(artifacts / "embed.png"))
    context.close()


def test_keyboard_alone(page: Page):
    page.keyboard.type("When will US special operations forces be deployed?")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant .sources")).to_be_visible(timeout=30_000)
    page.locator(".marker").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel mark.cited")).to_be_visible()
    expect(page.locator("#panel")).to_be_focused()


QUESTIONS = ["who chaired the Paris meeting?", "What is the capital of Peru?", "Where will the 27 defense ministers meet?",
             "When?", "Which aircraft carrier is sailing in the Arabian Gulf?", "Who drafted the plan?",
             "When will US special operations forces be deployed?", "What did the seven countries say?",
             "Where will the core nations meet after Brussels?", "What is the population of Mars?"]


@pytest.mark.parametrize("width, height", [(1280, 800), (375, 740)])
def test_the_newest_answer_is_always_fully_visible_above_the_input(browser, server: str, artifacts: Path,
                                                                   width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(server + "/")
    tall: list[str] = []
    for number, question in enumerate(QUESTIONS):
        ask(page, question, number)
        newest = page.locator(".message.assistant").last.bounding_box()
        form = page.locator("#ask-form").bounding_box()
        status = page.locator("#status").bounding_box()
        scroller = page.locator("#scroller").bounding_box()
        assert newest and form and status and scroller
        if newest["height"] <= scroller["height"]:  # it fits: all of it is in view, above the status and input
            assert newest["y"] >= scroller["y"] - 0.5, (question, newest, scroller)
            assert newest["y"] + newest["height"] <= status["y"] + 0.5 <= form["y"] + 0.5, (question, newest, form)
        else:  # taller than the view: it is read from its start, and fills the view down to the status line
            assert abs(newest["y"] - scroller["y"]) <= 1 and newest["y"] + newest["height"] >= status["y"], question
            tall.append(question)
        assert form["y"] + form["height"] <= height + 0.5  # the input itself is on screen
    assert page.locator(".message").count() == 20
    assert tall == ([] if width > 700 else tall[:1])  # at most the one long quotation is taller than a phone's view
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"twenty-messages-{width}.png"))
    context.close()


def test_cards_only_for_cited_sources_and_the_rest_folded(page: Page, artifacts: Path):
    ask(page, "Which aircraft carrier is sailing in the Arabian Gulf?", 0)
    answer = page.locator(".message.assistant").last
    markers = {int(n) for n in answer.locator(".marker").evaluate_all("nodes => nodes.map(n => n.dataset.n)")}
    shown = answer.locator(".sources .card-n").all_inner_texts()
    assert {int(n.strip("[]")) for n in shown} == markers
    more = answer.locator(".more-passages")
    if more.count():
        expect(more.locator(".source-card").first).to_be_hidden()
        more.locator("summary").click()
        expect(more.locator(".source-card").first).to_be_visible()
    page.screenshot(path=str(artifacts / "cited-cards.png"))


def test_suggested_questions_on_the_empty_page_ask_when_clicked(page: Page, artifacts: Path):
    chips = page.locator("#suggestions .suggestion")
    expect(chips.nth(1)).to_be_visible(timeout=60_000)
    assert 2 <= chips.count() <= 4
    page.screenshot(path=str(artifacts / "suggestions.png"))
    text = chips.nth(1).inner_text()
    chips.nth(1).click()
    expect(page.locator(".message.user")).to_have_text(text)
    expect(page.locator(".message.assistant:not(.working)")).to_have_count(1, timeout=30_000)
    expect(page.locator(".message.assistant")).not_to_have_class("message assistant not-found")
    expect(page.locator("#welcome")).to_be_hidden()


def test_summarize_this_article_beside_the_suggestions(page: Page, artifacts: Path):
    chip = page.locator("#suggestions .suggestion").first
    expect(chip).to_have_text("Summarize this article", timeout=60_000)
    with page.expect_response(lambda r: r.url.endswith("/api/ask")) as response:
        chip.click()
    expect(page.locator(".message.assistant:not(.working)")).to_have_count(1, timeout=30_000)
    text = (Path(__file__).parents[2] / "rag" / "data" / "paris-coalition-meeting.txt").read_text(encoding="utf-8")
    events = [line[6:] for line in response.value.text().splitlines() if line.startswith("data: ")]
    done = json.loads(events[-1])
    assert done["answer_kind"] == "overview" and len(done["citations"]) == 3
    for citation in done["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["text"]
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".marker")).to_have_count(3)
    expect(answer).to_contain_text(done["citations"][0]["text"])
    page.screenshot(path=str(artifacts / "summary.png"))


def test_reload_keeps_the_chat_and_new_chat_clears_it(page: Page, artifacts: Path):
    ask(page, "Where will the 27 defense ministers meet?", 0)
    ask(page, "who chaired the Paris meeting?", 1)
    page.reload()
    expect(page.locator(".message.user")).to_have_count(2)
    expect(page.locator(".message.assistant").last).to_contain_text("Le Drian")
    page.screenshot(path=str(artifacts / "reloaded.png"))
    ask(page, "When?", 2)  # the follow-up still knows the restored conversation
    page.locator("#new-chat").click()
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#welcome")).to_be_visible()
    page.reload()
    expect(page.locator("#welcome")).to_be_visible()
    expect(page.locator(".message")).to_have_count(0)


def test_copy_puts_the_answer_on_the_clipboard(browser, server: str):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, permissions=["clipboard-read",
                                                                                        "clipboard-write"])
    page = context.new_page()
    page.goto(server + "/")
    ask(page, "who chaired the Paris meeting?", 0)
    page.locator(".message.assistant .copy").click()
    expect(page.locator(".message.assistant .copy")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "Le Drian" in copied and "[1] Paris coalition meeting" in copied
    context.close()


def test_a_styled_404_page(browser, server: str, artifacts: Path):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    response = page.goto(server + "/no/such/page")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("There is no page here.")
    page.locator("a.button-link").click()
    expect(page.locator("#question")).to_be_visible()
    context.close()


# ---- articles from the page ----------------------------------------------------------------------------

PAGE = (b"<html><head><title>Ferry line closes</title></head><body><nav>Home | Local</nav><article>"
        b"<h1>Ferry line closes</h1><p>The old ferry line will close in June, said the harbour master Jonas Berg.</p>"
        b"<p>Boats have crossed the bay there since 1890.</p></article></body></html>")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/ferry.html"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory, bundled_index_dir: Path) -> Iterator[str]:
    from web import create_app

    folder = tmp_path_factory.mktemp("page-docs") / "index"
    shutil.copytree(bundled_index_dir, folder)
    app = create_app({"INDEX_DIR": str(folder), "FETCH_ALLOW_LOOPBACK": True})
    http_server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http_server.server_port}"
    http_server.shutdown()
    http_server.server_close()


def open_page(browser, base: str, width: int = 1280, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(base + "/")
    return page


def added(page: Page, title: str) -> None:
    expect(page.locator("#add-status")).to_have_text(f"Added \u201c{title}\u201d.", timeout=120_000)
    expect(page.locator(".article-row .article-title", has_text=title)).to_be_visible()


def test_add_by_paste_file_drop_and_url_ask_and_remove(browser, writable: str, site: str,
                                                         artifacts: Path):
    page = open_page(browser, writable)
    page.locator("#open-library").click()
    expect(page.locator("#library")).to_be_visible()
    page.fill("#add-text", "# Harbour tunnel approved\n\nThe city council approved the harbour tunnel on Monday. "
                           "It will cost 480 million euros, said the engineer Maria Costa.")
    page.locator("#add-text-form button").click()
    expect(page.locator("#add-progress")).to_be_visible()
    added(page, "Harbour tunnel approved")
    page.screenshot(path=str(artifacts / "added-by-paste.png"))
    page.set_input_files("#add-file", files=[{"name": "trains.md", "mimeType": "text/markdown",
                                              "buffer": b"# Night trains\n\nThe night train to Vienna returns in May."}])
    added(page, "Night trains")
    drop = page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["# Market hall\\n\\nThe market hall reopens on Saturday after repairs."],
                                "market.txt", { type: "text/plain" }));
        return data;
    }""")
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": drop})
    added(page, "Market hall")
    page.fill("#add-url", site)
    page.locator("#add-url-form button").click()
    added(page, "Ferry line closes")
    rows = page.locator(".article-row")
    expect(rows).to_have_count(5)
    expect(rows.nth(4).locator(".article-meta")).to_contain_text("characters")
    page.screenshot(path=str(artifacts / "library.png"))
    rows.nth(4).get_by_role("button", name="Ask about this").click()
    expect(page.locator("#library")).to_be_hidden()
    assert page.locator("#scope option:checked").inner_text() == "Ferry line closes"
    ask(page, "When will the ferry line close?", 0)
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".short-answer")).to_have_text("June")
    assert set(answer.locator(".card-title").all_text_contents()) == {"Ferry line closes"}  # folded ones too
    page.screenshot(path=str(artifacts / "asked-about-one-article.png"))
    page.select_option("#scope", "")
    ask(page, "How much will the tunnel cost?", 1)
    expect(page.locator(".message.assistant").last.locator(".short-answer")).to_have_text("480 million euros")
    page.locator("#open-library").click()
    for title in ("Harbour tunnel approved", "Night trains", "Market hall", "Ferry line closes"):
        row = page.locator(".article-row", has_text=title)
        row.get_by_role("button", name=f"Remove {title}").click()
        row.locator(".confirm button", has_text="Remove").click()
        expect(page.locator(".article-row", has_text=title)).to_have_count(0)
    expect(page.locator(".article-row")).to_have_count(1)
    expect(page.locator("#scope option")).to_have_count(2)
    page.screenshot(path=str(artifacts / "removed.png"))
    page.context.close()


def test_a_refused_url_and_a_bad_file_say_why_on_the_page(browser, writable: str, artifacts: Path):
    page = open_page(browser, writable, 375, 740)
    page.locator("#open-library").click()
    page.fill("#add-url", "file:///etc/passwd")
    page.locator("#add-url-form button").click()
    expect(page.locator("#add-status")).to_have_text("Only http and https addresses can be fetched, not file:.")
    page.set_input_files("#add-file", files=[{"name": "photo.txt", "mimeType": "text/plain",
                                              "buffer": b"\x00\x01\x02binary"}])
    expect(page.locator("#add-status")).to_have_text("photo.txt looks like a binary file, not a text article.")
    page.screenshot(path=str(artifacts / "refused-add.png"))
    expect(page.locator(".article-row")).to_have_count(1)
    page.context.close()


def test_server_stopped_keeps_the_question_and_retry_answers(browser, bundled_index_dir: Path,
                                                              artifacts: Path):
    from web import create_app

    app = create_app({"INDEX_DIR": str(bundled_index_dir)})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def start():  # type: ignore[no-untyped-def]
        http_server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        return http_server

    http_server = start()
    page = open_page(browser, f"http://127.0.0.1:{port}", 375, 740)
    ask(page, "who chaired the Paris meeting?", 0)
    http_server.shutdown()
    http_server.server_close()
    page.fill("#question", "Where will the 27 defense ministers meet?")
    page.keyboard.press("Enter")
    failed = page.locator(".message.assistant.error")
    expect(failed).to_contain_text("The server can't be reached; try again.")
    expect(page.locator("#question")).to_have_value("Where will the 27 defense ministers meet?")
    expect(page.locator("#status")).to_have_text("The server can't be reached; try again.")
    page.locator(".message.assistant .marker").first.click()  # a citation while the server is down
    expect(page.locator("#status")).to_have_text("The server can't be reached; try again.")
    page.screenshot(path=str(artifacts / "server-down.png"))
    http_server = start()
    try:
        failed.get_by_role("button", name="Retry").click()
        expect(page.locator(".message.assistant:not(.working)")).to_have_count(2, timeout=30_000)
        expect(page.locator(".message.assistant").last).to_contain_text("Brussels")
        expect(page.locator(".message.error")).to_have_count(0)
        expect(page.locator("#question")).to_have_value("")
        page.screenshot(path=str(artifacts / "retried.png"))
    finally:
        http_server.shutdown()
        http_server.server_close()
        page.context.close()
