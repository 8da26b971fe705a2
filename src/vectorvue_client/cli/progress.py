"""Progress of a long command on stderr: a rich progress bar on a terminal, plain lines
otherwise (a log, a CI job), never on stdout, which holds the result.

The bar is transient (it leaves no trace once done): the command prints its own summary
after it. Plain lines come at most one a second (and the last one), so a log of a long
send stays readable. `quiet` (-q) shows nothing at all; `as_json` (--json, whose stderr
holds only JSON error objects) shows the bar but no plain line.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Final, Self

WAITS: Final = {
    "rate_limit": "for the gateway's rate limit",
    "retry": "before retrying",
}


class Progress:
    """Counts what is done (`advance`) out of `total` (None: not known in advance) and
    shows the count and the rate, and what it waits for (`waiting`).

    `after`: plain lines start only once this many are done (a small file is checked at
    once: nothing to report); the last line is printed only if one was."""

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        unit: str = "items",
        quiet: bool = False,
        as_json: bool = False,
        after: int = 0,
    ) -> None:
        self._total = total
        self._label = label
        self._unit = unit
        self._quiet = quiet
        self._plain = not (quiet or as_json)
        self._after = after
        self._done = 0
        self._started = time.monotonic()
        self._last_line: float | None = None  # when the last plain line was printed
        self._shown = 0  # the count it showed
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if sys.stderr.isatty() and not self._quiet:
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
                TextColumn(f"{self._unit} {{task.fields[rate]:>6.0f}}/s"),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                transient=True,
                console=_stderr_console(),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self._label, total=self._total, rate=0.0, note="")
        return self

    def advance(self, count: int) -> None:
        """`count` more are done."""
        self._done += count
        rate = self._done / max(time.monotonic() - self._started, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done, rate=rate, note="")
            return
        of = "" if self._total is None else f"/{self._total}"
        self._line(f"{self._done}{of} {self._unit} ({rate:.0f}/s)", last=self._done == self._total)

    def waiting(self, seconds: float, reason: str) -> None:
        """A wait of `seconds` starts, for `reason` (a key of WAITS)."""
        text = f"waiting {seconds:.1f} s {WAITS.get(reason, reason)}"
        if self._bar is not None:
            self._bar.update(self._task, note=text)
            return
        of = "" if self._total is None else f"/{self._total}"
        # A wait of a second or more is always shown: it is what the operator waits on.
        self._line(f"{self._done}{of} {self._unit}; {text}", last=seconds >= 1.0)

    def _line(self, text: str, *, last: bool) -> None:
        """Print `text` if a second has passed since the last line, or if it is `last`."""
        now = time.monotonic()
        if not self._plain or (self._last_line is None and self._done < self._after):
            return
        if last or self._last_line is None or now - self._last_line >= 1.0:
            self._last_line = now
            self._shown = self._done
            print(f"{self._label}: {text}", file=sys.stderr, flush=True)

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
        elif self._last_line is not None and self._shown != self._done:
            # The last count, when the lines stopped short of it (the end of a file whose
            # length was not known, an interrupted send).
            of = "" if self._total is None else f"/{self._total}"
            self._line(f"{self._done}{of} {self._unit}", last=True)


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
