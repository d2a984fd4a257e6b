from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.articles import MEGABYTE, bundled_article, load_articles, make_article, read_article
from rag.errors import ArticleError, InputError
from rag.settings import Settings

DATA = Path(__file__).parent / "data"

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "paris-coalition-meeting.txt"


def test_bundled_article_is_the_shared_text_unchanged():
    article = bundled_article()
    data = (Path(__file__).parents[1] / "rag" / "data" / "paris-coalition-meeting.txt").read_bytes()
    assert article.text == data.decode("utf-8")
    if SHARED.exists():
        assert data == SHARED.read_bytes()
    assert "\u00a0" in article.text


def test_bundled_article_leaves_site_boilerplate_out_of_the_body():
    article = bundled_article()
    body = article.text[article.body_start:article.body_end]
    assert body.endswith('our men and women face."')
    assert "Share:" not in body and "More In Home" not in body
    assert article.title == "Paris coalition meeting"


@pytest.mark.parametrize("text, title", [
    ("# Big news\n\nSomething happened today.", "Big news"),
    ("Ministers meet in Paris\n\nThe ministers met today.", "Ministers meet in Paris"),
    ("The ministers met today in Paris, officials said.\n\nMore text.", "Some file"),
])
def test_title_comes_from_a_heading_or_the_file_name(text: str, title: str):
    assert make_article(text, "some-file.txt").title == title


def test_offsets_refer_to_the_file_text(tmp_path: Path):
    raw = "\ufeffTitle line\r\n\r\nFirst sentence here.\u00a0Second \u201cquoted\u201d one \u2014 yes.\r\n"
    path = tmp_path / "a.txt"
    path.write_bytes(raw.encode("utf-8"))
    article = read_article(path)
    assert article.text == raw.removeprefix("\ufeff")
    assert "\r\n" in article.text
    assert article.text[article.body_start:article.body_end].endswith("yes.")


def test_utf16_and_latin1_files_are_read(tmp_path: Path):
    (tmp_path / "u16.txt").write_bytes("Caf\u00e9 news today.".encode("utf-16"))
    (tmp_path / "latin.txt").write_bytes("Caf\u00e9 news today.".encode("latin-1"))
    assert read_article(tmp_path / "u16.txt").text == "Caf\u00e9 news today."
    assert read_article(tmp_path / "latin.txt").text == "Caf\u00e9 news today."


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \n\n  ", "empty"),
    (b"\x00\x01\x02binary\x00" * 10, "binary"),
])
def test_unusable_files_are_refused_with_one_sentence(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=message):
        read_article(path)


def test_missing_file_and_wrong_suffix(tmp_path: Path):
    with pytest.raises(ArticleError, match="no file"):
        load_articles([tmp_path / "nope.txt"])
    (tmp_path / "x.pdf").write_text("hello")
    with pytest.raises(ArticleError, match="not a"):
        load_articles([tmp_path / "x.pdf"])


def test_folders_are_walked_in_order_and_bad_files_skipped(tmp_path: Path):
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.md").write_text("# B\n\nSecond story.", encoding="utf-8")
    (folder / "a.txt").write_text("First story.", encoding="utf-8")
    (folder / "sub" / "c.txt").write_text("Third story.", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "notes.json").write_text("{}", encoding="utf-8")
    (folder / "sub" / "loop").symlink_to(folder, target_is_directory=True)
    os.mkfifo(folder / "pipe.txt")  # opening a named pipe for reading would wait for a writer forever
    (folder / "null.txt").symlink_to("/dev/null")
    skipped: list[str] = []
    articles = load_articles([folder], on_skip=skipped.append)
    assert [a.source for a in articles] == ["news/a.txt", "news/b.md", "news/sub/c.txt"]
    assert len(skipped) == 3 and "empty" in skipped[0]
    assert [message.split(" ", 1)[1] for message in skipped[1:]] == [
        "is not a regular file (a pipe or a device); give a text file."] * 2


def test_folder_without_articles_is_an_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArticleError, match="No .txt"):
        load_articles([tmp_path / "empty"])


def test_one_word_article_keeps_its_body():
    article = make_article("Hello", "one.txt")
    assert article.text[article.body_start:article.body_end] == "Hello"


def test_a_saved_web_page_is_read_as_its_article_text():
    article = read_article(DATA / "harbour-page.html")
    assert article.title == "Harbour tunnel approved after six-hour debate"
    body = article.text[article.body_start:article.body_end]
    assert "approved the harbour tunnel on Thursday night by 31 votes to 12" in body
    assert "\u201cthe most important decision" in body  # entities decoded
    for left_out in ("alert", "dataLayer", "font-family", "Subscribe now", "cheap flights", "Most read", "NewsArticle",
                     "All rights reserved", "<p", "&ldquo;"):
        assert left_out not in article.text


def test_a_web_page_without_article_text_is_refused_with_one_sentence(tmp_path):
    page = tmp_path / "empty.html"
    page.write_text("<html><head><script>alert(1)</script><style>p{}</style></head><body><script>x()</script></body></html>",
                    encoding="utf-8")
    with pytest.raises(ArticleError, match=r"empty\.html has no article text that could be found in its HTML\.$"):
        read_article(page)


def test_articles_over_the_size_limit_are_refused_with_how_to_raise_it(tmp_path: Path):
    path = tmp_path / "long.txt"
    path.write_text("A sentence of news. " * (MEGABYTE * 3 // 40), encoding="utf-8")  # 1.5 MB
    with pytest.raises(ArticleError, match=r"^\S+long.txt is 1.5 MB, over the 1 MB limit for one article; split it, "
                                           r"or raise the limit with RAG_MAX_ARTICLE_MB.$"):
        read_article(path, max_megabytes=1)
    assert len(read_article(path, max_megabytes=2).text) == path.stat().st_size
    assert Settings.from_env({"RAG_MAX_ARTICLE_MB": "5"}).max_article_mb == 5
    assert Settings().max_article_mb == 2
    with pytest.raises(InputError, match="RAG_MAX_ARTICLE_MB"):
        Settings.from_env({"RAG_MAX_ARTICLE_MB": "0"})


@given(text=st.text(), encoding=st.sampled_from(["utf-8", "utf-16"]))
@example(text="\ufeff\ufeffTitle\r\n\r\nBody.\u00a0Share:", encoding="utf-8")
@example(text="\u2028\u0085 x \x0b", encoding="utf-16")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_unicode_file_is_read_verbatim_or_refused_with_one_sentence(tmp_path: Path, text: str, encoding: str):
    path = tmp_path / "any.txt"
    path.write_bytes(text.encode(encoding))
    expected = text.removeprefix("\ufeff") if encoding == "utf-8" else text
    try:
        article = read_article(path)
    except ArticleError as error:
        message = str(error)
        assert message.endswith(".") and "\n" not in message and "Traceback" not in message
        assert not expected.strip() or (encoding == "utf-8" and "\x00" in text)
        return
    assert article.text == expected
    body = article.text[article.body_start:article.body_end]
    assert 0 <= article.body_start <= article.body_end <= len(article.text)
    assert body and body == body.strip()
    assert article.title and "\n" not in article.title


def test_a_match_reports_last_lines_are_the_articles_own_not_boilerplate():
    text = ("United beat Chelsea 2-1 on Saturday.\n\nScorers: Ronaldo 12, Giggs 80\n\nAtt: 47,111\n\n"
            "Ref: Anthony Taylor\n\nShare\n\nMore In Sport")
    article = make_article(text, "match.txt")
    assert article.text[article.body_start:article.body_end].endswith("Ref: Anthony Taylor")
