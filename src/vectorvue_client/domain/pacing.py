"""Client-side pacing: never more than `limit` requests in any `window` seconds.

The telemetry gateway allows 120 requests per operator per CALENDAR minute and answers
429 beyond. A sliding window of 60 s is stricter than any calendar minute (every calendar
minute is a 60 s window), so it keeps us under the limit whatever the skew between our
clock and the gateway's. Pure: the caller passes the time in and does the waiting.
"""

from __future__ import annotations

from collections import deque
from typing import Final

_MARGIN: Final = 1e-3  # seconds


class SlidingWindowLimiter:
    """Counts sends over the last `window` seconds (of a monotonic clock)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self._limit = limit
        self._window = window
        self._sent: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait from `now` before one more send fits the window (0 if it fits)."""
        self._forget(now)
        if len(self._sent) < self._limit:
            return 0.0
        # The oldest send in the window must leave it first; the margin keeps float
        # rounding in the caller's clock from landing a hair inside the window.
        return max(0.0, self._sent[0] + self._window - now) + _MARGIN

    def record(self, now: float) -> None:
        """Count one send made at `now`."""
        self._forget(now)
        self._sent.append(now)

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] + self._window <= now:
            self._sent.popleft()
