"""Web pages: the readable text of a saved news page, found by trafilatura.

Navigation, scripts, styles, comments and share bars are left out; the title
and paragraphs are kept, one blank line apart. The result is the article's
text: citations point into it, and the document view shows it.
"""
from __future__ import annotations

import logging

from .errors import ArticleError

PAGE_SUFFIXES = (".html", ".htm")

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
logging.getLogger("htmldate").setLevel(logging.CRITICAL)


def page_text(markup: str, name: str) -> str:
    """Return the title and main text of the HTML page ``markup``; raise ArticleError if it has none."""
    import trafilatura  # only pages need it

    document = trafilatura.bare_extraction(markup, with_metadata=True, include_comments=False,
                                           include_tables=False, include_images=False, include_links=False)
    lines = [line.strip() for line in (document.text or "").splitlines() if line.strip()] if document else []
    if not lines:
        raise ArticleError(f"{name} has no article text that could be found in its HTML.")
    title = " ".join((document.title or "").split())
    if title and lines[0] != title:
        lines.insert(0, title)
    return "\n\n".join(lines) + "\n"
