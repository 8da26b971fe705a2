"""Clock from the process: monotonic time, wall time, and an interruptible sleep."""

from __future__ import annotations

import threading
import time


class SystemClock:
    """The real clock. `sleep` waits on an Event so that `interrupt()` (close, shutdown)
    ends a backoff at once instead of after it."""

    def __init__(self) -> None:
        self._wake = threading.Event()

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def time(self) -> float:
        """time.time()."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less if interrupted."""
        if seconds > 0:
            self._wake.wait(seconds)

    def interrupt(self) -> None:
        """End every current and future sleep at once (used on close)."""
        self._wake.set()
