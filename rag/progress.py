"""Progress: how long work reports how far it got, and the terminal bars that show it.

Work calls a ``Progress`` with a stage name, how many items are done and how many there are
(``progress("chunks", 128, 400)``). ``terminal_progress`` draws one tqdm bar per stage with
its rate and time left, only when the stream is a terminal; anywhere else it returns None and
nothing extra is printed.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import IO

Progress = Callable[[str, int, int], None]

STAGES = {"articles": ("Reading articles", "article"), "chunks": ("Embedding chunks", "chunk"),
          "sentences": ("Embedding sentences", "sentence")}


def counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    """Return a callback that adds up finished items of ``stage`` and reports the running count."""
    if progress is None or total == 0:
        return None
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(stage, done, total)

    return advance


class TerminalProgress:
    """One tqdm bar per stage on ``stream``, each closed when its stage is done."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bars: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            label, unit = STAGES.get(stage, (stage.capitalize(), "item"))
            bar = self.bars[stage] = tqdm(total=total, desc=label, unit=f" {unit}s", file=self.stream,
                                          dynamic_ncols=True, leave=True, mininterval=0.2)
        assert isinstance(bar, tqdm)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def terminal_progress(stream: IO[str]) -> Progress | None:
    """Return progress bars on ``stream`` when it is a terminal, else None (nothing extra is printed)."""
    return TerminalProgress(stream) if stream.isatty() else None
