"""Builder: article adds run in a child process of the web worker, so the worker's memory stays flat.

An add loads torch and the embedding model and builds a new index version: hundreds of megabytes
that a web worker would keep for good (276 -> 915 MB after one 60-byte add). Here one child per web
process, started (spawn, never a fork of a threaded worker) on the first add, does the work. It
keeps the model while adds keep coming and exits by itself after ``idle`` seconds without one,
giving all of it back. Adds go to it one at a time (they take the index's build lock anyway). If
it dies mid-add (killed, out of memory) the add fails with one sentence, the index is as it was,
and the next add starts a new child.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.articles import Article
from rag.errors import RagError
from rag.library import Entry
from rag.progress import Progress
from rag.settings import Settings

IDLE_SECONDS = 60.0
_MARGIN = 2.0  # a child this close to its idle exit is replaced rather than trusted with a new add


class BuilderStopped(RagError):
    """The builder process ended in the middle of an add."""

    http_status = 503


class Builder:
    """Send adds to this process's builder child; start it when needed."""

    def __init__(self, idle: float = IDLE_SECONDS) -> None:
        self.idle = idle
        self._lock = threading.Lock()
        self._child: Any = None
        self._connection: Any = None
        self._last = 0.0

    def add(self, articles: Sequence[Article], folder: Path, settings: Settings, keep_both: bool,
            progress: Progress | None = None) -> tuple[list[Entry], list[Entry]]:
        """Add ``articles`` to the index in ``folder`` in the child; return the entries added and left unchanged."""
        with self._lock:
            connection = self._ready()
            try:
                connection.send((list(articles), str(folder), settings, keep_both))
                while True:
                    kind, payload = connection.recv()
                    if kind == "progress":
                        if progress:
                            progress(*payload)
                    elif kind == "done":
                        return payload
                    else:
                        raise _error(*payload)
            except (EOFError, OSError, BrokenPipeError):
                self._stop()
                raise BuilderStopped("The process that builds the index stopped during the add; the index is "
                                     "as it was, so add the article again.") from None
            finally:
                self._last = time.monotonic()

    def pid(self) -> int | None:
        """Return the child's process id while it runs (for tests and benchmarks), else None."""
        return self._child.pid if self._child is not None and self._child.is_alive() else None

    def _ready(self) -> Any:
        if self._child is not None and (not self._child.is_alive()
                                        or time.monotonic() - self._last > self.idle - _MARGIN):
            self._stop()
        if self._child is None:
            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            self._child = context.Process(target=serve, args=(child, self.idle), name="rag-builder", daemon=True)
            self._child.start()
            threading.Thread(target=self._child.join, name="rag-builder-reaper", daemon=True).start()  # no zombie
            child.close()
            self._connection = parent
        return self._connection

    def _stop(self) -> None:
        if self._child is not None:
            self._connection.close()
            self._child.join(timeout=5)
            if self._child.is_alive():
                self._child.kill()
                self._child.join()
        self._child = self._connection = None


def serve(connection: Any, idle: float) -> None:
    """Run in the child: add what arrives, one at a time; return after ``idle`` seconds without work."""
    from rag.embedder import Embedder
    from rag.library import add_articles

    models: dict[tuple[str | None, int], Embedder] = {}
    while connection.poll(idle):
        try:
            articles, folder, settings, keep_both = connection.recv()
        except (EOFError, OSError):
            return  # the web worker is gone

        def model(settings: Settings = settings) -> Embedder:
            key = (settings.model, settings.threads)
            if key not in models:
                models[key] = Embedder(settings.model, settings.threads)
            return models[key]

        def progress(stage: str, done: int, total: int) -> None:
            connection.send(("progress", (stage, done, total)))

        try:
            change = add_articles(articles, Path(folder), model, settings, keep_both=keep_both, progress=progress)
            connection.send(("done", (list(change.added), list(change.unchanged))))
        except RagError as error:
            connection.send(("error", (str(error), error.http_status, error.exit_code)))
        except Exception as error:  # noqa: BLE001 - reported to the job, which logs the kind; the index is as it was
            connection.send(("error", (f"Adding the article failed in the builder ({type(error).__name__}); "
                                       "the index is as it was.", 500, 1)))


def _error(message: str, status: int, exit_code: int) -> RagError:
    error = RagError(message)
    error.http_status, error.exit_code = status, exit_code
    return error
