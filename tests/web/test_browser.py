"""The chat page in real headless Chromium (Debian's, driven by Playwright), against a real server."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

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
