"""The ``ask`` and ``rag`` commands, run as a user runs them: in a subprocess."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.articles import read_article

BIN = Path(sys.executable).parent


def run(*args: str, stdin: str | None = None, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [str(BIN / args[0]) if (BIN / args[0]).exists() else args[0], *args[1:]]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, **(env or {})})


def assert_one_sentence_error(result: subprocess.CompletedProcess) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith((".", ".`", "`."))


def test_ask_works_right_after_install_and_reuses_its_index(tmp_path: Path):
    first = run("ask", "who chaired the Paris meeting?", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Building the index of the bundled article" in first.stderr
    assert "Carter" in first.stdout and "Le Drian" in first.stdout and "co-chaired" in first.stdout
    assert "[1] Paris coalition meeting" in first.stdout
    assert (tmp_path / "data" / "rag-news" / "index" / "CURRENT").is_file()  # the user's data folder
    assert not (tmp_path / "index").exists()  # not the folder ask was run in
    second = run("ask", "--json", "When will US special operations forces deploy?", cwd=tmp_path)
    assert second.returncode == 0 and "Building" not in second.stderr
    data = json.loads(second.stdout)
    assert data["found"] and data["short_answer"] == "December"
    text = (Path(__file__).parents[1] / "rag" / "data" / "paris-coalition-meeting.txt").read_text(encoding="utf-8")
    for citation in data["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["text"]


def test_json_lines_from_standard_input(tmp_path: Path, bundled_index_dir: Path):
    questions = "Where will the follow-up meeting be held?\n\n   \n?!\nWhat is the capital of Peru?\n"
    result = run("ask", "--json", "-", "--index", str(bundled_index_dir), "-k", "2", stdin=questions)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert rows[0]["found"] and "London" in rows[0]["answer"] and len(rows[0]["citations"]) <= 2
    assert rows[1] == {"question": "?!", "error": "The question has no words in it; type a question about the article."}
    assert rows[2]["found"] is False and rows[2]["answer"] == "The article doesn't say."


def test_answer_kinds_from_the_command_line(bundled_index_dir: Path):
    questions = "Summarize the article\nWhat did Carter say about Le Drian?\nWhat are the three objectives of the plan?\n"
    result = run("ask", "--json", "-", "--index", str(bundled_index_dir), stdin=questions)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["answer_kind"] for row in rows] == ["overview", "quote", "list"]
    text = read_article(Path(__file__).parents[1] / "rag" / "data" / "paris-coalition-meeting.txt").text
    for row in rows:
        assert row["found"] and row["citations"]
        for citation in row["citations"]:
            assert text[citation["start"]:citation["end"]] == citation["text"]
    starts = [c["start"] for c in rows[0]["citations"]]
    assert len(starts) == 3 and starts == sorted(starts)
    plain = run("ask", "--index", str(bundled_index_dir), "What are the key points?")
    assert plain.returncode == 0 and "[3]" in plain.stdout and rows[0]["citations"][0]["text"] in plain.stdout


def test_build_info_and_ask_a_custom_index(tmp_path: Path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "budget.md").write_text("# Budget vote\n\nThe council approved a budget of 12 million euros on Tuesday.\n\n"
                                      "The mayor, Ana Ruiz, said the money will fund two new schools.", encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\x00\x01binary")
    write_50_mb_article(folder / "huge.txt")
    built = run("rag", "build", str(folder), "--index", str(tmp_path / "idx"), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "Indexed 1 article(s)" in built.stdout
    assert f"skipped: {folder}/bad.txt looks like a binary file, not a text article.\n" in built.stderr
    assert f"skipped: {folder}/huge.txt is 50.0 MB, over the 2 MB limit for one article; split it, or raise the limit " \
           "with RAG_MAX_ARTICLE_MB.\n" in built.stderr
    info = run("rag", "info", "--index", str(tmp_path / "idx"), cwd=tmp_path)
    assert "news/budget.md" in info.stdout and "Budget vote" in info.stdout and "all-MiniLM-L6-v2" in info.stdout
    answer = run("ask", "--index", str(tmp_path / "idx"), "Who is the mayor?", cwd=tmp_path)
    assert answer.returncode == 0 and "Ana Ruiz" in answer.stdout
    module = run(sys.executable, "-m", "rag", "info", "--index", str(tmp_path / "idx"), "--json")
    assert json.loads(module.stdout)["counts"]["articles"] == 1


def test_a_saved_web_page_is_built_asked_and_cited_verbatim(tmp_path: Path):
    page = Path(__file__).parent / "data" / "harbour-page.html"
    built = run("rag", "build", str(page), "--index", "idx", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    result = run("ask", "--index", "idx", "--json", "How much will the tunnel cost?", cwd=tmp_path)
    answer = json.loads(result.stdout)
    assert answer["found"] and answer["short_answer"] == "480 million euros"
    text = read_article(page).text
    for citation in answer["citations"]:
        assert text[citation["start"]:citation["end"]] == citation["text"]
    assert "<" not in result.stdout


def write_50_mb_article(path: Path) -> None:
    paragraph = ("The council met again on Tuesday and talked for hours about the budget. " * 10 + "\n\n").encode()
    with path.open("wb") as file:
        for _ in range(50 * 1024 * 1024 // len(paragraph)):
            file.write(paragraph)
        file.write(b"x" * (50 * 1024 * 1024 - file.tell()))


def test_a_50_mb_article_is_refused_in_seconds_with_how_to_raise_the_limit(tmp_path: Path):
    write_50_mb_article(tmp_path / "huge.txt")
    assert (tmp_path / "huge.txt").stat().st_size == 50 * 1024 * 1024
    started = time.monotonic()
    result = run("rag", "build", "huge.txt", "--index", "idx", cwd=tmp_path)
    assert time.monotonic() - started < 15
    assert_one_sentence_error(result)
    assert result.returncode == 3
    assert result.stderr == ("error: huge.txt is 50.0 MB, over the 2 MB limit for one article; split it, or raise "
                             "the limit with RAG_MAX_ARTICLE_MB.\n")
    assert not (tmp_path / "idx").exists()


def test_a_changed_source_is_picked_up_by_ask(tmp_path: Path):
    story = tmp_path / "story.txt"
    story.write_text("The bridge opened in March. It cost 4 million dollars.", encoding="utf-8")
    assert run("rag", "build", str(story), "--index", "idx", cwd=tmp_path).returncode == 0
    story.write_text("The bridge opened in October. It cost 4 million dollars.", encoding="utf-8")
    result = run("ask", "--index", "idx", "When did the bridge open?", cwd=tmp_path)
    assert "Updating the index" in result.stderr and "October" in result.stdout


@pytest.mark.parametrize("args", [
    ("ask", ""),
    ("ask", "   "),
    ("ask", "--bogus", "who?"),
    ("ask", "-k", "0", "who met?"),
    ("ask", "-k", "many", "who met?"),
    ("ask", "--index", "no/such/index", "who met?"),
    ("rag", "build", "missing.txt"),
    ("rag", "info", "--index", "nowhere"),
    ("rag", "frobnicate"),
    ("rag",),
])
def test_errors_are_one_sentence_and_a_nonzero_exit(tmp_path: Path, args: tuple[str, ...]):
    assert_one_sentence_error(run(*args, cwd=tmp_path))


def test_a_corrupt_index_is_reported_not_crashed(tmp_path: Path, bundled_index_dir: Path):
    folder = tmp_path / "copy"
    shutil.copytree(bundled_index_dir, folder)
    version = folder / (folder / "CURRENT").read_text().strip()
    (version / "manifest.json").write_text("garbage")
    result = run("ask", "--index", str(folder), "who met?")
    assert_one_sentence_error(result)
    assert "damaged" in result.stderr and "--force" in result.stderr


def test_force_rebuilds_an_index_whose_manifest_is_garbled(tmp_path: Path, bundled_index_dir: Path):
    folder = tmp_path / "copy"
    shutil.copytree(bundled_index_dir, folder)
    version = folder / (folder / "CURRENT").read_text().strip()
    (version / "manifest.json").write_text("garbage")
    told = run("ask", "--index", str(folder), "who met?").stderr
    command = told[told.index("`rag build") + 1:told.index("`.")].replace("PATH...", str(write_stories(tmp_path)[0]))
    rebuilt = run(*command.split())  # exactly the command the error names
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Rebuilding from scratch" in rebuilt.stderr and "Indexed 1 article(s)" in rebuilt.stdout
    answer = run("ask", "--index", str(folder), "When does the bridge open?")
    assert answer.returncode == 0 and "Bridge news" in answer.stdout


def test_a_build_reports_an_article_added_while_it_waited_for_the_lock(tmp_path: Path, embedder):
    from rag.build import build_index
    from rag.index import build_lock, load_index, save_index
    from rag.library import article_from_text
    from rag.settings import Settings

    bridge, budget, festival = write_stories(tmp_path / "news")
    assert run("rag", "add", str(bridge), str(budget), "--index", "idx", cwd=tmp_path).returncode == 0
    folder = tmp_path / "idx"
    with build_lock(folder):
        build = subprocess.Popen([str(BIN / "rag"), "build", str(festival), "--index", "idx"], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting = build.stderr.readline()
        assert "waiting for it to finish" in waiting
        # an add (as the server makes it, under the lock) lands while the build waits
        previous = load_index(folder)
        late = article_from_text("The late ferry will run on Sundays from June, said the harbour master.", "Late ferry")
        save_index(build_index([*previous.articles, late], embedder, Settings(index_dir=folder), previous).index, folder)
    out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err
    assert "removed: pasted:Late ferry \u201cLate ferry\u201d" in err  # not dropped without a word
    assert "3 removed" in out


def test_help_is_quick_and_plain():
    result = run("ask", "--help")
    assert result.returncode == 0 and "--json" in result.stdout and "-k" in result.stdout


def test_rag_eval_reports_every_figure(tmp_path: Path):
    data = Path(__file__).parent / "data"
    rows = [line for line in (data / "paris_questions.jsonl").read_text(encoding="utf-8").splitlines() if line][:12]
    (tmp_path / "q.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    article = Path(__file__).parents[1] / "rag" / "data" / "paris-coalition-meeting.txt"
    result = run("rag", "eval", str(tmp_path / "q.jsonl"), "--corpus", str(article), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for name in ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "answer_contains_gold", "short_exact", "short_f1",
                 "median_answer_words", "unanswerable_refused", "answerable_refused", "sure_precision",
                 "answerable_right_sure", "citations_verbatim", "answer_text_verbatim", "latency_p50_ms",
                 "latency_p95_ms"):
        assert isinstance(report[name], (int, float)), name
    assert report["questions"] == 12 and report["citations_verbatim"] == 1.0
    assert isinstance(report["failures"], list)
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n', encoding="utf-8")
    assert_one_sentence_error(run("rag", "eval", str(tmp_path / "bad.jsonl"), "--corpus", str(article), cwd=tmp_path))


def test_files_that_vanish_or_change_while_a_build_reads_them(tmp_path: Path):
    from rag.articles import load_articles
    from rag.build import stale_reason
    from rag.index import load_index
    from rag.settings import Settings

    folder, count = tmp_path / "news", 200
    folder.mkdir()
    written: dict[str, list[str]] = {f"news/{n:03}.txt": [] for n in range(count)}

    def write(n: int, version: int) -> None:
        text = f"Story {n}, version {version}.\n\nThe council met on day {version} to discuss item {n}."
        written[f"news/{n:03}.txt"].append(text)
        (folder / f"{n:03}.txt").write_text(text, encoding="utf-8")

    for n in range(count):
        write(n, 0)
    stop = threading.Event()

    def churn() -> None:  # at any moment about half the files are gone; the rest keep changing
        step = 0
        while not stop.is_set():
            step += 1
            (folder / f"{step % count:03}.txt").unlink(missing_ok=True)
            write((step + count // 2) % count, step)

    racer = threading.Thread(target=churn)
    racer.start()
    try:  # the race is real, so a build may by chance read every file it listed: allow three tries
        for _ in range(3):
            shutil.rmtree(tmp_path / "idx", ignore_errors=True)
            first = run("rag", "build", "news", "--index", "idx", cwd=tmp_path)
            assert first.returncode == 0, first.stderr
            notes = [line for line in first.stderr.splitlines() if line.startswith("skipped: ")]
            assert [line for line in first.stderr.splitlines() if line not in notes] == []
            if any(line.startswith("skipped: There is no file at news/") for line in notes):
                break
        else:
            raise AssertionError("no build saw a file vanish between listing and reading it")
    finally:
        stop.set()
        racer.join()
    assert all(line.endswith(".") and line.count(". ") == 0 for line in notes)
    index = load_index(tmp_path / "idx")
    indexed = {article.source: article for article in index.articles}
    assert indexed and len(indexed) + len(notes) <= count
    for info in index.manifest.sources:  # each file as one read saw it, and the digest of exactly that text
        article = indexed[info.source]
        assert any(text.startswith(article.text) for text in written[info.source])
        assert info.sha256 == hashlib.sha256(article.text.encode("utf-8")).hexdigest()
    for chunk in index.chunks:
        assert indexed[chunk.source].text[chunk.start:chunk.end] == chunk.text

    now = {f"news/{path.name}": path.read_text(encoding="utf-8") for path in folder.iterdir()}
    changed = [source for source, text in now.items() if source not in indexed or indexed[source].text != text]
    assert changed  # some files changed or came back after the first build read the folder
    second = run("rag", "build", "news", "--index", "idx", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    gone = [info.source for info in index.manifest.sources if info.source not in now]  # deleted since the first build
    said = second.stderr.splitlines()
    assert [line.split(" ")[1] for line in said] == gone and all(line.startswith("removed: ") for line in said)
    assert f"{len(gone)} removed" in second.stdout
    assert f"({len(changed)} embedded, {len(now) - len(changed)} reused," in second.stdout
    rebuilt = load_index(tmp_path / "idx")
    current = load_articles([tmp_path / "news"])
    assert stale_reason(rebuilt, current, Settings(), rebuilt.manifest.model) is None


def write_stories(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    stories = {"bridge.txt": "# Bridge news\n\nThe bridge opened in March. It cost 4 million dollars.",
               "budget.md": "# Budget vote\n\nThe council approved a budget of 12 million euros on Tuesday.",
               "festival.txt": "# Festival\n\nThe festival starts on Friday in Porto, said organiser Luis Mota."}
    for name, text in stories.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / name for name in stories]


def test_add_to_an_index_of_two_keeps_them_then_remove_and_list(tmp_path: Path):
    bridge, budget, festival = write_stories(tmp_path / "news")
    assert run("rag", "build", str(bridge), str(budget), "--index", "idx", cwd=tmp_path).returncode == 0
    added = run("rag", "add", str(festival), "--index", "idx", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == ["added: news/festival.txt \u201cFestival\u201d (1 chunks)",
                                         "The index at idx holds 3 article(s); none was removed."]
    assert added.stderr == ""  # not a terminal: no progress bars
    listed = run("rag", "list", "--index", "idx", "--json", cwd=tmp_path)
    rows = json.loads(listed.stdout)
    assert [row["source"] for row in rows] == ["news/bridge.txt", "news/budget.md", "news/festival.txt"]
    assert all(row["added"] and row["characters"] > 0 for row in rows)
    table = run("rag", "list", "--index", "idx", cwd=tmp_path)
    assert "\u201cBudget vote\u201d" in table.stdout and table.stderr == "3 article(s).\n"
    assert "Friday" in run("ask", "--index", "idx", "When does the festival start?", cwd=tmp_path).stdout
    assert "March" in run("ask", "--index", "idx", "When did the bridge open?", cwd=tmp_path).stdout
    by_id = run("rag", "remove", rows[1]["doc_id"], "--index", "idx", cwd=tmp_path)
    assert by_id.stdout.splitlines()[0] == "removed: news/budget.md \u201cBudget vote\u201d"
    by_path = run("rag", "remove", str(bridge), "--index", "idx", cwd=tmp_path)
    assert by_path.returncode == 0 and "removed: news/bridge.txt" in by_path.stdout
    assert [row["source"] for row in json.loads(run("rag", "list", "--index", "idx", "--json", cwd=tmp_path).stdout)] \
        == ["news/festival.txt"]
    unknown = run("rag", "remove", "news/bridge.txt", "--index", "idx", cwd=tmp_path)
    assert_one_sentence_error(unknown)
    assert unknown.returncode == 2 and "No indexed article" in unknown.stderr


def test_build_says_what_it_removes_and_why(tmp_path: Path):
    bridge, budget, festival = write_stories(tmp_path / "news")
    assert run("rag", "add", str(bridge), str(budget), "--index", "idx", cwd=tmp_path).returncode == 0
    rebuilt = run("rag", "build", str(festival), "--index", "idx", cwd=tmp_path)
    assert rebuilt.returncode == 0
    assert rebuilt.stderr.splitlines() == [
        f"removed: news/{name} \u201c{title}\u201d (not among the paths given; `rag build` makes the index hold exactly "
        "them, `rag add` keeps the others)" for name, title in (("bridge.txt", "Bridge news"), ("budget.md", "Budget vote"))]
    assert "2 removed" in rebuilt.stdout


def test_add_refuses_other_schemes_and_private_addresses_before_reading(tmp_path: Path):
    for url, words in (("file:///etc/passwd", "not file:"), ("http://10.0.0.1/x", "private address")):
        result = run("rag", "add", url, "--index", "idx", cwd=tmp_path)
        assert_one_sentence_error(result)
        assert words in result.stderr and not (tmp_path / "idx").exists()


def test_progress_bars_on_a_terminal_only(tmp_path: Path):
    import fcntl
    import pty
    import struct
    import termios

    bridge, budget, _ = write_stories(tmp_path / "news")
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a terminal 120 columns wide
    try:
        process = subprocess.Popen([str(BIN / "rag"), "add", str(bridge), str(budget), "--index", "idx"], cwd=tmp_path,
                                   stdin=side, stdout=subprocess.DEVNULL, stderr=side, env=os.environ)
        os.close(side)
        shown = b""
        while True:
            try:
                piece = os.read(main, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not piece:
                break
            shown += piece
        assert process.wait(timeout=300) == 0
    finally:
        os.close(main)
    text = shown.decode("utf-8", "replace")
    assert "Reading articles: 100%" in text and "2/2" in text and "Embedding chunks: 100%" in text
    assert "chunks/s" in text or "s/ chunk" in text  # the rate
    assert "<00:00" in text  # time left


def test_a_folder_is_read_without_following_links_out_of_it_and_an_empty_path_is_refused(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code is 4417, said the guard.", encoding="utf-8")
    news = tmp_path / "news"
    write_stories(news)
    (news / "shadow.txt").symlink_to(secret)
    (news / "bridge-again.txt").symlink_to(news / "bridge.txt")  # a link inside the folder is fine
    added = run("rag", "add", "news", "--index", "idx", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "skipped: news/shadow.txt links outside news" in added.stderr
    listing = run("rag", "list", "--json", "--index", "idx", cwd=tmp_path)
    assert sorted(entry["source"] for entry in json.loads(listing.stdout)) == [
        "news/bridge-again.txt", "news/bridge.txt", "news/budget.md", "news/festival.txt"]
    for command in ("add", "build"):
        empty = run("rag", command, "", "--index", "idx", cwd=tmp_path)
        assert empty.returncode == 2 and "an empty path was given" in empty.stderr
        assert_one_sentence_error(empty)


def test_titles_with_terminal_escapes_are_cleaned_before_they_are_stored_or_printed(tmp_path: Path,
                                                                                    bundled_index_dir: Path):
    from web import create_app

    shutil.copytree(bundled_index_dir, tmp_path / "idx")
    client = create_app({"INDEX_DIR": str(tmp_path / "idx")}).test_client()
    hostile = "a\u0000b\u001b[31mred\u202eevil\u0007"
    response = client.post("/api/documents?wait=1", json={"text": STORY_TEXT, "title": hostile})
    assert response.status_code == 201 and response.get_json()["title"] == "a b [31mredevil"
    (tmp_path / "long.txt").write_text("# " + "Headline " * 25_000 + "\n\n" + STORY_TEXT, encoding="utf-8")
    assert run("rag", "add", "long.txt", "--index", "idx", cwd=tmp_path).returncode == 0
    for command in ("list", "info"):
        shown = run("rag", command, "--index", "idx", cwd=tmp_path)
        assert shown.returncode == 0 and "a b [31mredevil" in shown.stdout
        assert not any(c in shown.stdout for c in "\x00\x1b\x07\u202e")
        assert max(len(line) for line in shown.stdout.splitlines()) < 450  # a 225 KB heading is cut to 300
    assert len(client.get("/api/health").get_data()) < 4000


STORY_TEXT = "The council said the ferry would restart in May, after repairs to the pier."


def test_unusable_files_and_folders_are_one_sentence_and_exit_7(tmp_path: Path, bundled_index_dir: Path):
    story = write_stories(tmp_path / "news")[0]
    (tmp_path / "plain-file").write_text("not a folder")
    shutil.copytree(bundled_index_dir, tmp_path / "locked")
    (tmp_path / "locked" / ".lock").unlink(missing_ok=True)
    (tmp_path / "locked" / ".lock").mkdir()  # the lock file can't be opened, as in a folder without write permission
    for index in ("plain-file", "locked"):
        result = run("rag", "add", str(story), "--index", index, cwd=tmp_path)
        assert result.returncode == 7, result.stderr
        assert_one_sentence_error(result)
    assert "File exists" in run("rag", "build", str(story), "--index", "plain-file", cwd=tmp_path).stderr


def test_ask_answers_when_the_cache_folder_cannot_be_written(tmp_path: Path, bundled_index_dir: Path):
    (tmp_path / "home-file").write_text("a file where the cache folder would be")
    result = run("ask", "--index", str(bundled_index_dir), "who chaired the Paris meeting?",
                 env={"RAG_CACHE_DIR": str(tmp_path / "home-file" / "cache")})
    assert result.returncode == 0, result.stderr
    assert "Carter" in result.stdout and "set RAG_CACHE_DIR to a writable folder" in result.stderr
