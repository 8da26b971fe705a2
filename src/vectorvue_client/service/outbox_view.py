"""`client.outbox`: what an operator looks at and acts on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from vectorvue_client.domain.outbox import DeadLetter, OutboxStats
from vectorvue_client.ports import Clock, Outbox


class OutboxView:
    """Stats, dead letters, retries and purges of the client's outbox."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    def stats(self) -> OutboxStats:
        """Pending, in flight, delivered, dead, and the age of the oldest pending item."""
        return self._outbox.stats(self._clock.time())

    def next_due_in(self) -> float | None:
        """Seconds until the next pending item is due (0: due now; None: nothing pending)."""
        due = self._outbox.next_due()
        return None if due is None else max(0.0, due - self._clock.time())

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Items VectorVue (or local validation) refused for good, with the reason."""
        return self._outbox.dead_letters(limit)

    def retry_dead(self, ids: Sequence[str] | None = None) -> int:
        """Put dead letters (these keys, or all) back in line, due now; returns how many."""
        return self._outbox.retry_dead(ids, self._clock.time())

    def purge_delivered(self, older_than: float | timedelta) -> int:
        """Forget items delivered more than `older_than` (seconds, or a timedelta) ago."""
        seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
        if seconds < 0:
            raise ValueError("older_than must not be negative")
        return self._outbox.purge_delivered(self._clock.time() - seconds)

    def close(self) -> None:
        """Close an outbox opened for inspection (container.inspect_outbox). A client's own
        view is closed with the client."""
        self._outbox.close()
