"""Our own exceptions: each carries one plain sentence that says what is wrong and what to do.

Front doors (CLI, web) turn these into an exit code or an HTTP status; nothing else
in the library raises for bad input.
"""
from __future__ import annotations


class RagError(Exception):
    """Base class; ``str(error)`` is a one-sentence message for a person."""

    exit_code = 1
    http_status = 400


class InputError(RagError):
    """A question, option or argument is not usable."""

    exit_code = 2


class MissingArticleError(InputError):
    """No article in the index has the id, source or path given."""

    http_status = 404


class FetchError(RagError):
    """A web page could not be fetched: the site did not answer, answered with an error, or took too long."""

    exit_code = 3
    http_status = 502


class ArticleError(RagError):
    """An article file is missing, unreadable, binary or empty."""

    exit_code = 3


class BrokenIndexError(RagError):
    """An index is missing, damaged, from another format or built with another model."""

    exit_code = 4
    http_status = 503


class OldIndexError(BrokenIndexError):
    """An index written by an earlier version; ``sources`` are the articles its manifest lists."""

    def __init__(self, message: str, sources: list[str]) -> None:
        super().__init__(message)
        self.sources = sources


class ModelError(RagError):
    """The embedding model could not be loaded offline."""

    exit_code = 5
    http_status = 503


class DatabaseError(RagError):
    """The database of a Postgres store is unreachable, lacks pgvector, or holds a newer schema."""

    exit_code = 6
    http_status = 503


def damaged_index(where: object, problem: str) -> BrokenIndexError:
    """Return the one-sentence error for an unusable index folder, with the command that recovers it."""
    return BrokenIndexError(f"The index at {where} {problem}; run `rag build PATH... --index {where} --force`.")
