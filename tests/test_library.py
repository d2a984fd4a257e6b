"""Adding, removing and listing articles keeps every other article; questions can be limited to one article."""
from __future__ import annotations

import threading
from pathlib import Path

import faiss
import pytest

from rag.articles import make_article
from rag.build import update_index
from rag.errors import InputError, MissingArticleError
from rag.index import load_index, read_manifest
from rag.library import add_articles, article_from_text, list_articles, remove_articles
from rag.pipeline import Assistant
from rag.settings import Settings

BRIDGE = make_article("# Bridge news\n\nThe bridge opened in March. It cost 4 million dollars.", "bridge.txt")
BUDGET = make_article("# Budget vote\n\nThe council approved a budget of 12 million euros on Tuesday.", "budget.txt")
FESTIVAL = make_article("# Festival\n\nThe festival starts on Friday in Porto, said organiser Luis Mota.", "festival.txt")


@pytest.fixture()
def two(tmp_path: Path, embedder) -> Path:
    folder = tmp_path / "index"
    update_index([BRIDGE, BUDGET], folder, embedder, Settings(index_dir=folder))
    return folder


def sources(folder: Path) -> list[str]:
    return [entry.source for entry in list_articles(folder)]


def test_adding_to_an_index_of_two_keeps_them(two: Path, embedder):
    before = {info.source: info for info in read_manifest(two).sources}
    change = add_articles([FESTIVAL], two, lambda: embedder, Settings(index_dir=two))
    assert [entry.source for entry in change.added] == ["festival.txt"] and not change.updated
    assert sources(two) == ["bridge.txt", "budget.txt", "festival.txt"]
    after = {info.source: info for info in read_manifest(two).sources}
    for source in before:  # kept as they were, first-added times included
        assert after[source].sha256 == before[source].sha256 and after[source].added == before[source].added
    assert after["festival.txt"].characters == len(FESTIVAL.text) and after["festival.txt"].added
    index = load_index(two)
    for chunk in index.chunks:
        assert index.article(chunk.source).text[chunk.start:chunk.end] == chunk.text


def test_same_source_updates_or_is_kept_both_ways(two: Path, embedder):
    settings = Settings(index_dir=two)
    same = add_articles([BRIDGE], two, lambda: embedder, settings)
    assert [e.source for e in same.unchanged] == ["bridge.txt"] and not same.added
    changed = make_article("# Bridge news\n\nThe bridge opened in October.", "bridge.txt")
    updated = add_articles([changed], two, lambda: embedder, settings)
    assert [e.source for e in updated.updated] == ["bridge.txt"] and sources(two) == ["bridge.txt", "budget.txt"]
    again = make_article("# Bridge news\n\nThe bridge opened in May.", "bridge.txt")
    both = add_articles([again], two, lambda: embedder, settings, keep_both=True)
    assert [e.source for e in both.added] == ["bridge.txt (2)"]
    assert sources(two) == ["bridge.txt", "budget.txt", "bridge.txt (2)"]
    duplicate = add_articles([make_article(again.text, "other-name.txt")], two, lambda: embedder, settings,
                             keep_both=True)
    assert [e.source for e in duplicate.unchanged] == ["bridge.txt (2)"] and len(sources(two)) == 3


def test_remove_and_list(two: Path, embedder):
    change = remove_articles([BUDGET.doc_id], two, lambda: pytest.fail("no model is needed"), Settings(index_dir=two))
    assert [e.source for e in change.removed] == ["budget.txt"] and sources(two) == ["bridge.txt"]
    with pytest.raises(MissingArticleError, match="'nope'"):
        remove_articles(["bridge.txt", "nope"], two, lambda: embedder, Settings(index_dir=two))
    assert sources(two) == ["bridge.txt"]  # nothing removed when one key is unknown
    remove_articles(["bridge.txt"], two, lambda: embedder, Settings(index_dir=two))
    assert list_articles(two) == []
    assistant = Assistant(Settings(index_dir=two), build_missing=False, embedder=embedder)
    assert not assistant.ask("When did the bridge open?").found  # an empty index answers, it doesn't crash
    add_articles([FESTIVAL], two, lambda: embedder, Settings(index_dir=two))
    assert sources(two) == ["festival.txt"]


def test_concurrent_adds_all_land(two: Path, embedder):
    stories = [make_article(f"# Story {n}\n\nThe council of town {n} met on day {n}.", f"story-{n}.txt")
               for n in range(4)]
    errors: list[BaseException] = []

    def add(article) -> None:
        try:
            add_articles([article], two, lambda: embedder, Settings(index_dir=two))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(story,)) for story in stories]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(sources(two)) == sorted(["bridge.txt", "budget.txt"] + [s.source for s in stories])


def test_a_failed_add_leaves_the_index_as_it_was(two: Path, embedder, monkeypatch: pytest.MonkeyPatch):
    version = load_index(two).version

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)  # the disk fills up while the new version is written
    with pytest.raises(OSError):
        add_articles([FESTIVAL], two, lambda: embedder, Settings(index_dir=two))
    monkeypatch.undo()
    index = load_index(two)
    assert index.version == version and sources(two) == ["bridge.txt", "budget.txt"]


def test_a_question_can_be_limited_to_one_article(two: Path, embedder):
    add_articles([FESTIVAL], two, lambda: embedder, Settings(index_dir=two))
    assistant = Assistant(Settings(index_dir=two), build_missing=False, embedder=embedder)
    everywhere = assistant.ask("When does the festival start?")
    assert everywhere.found and everywhere.citations[0].source == "festival.txt"
    only_festival = assistant.ask("When does the festival start?", article=FESTIVAL.doc_id)
    assert only_festival.found and {c.source for c in only_festival.citations} == {"festival.txt"}
    only_bridge = assistant.ask("When does the festival start?", article=BRIDGE.doc_id)
    assert {c.source for c in only_bridge.citations} <= {"bridge.txt"} and not only_bridge.found
    with pytest.raises(MissingArticleError):
        assistant.ask("When?", article="0123456789ab")


def test_pasted_text_gets_a_title():
    assert article_from_text("# Harbour tunnel\n\nIt will cost 480 million euros.").title == "Harbour tunnel"
    words = article_from_text("The harbour tunnel will cost 480 million euros, said the engineer on Monday.")
    assert words.title == "The harbour tunnel will cost 480 million euros, said the\u2026"
    assert words.source == f"pasted:{words.title}"
    assert article_from_text("Some text.", title="  My   title ").title == "My title"
    for bad in ("", "   \n", None):
        with pytest.raises(InputError):
            article_from_text(bad)  # type: ignore[arg-type]
