"""Clock from the process: monotonic time, wall time, and an interruptible sleep."""

from __future__ import annotations

import threading
import time


class SystemClock:
    """The real clock. `sleep` waits on the sleeper's cancel token, so that cancelling a
    send (a worker stopped, a client closed) ends its backoff at once instead of after it."""

    def monotonic(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def time(self) -> float:
        """time.time()."""
        return time.time()

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Wait `seconds`, or less once `cancel` is set."""
        if seconds > 0:
            cancel.wait(seconds)
