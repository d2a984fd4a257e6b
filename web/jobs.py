"""Jobs: article adds that run in a thread of this process, with their state in small JSON files.

An add can take minutes (a long article), longer than a worker may spend on one request, so
``POST /api/documents`` starts a job and answers at once; the page polls the job. The state
lives in ``<index>/.jobs/<id>.json``, so any worker process can answer a poll. A job whose
process died (a deploy, a kill) reads as interrupted; the index is then as it was before it.
"""
from __future__ import annotations

import contextlib
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
STAGING_SECONDS = 60  # a staging file older than this was left by a write that failed
_LOGGED = ("Adding the article failed on the server; the error was logged, and the index is as it was.")
_ID = re.compile(r"^[0-9a-f]{16}$")


class Busy(RagError):
    """Too many adds are running in this process."""

    http_status = 503


class JobStoreError(RagError):
    """The job's state could not be written (a full or read-only disk); nothing was started."""

    http_status = 503


class Jobs:
    """Start adds in threads of this process (at most ``limit`` at once) and read any worker's job state.

    A slot taken in ``start`` is given back on every path (``try``/``finally``). A job's end is
    never lost: if its file can't be written (a full disk), this process keeps the end in memory
    and leaves a zero-byte ``<id>.done`` or ``<id>.failed`` marker (a name needs no free blocks),
    which any worker reads.
    """

    def __init__(self, folder: Path, limit: int, log: Callable[[str], None]) -> None:
        self.folder = folder
        self.limit = limit
        self.log = log
        self._running = 0
        self._lock = threading.Lock()
        self._ended: dict[str, dict[str, Any]] = {}

    def start(self, title: str, digest: str, work: Callable[[Progress], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work(progress)`` in a new daemon thread; return the job's first state.

        ``digest`` (the article's sha256) lets a later read tell whether a job whose process died had
        already committed its article.
        """
        with self._lock:
            if self._running >= self.limit:
                raise Busy(f"{self._running} articles are being added already; try again in a minute.")
            self._running += 1
        try:
            self._prune()
            state = {"id": secrets.token_hex(8), "state": "queued", "title": title, "stage": "queued", "done": 0,
                     "total": 0, "document": None, "error": None, "pid": os.getpid(), "started": time.time(),
                     "digest": digest}
            try:
                self._write(state)
            except OSError as error:
                raise JobStoreError(f"The server could not record the add ({error.strerror or error}); nothing "
                                    "was added, try again when the server has disk space.") from None
            first = _public(state)
            threading.Thread(target=self._run, args=(state, work), name=f"add-{state['id']}", daemon=True).start()
        except BaseException:
            self._release()
            raise
        return first

    def read(self, job_id: str, landed: Callable[[str], dict[str, Any] | None] | None = None
             ) -> dict[str, Any] | None:
        """Return the state of job ``job_id``, or None if there is no such job.

        A job whose process died before it ended reads as done when ``landed(digest)`` finds its
        article in the index (the kill came after the commit), else as failed.
        """
        if not _ID.match(job_id):
            return None
        if job_id in self._ended:
            return _public(self._ended[job_id])
        try:
            state = json.loads((self.folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for end in ("done", "failed"):
            if state["state"] in ("queued", "running") and (self.folder / f"{job_id}.{end}").exists():
                state.update(state=end, stage=end, error=None if end == "done" else _LOGGED)
        if state["state"] in ("queued", "running") and not _alive(state["pid"]):
            document = landed(state.get("digest", "")) if landed else None
            if document is not None:
                state.update(state="done", stage="done", document=document)
            else:
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
                with contextlib.suppress(OSError):  # progress is a courtesy; the end is what must land
                    self._write(state)

        try:
            state.update(state="running", stage="starting")
            with contextlib.suppress(OSError):
                self._write(state)
            state.update(state="done", stage="done", document=work(progress))
        except RagError as error:
            state.update(state="failed", error=str(error))
        except BaseException as error:  # noqa: BLE001 - any failure is reported on the job, and the index is unchanged
            self.log(f"Adding job {state['id']} failed: {type(error).__name__}")  # no title: no body text in logs
            state.update(state="failed", error=_LOGGED)
        finally:
            try:
                self._finish(state)
            finally:
                self._release()

    def _finish(self, state: dict[str, Any]) -> None:
        """Record the job's end so that it can't be lost: its file, else memory and a zero-byte marker."""
        try:
            self._write(state)
            return
        except OSError:
            self._ended[state["id"]] = dict(state)
        try:
            os.close(os.open(self.folder / f"{state['id']}.{state['state']}", os.O_CREAT | os.O_WRONLY, 0o644))
        except OSError as error:
            self.log(f"Adding job {state['id']} ended {state['state']}, but its end could not be recorded "
                     f"({type(error).__name__}); other workers read it as interrupted.")

    def _release(self) -> None:
        with self._lock:
            self._running -= 1

    def _write(self, state: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".{state['id']}.{threading.get_ident()}.tmp"
        try:
            staging.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
            os.replace(staging, self.folder / f"{state['id']}.json")
        except OSError:
            with contextlib.suppress(OSError):
                staging.unlink()
            raise

    def _prune(self) -> None:
        """Delete the files of jobs that ended over an hour ago, and staging files left by a failed write."""
        if not self.folder.is_dir():
            return
        now = time.time()
        for path in self.folder.iterdir():
            cutoff = now - (STAGING_SECONDS if path.name.endswith(".tmp") else KEEP_SECONDS)
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
