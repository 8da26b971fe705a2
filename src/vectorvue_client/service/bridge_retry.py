"""`bridge retry`: the bridge's dead letters back in line, losing none of them.

Each chosen dead letter is published to the main queue (confirmed, persistent) before its
dead-letter copy is acked: a crash in between leaves it in both queues (delivered twice
under the same ids and key, which VectorVue stores once), never in neither. The dead
letters not chosen are held unacknowledged while the queue is read, then given back
together: the broker puts them back in their places, so the queue keeps its order. The
read stops at the count the queue had when it started, so dead letters that keep
arriving meanwhile cannot make it endless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vectorvue_client.domain.bridge import Topology, back_in_line, reason_of
from vectorvue_client.ports import Broker, Clock

TAKE_AT_ONCE: Final = 100  # messages read per take: their bodies are all that is held


@dataclass
class RetryReport:
    """What a `bridge retry` did."""

    requeued: int = 0  # put back in the main queue
    skipped: int = 0  # read and left in the dead letters: not chosen, or past the limit


def retry_dead_letters(
    broker: Broker,
    topology: Topology,
    clock: Clock,
    *,
    limit: int | None = None,
    reason_contains: str | None = None,
) -> RetryReport:
    """Put back in `topology.queue` the dead letters whose reason contains
    `reason_contains` (any letter case; None: all of them), the oldest first, `limit` at
    most (None: no limit). A BrokerError on the way leaves every message not yet moved
    where it was."""
    report = RetryReport()
    wanted = None if reason_contains is None else reason_contains.casefold()
    # A prefetch of 1: this connection never consumes the main queue (it only takes).
    broker.connect(topology, 1, None)
    try:
        unread = broker.depth(topology.dead_letters)
        kept: list[int] = []
        while unread > 0 and (limit is None or report.requeued < limit):
            messages = broker.take(topology.dead_letters, min(unread, TAKE_AT_ONCE))
            if not messages:
                break  # another reader took the rest
            unread -= len(messages)
            for message in messages:
                full = limit is not None and report.requeued >= limit
                if full or (
                    wanted is not None and wanted not in reason_of(message.headers).casefold()
                ):
                    kept.append(message.tag)
                    continue
                headers = back_in_line(
                    message.headers, dead_letters=topology.dead_letters, at=clock.time()
                )
                broker.publish(topology.queue, message.body, headers)
                broker.ack([message.tag])
                report.requeued += 1
        broker.requeue(kept)
        report.skipped = len(kept)
    finally:
        broker.close()
    return report
