"""Cleaning: the one step every text from outside passes before it is used or stored.

Titles, questions and conversation turns become one line with no control characters (NUL,
ESC, ...), no invisible format characters (bidi overrides, zero-width marks; a zero-width
joiner stays, emoji need it) and collapsed spaces, cut to a length limit. An article's own
text is never changed (every offset we hand out points into it as given), only refused when
it holds a NUL. A lone surrogate (invalid Unicode, e.g. ``"\\udc00"`` from JSON) is refused
everywhere with one sentence. ``shown`` cleans what is printed of an index made before this.
"""
from __future__ import annotations

import unicodedata

from .errors import InputError

TITLE_CHARS = 300
_SPACE = ("Cc", "Zl", "Zp")
_DROPPED = ("Cf", "Cs", "Co")
_JOINER = "\u200d"


def refuse_surrogates(text: str, what: str) -> str:
    """Return ``text``; raise InputError if it holds a lone surrogate (it can't be stored or encoded as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"The {what} is not valid Unicode (it holds a lone surrogate); send UTF-8 text.") from None
    return text


def one_line(text: str) -> str:
    """Return ``text`` on one line without control or invisible format characters, spaces collapsed.

    Example: 'a\\u0000b \\u001b[31mred\\u202eevil' -> 'a b [31mredevil'
    """
    kept = "".join(" " if unicodedata.category(c) in _SPACE else c for c in text
                   if unicodedata.category(c) not in _DROPPED or c == _JOINER)
    return " ".join(kept.split())


def clean_title(title: str, limit: int = TITLE_CHARS) -> str:
    """Return a title fit to store and print: valid, one clean line, at most ``limit`` characters."""
    if not isinstance(title, str):
        raise InputError(f"The title must be text of at most {limit} characters.")
    cleaned = one_line(refuse_surrogates(title, "title"))
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1].rstrip() + "\u2026"


def clean_turn(text: str, what: str) -> str:
    """Return a question or conversation turn as one clean line; raise InputError for invalid Unicode."""
    return one_line(refuse_surrogates(text, what))


def check_article_text(text: str) -> str:
    """Return pasted article text unchanged; raise InputError for invalid Unicode or a NUL (refused in files too)."""
    refuse_surrogates(text, "article text")
    if "\x00" in text:
        raise InputError("The article text holds a NUL character, so it is not plain text; paste the article's text.")
    return text


def shown(text: str) -> str:
    """Return ``text`` safe to print on a terminal, whatever an older index stored."""
    return one_line(text.encode("utf-8", "replace").decode("utf-8"))
