"""Progress of a long send: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Self


class Progress:
    """Counts items as they are sent and shows the count and the rate on stderr.

    With rich installed and stderr a terminal: a live bar. Otherwise one line per update
    at most every second (and a last one), which is what a log or a CI job wants.
    """

    def __init__(self, total: int, label: str) -> None:
        self._total = total
        self._label = label
        self._done = 0
        self._started = time.monotonic()
        self._last_line = 0.0
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if sys.stderr.isatty():
            try:
                from rich.progress import (  # optional: the `cli` extra
                    BarColumn,
                    MofNCompleteColumn,
                    TextColumn,
                    TimeElapsedColumn,
                )
                from rich.progress import Progress as RichProgress
            except ImportError:
                return self
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8.0f}/s"),
                TimeElapsedColumn(),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self._label, total=self._total, rate=0.0)
        return self

    def advance(self, count: int) -> None:
        """`count` more items are done."""
        self._done += count
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = self._done / elapsed
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done, rate=rate)
        elif time.monotonic() - self._last_line >= 1.0 or self._done >= self._total:
            self._last_line = time.monotonic()
            print(
                f"{self._label}: {self._done}/{self._total} items ({rate:.0f}/s)",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
