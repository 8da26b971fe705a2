"""`bridge retry`'s service on the memory broker (held to RabbitMQ's behaviour by
test_broker_contract.py): which dead letters go back, in what order, with what headers,
and that an interruption between the publish and the ack duplicates, never loses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from vectorvue_client.domain.bridge import (
    HEADER_ATTEMPT,
    HEADER_CODE,
    HEADER_HISTORY,
    HEADER_REASON,
    BrokerError,
    Topology,
    attempts_of,
    back_in_line,
)
from vectorvue_client.service.bridge_retry import retry_dead_letters
from vectorvue_client.testing import FakeClock, MemoryBroker

from .fleet_support import WrappedBroker

QUEUE = "telemetry.events"
DLQ = "telemetry.events.dlq"
TOPOLOGY = Topology(QUEUE, DLQ, 1.0, 2.0, max_attempts=5)
AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def gave_up(n: int) -> dict[str, Any]:
    """The headers of a message the bridge gave up on after 5 transient failures."""
    return {
        HEADER_ATTEMPT: 5,
        HEADER_HISTORY: [f"attempt {a}: http_503: unavailable" for a in range(1, 6)],
        HEADER_REASON: f"gave up after 5 attempts: http_503: unavailable ({n})",
        HEADER_CODE: "http_503",
        "x-spectrastrike-tenant": "t1",
    }


REFUSED = {HEADER_REASON: "not JSON: malformed", "x-vv-field": "(body)", "x-vv-rule": "not JSON"}


def broker_with(letters: list[tuple[bytes, dict[str, Any]]]) -> tuple[MemoryBroker, FakeClock]:
    clock = FakeClock(AT)
    broker = MemoryBroker(clock.time, clock.advance)
    broker.declare_queue(QUEUE)
    broker.connect(TOPOLOGY, 10, None)
    for body, headers in letters:
        broker.publish(DLQ, body, headers)
    broker.close()
    return broker, clock


MIXED = [
    (b"d0", gave_up(0)),
    (b"p0", REFUSED),
    (b"d1", gave_up(1)),
    (b"p1", REFUSED),
    (b"d2", gave_up(2)),
]


def test_the_chosen_go_back_in_order_and_the_others_stay_in_theirs() -> None:
    broker, clock = broker_with(MIXED)
    report = retry_dead_letters(broker, TOPOLOGY, clock, reason_contains="HTTP_503", limit=2)
    assert (report.requeued, report.skipped) == (2, 3)  # d2 was read, past the limit
    assert broker.bodies(QUEUE) == [b"d0", b"d1"]
    assert broker.bodies(DLQ) == [b"p0", b"p1", b"d2"]
    assert broker.headers(DLQ)[2] == gave_up(2)  # left as it was


def test_without_a_choice_every_dead_letter_goes_back() -> None:
    broker, clock = broker_with(MIXED)
    report = retry_dead_letters(broker, TOPOLOGY, clock)
    assert (report.requeued, report.skipped) == (5, 0)
    assert broker.bodies(QUEUE) == [b"d0", b"p0", b"d1", b"p1", b"d2"]
    assert broker.bodies(DLQ) == []


def test_an_empty_dead_letter_queue_moves_nothing() -> None:
    broker, clock = broker_with([])
    report = retry_dead_letters(broker, TOPOLOGY, clock, reason_contains="x")
    assert (report.requeued, report.skipped) == (0, 0)


def test_a_message_back_in_line_has_its_attempts_afresh_and_keeps_its_history() -> None:
    broker, clock = broker_with([(b"d0", gave_up(0))])
    retry_dead_letters(broker, TOPOLOGY, clock)
    [headers] = broker.headers(QUEUE)
    assert attempts_of(headers) == 0 and HEADER_ATTEMPT not in headers
    assert HEADER_REASON not in headers and HEADER_CODE not in headers
    assert headers["x-spectrastrike-tenant"] == "t1"  # SpectraStrike's own headers stay
    history = headers[HEADER_HISTORY]
    assert history[:5] == gave_up(0)[HEADER_HISTORY]
    assert history[5] == (
        f"put back in line from {DLQ} at 2026-01-01T00:00:00+00:00; "
        "it was: gave up after 5 attempts: http_503: unavailable (0)"
    )


def test_the_history_stays_bounded_and_bytes_are_read_as_text() -> None:
    # pika gives long strings as bytes; a message put back many times keeps 20 lines.
    headers = {HEADER_REASON: b"refused", HEADER_HISTORY: [f"line {n}".encode() for n in range(20)]}
    out = back_in_line(headers, dead_letters=DLQ, at=AT)
    assert len(out[HEADER_HISTORY]) == 20
    assert out[HEADER_HISTORY][0] == "line 1"
    assert out[HEADER_HISTORY][-1].endswith("it was: refused")
    assert back_in_line({}, dead_letters=DLQ, at=AT)[HEADER_HISTORY][0].endswith(
        "it was: no reason given"
    )


class AckFails(WrappedBroker):
    """The memory broker, losing its connection at the first ack: after the publish of
    the message being moved, before its dead-letter copy is acked."""

    def ack(self, tags: Sequence[int]) -> None:
        self.broker.drop_connection()
        raise BrokerError("broker ack failed: connection lost")


def test_an_interruption_between_publish_and_ack_duplicates_never_loses() -> None:
    broker, clock = broker_with(MIXED)
    with pytest.raises(BrokerError):
        retry_dead_letters(AckFails(broker), TOPOLOGY, clock, reason_contains="http_503")
    assert broker.bodies(QUEUE) == [b"d0"]  # published, confirmed
    assert broker.bodies(DLQ) == [b"d0", b"p0", b"d1", b"p1", b"d2"]  # all back, in order
