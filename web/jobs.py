"""Jobs: article adds that run in a thread of this process, with their state in small JSON files.

An add can take minutes (a long article), longer than a worker may spend on one request, so
``POST /api/documents`` starts a job and answers at once; the page polls the job. The state
lives in ``<index>/.jobs/<id>.json``, so any worker process can answer a poll. A job whose
process died (a deploy, a kill) reads as interrupted; the index is then as it was before it.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import RagError
from rag.progress import Progress

KEEP_SECONDS = 3600
_ID = re.compile(r"^[0-9a-f]{16}$")


class Busy(RagError):
    """Too many adds are running in this process."""

    http_status = 503


class Jobs:
    """Start adds in threads of this process (at most ``limit`` at once) and read any worker's job state."""

    def __init__(self, folder: Path, limit: int, log: Callable[[str], None]) -> None:
        self.folder = folder
        self.limit = limit
        self.log = log
        self._running = 0
        self._lock = threading.Lock()

    def start(self, title: str, work: Callable[[Progress], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work(progress)`` in a new thread; return the job's first state."""
        with self._lock:
            if self._running >= self.limit:
                raise Busy(f"{self._running} articles are being added already; try again in a minute.")
            self._running += 1
        self._prune()
        state = {"id": secrets.token_hex(8), "state": "queued", "title": title, "stage": "queued", "done": 0,
                 "total": 0, "document": None, "error": None, "pid": os.getpid(), "started": time.time()}
        self._write(state)
        threading.Thread(target=self._run, args=(state, work), name=f"add-{state['id']}").start()
        return _public(state)

    def read(self, job_id: str) -> dict[str, Any] | None:
        """Return the state of job ``job_id``, or None if there is no such job."""
        if not _ID.match(job_id):
            return None
        try:
            state = json.loads((self.folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if state["state"] in ("queued", "running") and not _alive(state["pid"]):
            state.update(state="failed", error="The server stopped while the article was being added; "
                                               "the index is as it was, so add it again.")
        return _public(state)

    def _run(self, state: dict[str, Any], work: Callable[[Progress], dict[str, Any]]) -> None:
        last = 0.0

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal last
            if stage != state["stage"] or done >= total or time.monotonic() - last > 0.25:
                last = time.monotonic()
                state.update(state="running", stage=stage, done=done, total=total)
                self._write(state)

        try:
            state.update(state="running", stage="starting")
            self._write(state)
            state.update(state="done", stage="done", document=work(progress))
        except RagError as error:
            state.update(state="failed", error=str(error))
        except Exception as error:  # noqa: BLE001 - any failure is reported on the job, and the index is unchanged
            self.log(f"Adding {state['title']!r} failed: {type(error).__name__}: {error}")
            state.update(state="failed", error="Adding the article failed on the server; the error was logged, "
                                               "and the index is as it was.")
        finally:
            self._write(state)
            with self._lock:
                self._running -= 1

    def _write(self, state: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{state['id']}.{threading.get_ident()}.tmp"
        staging.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        os.replace(staging, self.folder / f"{state['id']}.json")

    def _prune(self) -> None:
        """Delete the files of jobs that ended over an hour ago."""
        cutoff = time.time() - KEEP_SECONDS
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass


def _public(state: dict[str, Any]) -> dict[str, Any]:
    return {key: state[key] for key in ("id", "state", "title", "stage", "done", "total", "document", "error")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
