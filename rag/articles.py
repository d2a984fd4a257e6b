"""Articles: read text files into ``Article`` records with a title and an indexable body.

The article text is the file decoded as UTF-8 (a leading byte-order mark
dropped, nothing else changed: ``\\r\\n``, non-breaking spaces and curly quotes
stay), so every offset we hand out can be highlighted in the original.
Trailing site boilerplate ("Share:", "More In Home") is kept in ``text`` but
left outside ``body``, so it is never indexed or cited. This module does not
split sentences or chunk.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .cleaning import clean_title
from .errors import ArticleError
from .webpage import PAGE_SUFFIXES, page_text

SUFFIXES = (".txt", ".md", ".markdown") + PAGE_SUFFIXES
BUNDLED_NAME = "paris-coalition-meeting.txt"
MEGABYTE = 1024 * 1024
MAX_MEGABYTES = 2

_BOILERPLATE = re.compile(
    r"^(share( this)?|tags?|related( articles| stories)?|advertisement|read more|more in\b.*|"
    r"follow us.*|subscribe.*|sign up.*|copyright.*|©.*|all rights reserved.*|print|email|"
    r"comments?|back to top)\W*$",
    re.IGNORECASE,
)
_SENTENCE_END = tuple('.!?"”’)')


@dataclass(frozen=True)
class Article:
    """One article: ``text`` as read, and the ``[body_start, body_end)`` part worth indexing."""

    source: str
    title: str
    text: str
    body_start: int
    body_end: int

    @property
    def digest(self) -> str:
        """Return the sha256 of the text, used to tell whether an index is stale."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def doc_id(self) -> str:
        """Return a short stable id for this source, safe to put in a URL."""
        return hashlib.sha1(self.source.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def make_article(text: str, source: str, file_name: str | None = None) -> Article:
    """Build an Article from text already in memory, finding its title and body."""
    title = clean_title(_title_from_text(text) or "") or clean_title(_title_from_name(file_name or source))
    start, end = _body_span(text)
    return Article(source=source, title=title, text=text, body_start=start, body_end=end)


def read_article(path: Path, source: str | None = None, max_megabytes: int = MAX_MEGABYTES) -> Article:
    """Read one article file in one pass; raise ArticleError if it is missing, not a file, too big, binary or empty.

    The text (and so the digest) is what this one read saw, even if the file
    changes or disappears while it is read; the next build then notices.
    """
    path = Path(path)
    if path.is_dir():
        raise ArticleError(f"{path} is a folder; give a file, or use `rag build` for folders.")
    limit = max_megabytes * MEGABYTE
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:  # a named pipe must not hang us
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise ArticleError(f"{path} is not a regular file (a pipe or a device); give a text file.")
            _check_size(path, status.st_size, max_megabytes)
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise ArticleError(f"There is no file at {path}.") from None
    except OSError as error:
        raise ArticleError(f"{path} could not be read ({error.strerror or error}).") from None
    return article_from_bytes(data, str(path), source or display_path(path), path.name, max_megabytes)


def article_from_bytes(data: bytes, name: str, source: str, file_name: str,
                       max_megabytes: int = MAX_MEGABYTES) -> Article:
    """Build an Article from the bytes of a file called ``file_name`` (a saved page if .html/.htm).

    ``name`` is how errors refer to it; raise ArticleError if it is too big, binary or empty.
    """
    _check_size(name, len(data), max_megabytes)
    text = decode_text(data, name)
    if Path(file_name).suffix.lower() in PAGE_SUFFIXES and text.strip():
        text = page_text(text, name)
    if not text.strip():
        raise ArticleError(f"{name} is empty.")
    return make_article(text, source, file_name)


def _check_size(path: Path | str, size: int, max_megabytes: int) -> None:
    """Refuse a file over the limit before reading it: a huge article would take hours to embed."""
    if size > max_megabytes * MEGABYTE:
        raise ArticleError(f"{path} is {size / MEGABYTE:.1f} MB, over the {max_megabytes} MB limit for one article; "
                           "split it, or raise the limit with RAG_MAX_ARTICLE_MB.")


def decode_text(data: bytes, name: str) -> str:
    """Decode file bytes as UTF-8 (or UTF-16 with a BOM); raise ArticleError for binary data."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ArticleError(f"{name} is not readable UTF-16 text.") from None
    if b"\x00" in data[:65536]:
        raise ArticleError(f"{name} looks like a binary file, not a text article.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    if "\ufffd" in text or controls > len(text) // 100:
        raise ArticleError(f"{name} is not UTF-8 text; save it as UTF-8 and try again.")
    return text


def load_articles(paths: Iterable[Path], on_skip: Callable[[str], None] | None = None,
                  max_megabytes: int = MAX_MEGABYTES) -> list[Article]:
    """Read files and folders of ``.txt``/``.md``/``.html`` articles, in a stable order.

    Files named directly must be readable; unreadable files found inside a
    folder (too large, binary, or gone since the folder was listed) are
    reported through ``on_skip`` and left out.
    """
    articles: list[Article] = []
    seen: set[str] = set()
    for file, named in article_files(paths, on_skip):
        try:
            article = read_article(file, max_megabytes=max_megabytes)
        except ArticleError as error:
            if named:
                raise
            if on_skip:
                on_skip(str(error))
            continue
        if article.source not in seen:
            seen.add(article.source)
            articles.append(article)
    if not articles:
        raise ArticleError("No readable articles were given.")
    return articles


def article_files(paths: Iterable[Path], on_skip: Callable[[str], None] | None = None) -> list[tuple[Path, bool]]:
    """List the article files of ``paths`` in a stable order, each with whether it was named directly.

    A file found in a folder that is a symlink to somewhere outside that folder is left out (told to
    ``on_skip``): adding a folder never reads ``/etc/shadow`` through a link. A file named directly is read.
    """
    files: list[tuple[Path, bool]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list(_walk(path))
            if not found:
                raise ArticleError(f"No {', '.join(SUFFIXES)} articles were found in {path}.")
            inside = path.resolve()
            for file in found:
                if file.is_symlink() and not file.resolve().is_relative_to(inside):
                    if on_skip:
                        on_skip(f"{file} links outside {path}; only files inside the folder are read.")
                    continue
                files.append((file, False))
        else:
            if path.exists() and path.suffix.lower() not in SUFFIXES:
                raise ArticleError(f"{path} is not a {'/'.join(SUFFIXES)} file.")
            files.append((path, True))
    return files


def bundled_article() -> Article:
    """Return the article shipped inside the package."""
    data = resources.files("rag").joinpath("data", BUNDLED_NAME).read_bytes()
    return make_article(decode_text(data, BUNDLED_NAME), BUNDLED_NAME)


def display_path(path: Path) -> str:
    """Return ``path`` relative to the working directory where possible, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _walk(folder: Path) -> Iterable[Path]:
    """Yield article files below ``folder``, sorted, not following symlinked folders."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                yield Path(root) / name


def _title_from_text(text: str) -> str | None:
    """Return the first line if it looks like a heading: '# Title', or short with no sentence end."""
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()
    if first.startswith("#"):
        heading = first.lstrip("#").strip()
        return heading or None
    words = first.split()
    if 0 < len(words) <= 14 and not first.endswith(_SENTENCE_END + (",", ";", ":")) and len(first) <= 120:
        rest = text.lstrip("\ufeff \t\r\n")[len(first):]
        if not rest.strip() or rest.lstrip(" \t\r").startswith("\n"):
            return first
    return None


def _title_from_name(name: str) -> str:
    """Example: 'paris-coalition-meeting.txt' -> 'Paris coalition meeting'."""
    stem = Path(name).stem.replace("_", " ").replace("-", " ").strip() or "Untitled"
    return stem[0].upper() + stem[1:]


def _body_span(text: str) -> tuple[int, int]:
    """Return the span of ``text`` without leading blanks and trailing boilerplate lines."""
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    lines = list(re.finditer(r"[^\n]*", text[start:end]))
    dropped = 0
    for match in reversed([m for m in lines if m.group().strip()]):
        line = match.group().strip()
        if dropped >= 6 or not _is_boilerplate(line):
            break
        dropped += 1
        end = start + match.start()
    end = start + len(text[start:end].rstrip())
    if end <= start:
        return start, len(text.rstrip())
    return start, end


def _is_boilerplate(line: str) -> bool:
    """A short trailing line with no sentence end, or a known site phrase; a labelled fact ("Att: 47,111", "Ref:
    Anthony Taylor", a match report's last lines) or a line with a number is the article's own."""
    if _BOILERPLATE.match(line):
        return True
    if _LABELLED.match(line) or any(char.isdigit() for char in line):
        return False
    return len(line.split()) <= 3 and not line.endswith(_SENTENCE_END)


_LABELLED = re.compile(r"^[A-Z][\w .'-]{0,30}:\s*\w")
