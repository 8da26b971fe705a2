"""RabbitMQOutbox, the Outbox port on a real RabbitMQ node (ADR 0032): durable when `put`
returns, claims held as unacknowledged deliveries (a dead process gives them back), every
fate carried out copy-first (confirmed before the ack), damaged and foreign messages
dead-lettered, dead letters browsed in place and retried, and stats from the broker's
counts. Each test has queues of its own (`queue_name`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from vectorvue_client.adapters.broker_rabbitmq import PERSISTENT
from vectorvue_client.adapters.outbox_rabbitmq import (
    ATTEMPTS,
    DIGEST,
    KEY,
    LAST_ERROR,
    RabbitMQOutbox,
    dead_letter_queue,
    delay_queue,
)
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    Batch,
    Burial,
    ItemKind,
    OutboxRecord,
    Reschedule,
)
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

from .fleet_support import counts, drain_queue, until

T0 = 1_795_564_800.0
CHILD = Path(__file__).with_name("outbox_claim_child.py")


def rec(name: str, kind: ItemKind = ItemKind.FINDING) -> OutboxRecord:
    return OutboxRecord(f"{kind.value}:{name}", kind, f'{{"name":"{name}"}}'.encode())


def open_outbox(node: RabbitMQNode, queue: str) -> RabbitMQOutbox:
    return RabbitMQOutbox(Secret(node.url), queue=queue, tls=None, now=lambda: T0)


@pytest.fixture
def outbox(rabbitmq: RabbitMQNode, queue_name: str) -> Iterator[RabbitMQOutbox]:
    opened = open_outbox(rabbitmq, queue_name)
    yield opened
    opened.close()


@pytest.mark.restarts_broker
def test_put_is_durable_and_claims_come_back_oldest_first(
    rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    first = open_outbox(rabbitmq, queue_name)
    assert first.put([rec("a"), rec("b"), rec("c", ItemKind.EVENT)], T0) == 3
    first.close()
    # A restart of the node keeps them: they were confirmed as written to disk.
    rabbitmq.restart()
    second = open_outbox(rabbitmq, queue_name)
    claimed = second.claim(2, T0 + 5)
    assert [(c.key, c.kind, c.attempts, c.enqueued_at) for c in claimed] == [
        ("finding:a", ItemKind.FINDING, 0, T0),
        ("finding:b", ItemKind.FINDING, 0, T0),
    ]
    assert claimed[0].body == b'{"name":"a"}'
    assert [c.key for c in second.claim(5, T0 + 5)] == ["event:c"]
    second.close()


def test_claimed_items_are_held_not_taken(outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    assert [c.key for c in outbox.claim(5, T0)] == ["finding:a", "finding:b"]
    other = open_outbox(rabbitmq, outbox._queue)
    try:
        assert other.claim(5, T0) == []  # held by the first: no one else gets them
        assert outbox.stats(T0).in_flight == 2
        outbox.delivered(["finding:a"], T0)
        outbox.release(["finding:b"])
        assert [(c.key, c.attempts) for c in other.claim(5, T0)] == [("finding:b", 0)]
    finally:
        other.close()


def test_delivered_items_are_gone_from_the_broker(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    outbox.delivered([c.key for c in outbox.claim(5, T0)], T0)
    outbox.close()
    assert counts(rabbitmq.url, queue_name) == 0
    assert counts(rabbitmq.url, dead_letter_queue(queue_name)) == 0


def test_a_dead_process_gives_its_claims_back(rabbitmq: RabbitMQNode, queue_name: str) -> None:
    outbox = open_outbox(rabbitmq, queue_name)
    outbox.put([rec(f"i{n}") for n in range(6)], T0)
    outbox.close()
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CHILD), rabbitmq.url, queue_name, "4"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert child.stdout is not None
    assert child.stdout.readline().split() == ["claimed", "4"]
    assert counts(rabbitmq.url, queue_name) == 2  # four are held by the child
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    again = open_outbox(rabbitmq, queue_name)
    try:
        until(lambda: counts(rabbitmq.url, queue_name) == 6, "the broker to take them back")
        keys = [c.key for c in again.claim(10, T0)]
        assert sorted(keys) == sorted(f"finding:i{n}" for n in range(6))
    finally:
        again.close()


def test_reschedule_waits_in_a_delay_queue_and_counts_the_attempt(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    a, b = outbox.claim(5, T0)
    outbox.reschedule(
        [Reschedule(a.key, T0 + 0.15, "HTTP 503"), Reschedule(b.key, T0, "due now")], T0
    )
    # 0.15 s is waited in the 200 ms queue (never shorter than asked); "due now" is back
    # in the main queue at once.
    assert counts(rabbitmq.url, delay_queue(queue_name, 200)) == 1
    assert [(c.key, c.attempts) for c in outbox.claim(5, T0)] == [("finding:b", 1)]
    stats = outbox.stats(T0)
    assert (stats.pending, stats.in_flight) == (1, 1)
    assert outbox.next_due() == T0 + 0.2  # the end of the 200 ms wait, at the latest
    until(lambda: counts(rabbitmq.url, queue_name) == 1, "the TTL to expire")
    (again,) = outbox.claim(5, T0)
    assert (again.key, again.attempts, again.enqueued_at) == ("finding:a", 1, T0)


def test_a_reschedule_keeps_the_error_for_the_operator(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a")], T0)
    (a,) = outbox.claim(1, T0)
    outbox.reschedule([Reschedule(a.key, T0 + 3600, "HTTP 503: " + "x" * 2000)], T0)
    outbox.close()
    ((_body, headers),) = drain_queue(rabbitmq.url, delay_queue(queue_name, 6_553_600))
    assert headers[LAST_ERROR] == "HTTP 503: " + "x" * 490  # 500 characters kept
    assert headers[ATTEMPTS] == 1


def test_bury_then_browse_then_retry_in_place(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b"), rec("c")], T0)
    claimed = outbox.claim(5, T0)
    outbox.bury(
        [Burial(c.key, f"HTTP 422: bad {c.key}", 422) for c in claimed],
        T0 + 1,
    )
    letters = outbox.dead_letters(10)
    assert [(d.key, d.kind, d.attempts, d.reason, d.status_code) for d in letters] == [
        (f"finding:{n}", "finding", 1, f"HTTP 422: bad finding:{n}", 422) for n in "abc"
    ]
    assert (letters[0].enqueued_at, letters[0].died_at) == (T0, T0 + 1)
    assert outbox.dead_letters(10) == letters  # browsing takes nothing
    assert [d.key for d in outbox.dead_letters(2)] == ["finding:a", "finding:b"]
    assert outbox.stats(T0).dead == 3
    assert outbox.retry_dead(["finding:b", "finding:zz"], T0 + 2) == 1
    assert [d.key for d in outbox.dead_letters(10)] == ["finding:a", "finding:c"]
    (back,) = outbox.claim(5, T0 + 2)
    assert (back.key, back.attempts) == ("finding:b", 1)  # its attempts kept
    assert outbox.retry_dead(None, T0 + 3) == 2
    assert counts(rabbitmq.url, dead_letter_queue(queue_name)) == 0


def test_dead_letters_refuses_a_limit_below_one(outbox: RabbitMQOutbox) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        outbox.dead_letters(0)


def test_damaged_and_foreign_messages_are_dead_lettered_never_sent(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    (a, b) = outbox.claim(5, T0)
    outbox.release([a.key, b.key])
    # Rewrite the queue as an attacker or a bug would: a's body altered under its checksum,
    # b's checksum header gone, and a message that is not ours at all.
    taken = drain_queue(rabbitmq.url, queue_name)
    with pika.BlockingConnection(pika.URLParameters(rabbitmq.url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for body, headers in taken:
            if headers[KEY] == "finding:a":
                body = b'{"name":"A"}'
            else:
                headers = {k: v for k, v in headers.items() if k != DIGEST}
            properties = pika.BasicProperties(delivery_mode=PERSISTENT, headers=headers)
            channel.basic_publish("", queue_name, body, properties)
        channel.basic_publish("", queue_name, b"hello", pika.BasicProperties(delivery_mode=2))
    assert outbox.claim(10, T0) == []
    reasons = {d.key: d.reason for d in outbox.dead_letters(10)}
    assert reasons == {
        "finding:a": "unreadable outbox item: its checksum does not match (damaged or altered)",
        "finding:b": "unreadable outbox item: its checksum does not match (damaged or altered)",
        "(none)": "unreadable outbox item: not an outbox message "
        "(x-vv-* headers missing or malformed)",
    }
    assert outbox.retry_dead(None, T0) == 0  # a damaged letter stays where it is
    assert outbox.stats(T0).dead == 3


def test_copies_of_an_item_are_settled_together(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("a"), rec("b")], T0)  # the broker keeps no index of keys
    assert [c.key for c in outbox.claim(5, T0)] == ["finding:a", "finding:b"]
    outbox.delivered(["finding:a", "finding:b"], T0)
    outbox.close()
    assert counts(rabbitmq.url, queue_name) == 0


def test_a_batch_that_failed_waits_as_its_items(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b"), rec("c")], T0)
    a, b, c = outbox.claim(5, T0)
    outbox.seal([Batch("k1", "/p", b"[]", (a.key, b.key)), Batch("k2", "/p", b"[]", (c.key,))], T0)
    assert outbox.claim_batches(5, T0) == []  # never kept in the broker
    outbox.reschedule_batches([Reschedule("k1", T0, "HTTP 503")], T0)
    outbox.release_batches(["k2"])
    assert [(i.key, i.attempts) for i in outbox.claim(5, T0)] == [
        ("finding:c", 0),
        ("finding:a", 1),
        ("finding:b", 1),
    ]


def test_only_claimed_items_can_be_sealed(outbox: RabbitMQOutbox) -> None:
    outbox.put([rec("a")], T0)
    with pytest.raises(VectorVueOutboxError, match="only claimed items"):
        outbox.seal([Batch("k", "/p", b"[]", ("finding:a",))], T0)


def test_recover_gives_back_what_this_process_holds(outbox: RabbitMQOutbox) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    outbox.claim(5, T0)
    assert outbox.recover() == 2
    assert [(c.key, c.attempts) for c in outbox.claim(5, T0)] == [
        ("finding:a", 0),
        ("finding:b", 0),
    ]


def test_stats_and_next_due_from_the_broker(outbox: RabbitMQOutbox) -> None:
    assert outbox.next_due() is None
    stats = outbox.stats(T0)
    assert (stats.pending, stats.in_flight, stats.delivered, stats.dead) == (0, 0, 0, 0)
    outbox.put([rec("a")], T0)
    assert outbox.next_due() == T0
    assert outbox.stats(T0).pending == 1
    assert outbox.stats(T0).oldest_pending_age_seconds is None  # the broker cannot tell
    assert outbox.purge_delivered(T0) == 0


def test_a_closed_outbox_refuses_every_call(outbox: RabbitMQOutbox) -> None:
    outbox.close()
    outbox.close()  # idempotent
    for call in (
        lambda: outbox.put([rec("a")], T0),
        lambda: outbox.claim(1, T0),
        lambda: outbox.stats(T0),
        lambda: outbox.next_due(),
    ):
        with pytest.raises(VectorVueOutboxError, match="closed"):
            call()


def test_an_unreachable_broker_is_an_outbox_error_naming_no_secret() -> None:
    # A port nothing listens on; the password must not appear in the error.
    url = Secret("amqp://vv:hunter2-very-secret@127.0.0.1:9/%2F")
    with pytest.raises(VectorVueOutboxError) as raised:
        RabbitMQOutbox(url, queue="q", tls=None, now=time.time, connect_timeout=2.0)
    assert "hunter2" not in str(raised.value)
    assert "connecting failed" in str(raised.value)


def test_a_lost_connection_gives_claims_back_and_says_so(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    outbox.put([rec("a"), rec("b")], T0)
    outbox.claim(5, T0)
    rabbitmq.ctl("close_all_connections", "test: connection lost")
    with pytest.raises(VectorVueOutboxError, match="back in the queue"):
        outbox.stats(T0)
    until(lambda: counts(rabbitmq.url, queue_name) == 2, "the broker to take them back")
    # The next call reconnects: the outbox goes on.
    assert [c.key for c in outbox.claim(5, T0)] == ["finding:a", "finding:b"]


def test_an_enqueue_to_a_deleted_queue_says_so_and_the_next_one_stores(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    with pika.BlockingConnection(pika.URLParameters(rabbitmq.url)) as connection:
        connection.channel().queue_delete(queue_name)
    with pytest.raises(VectorVueOutboxError, match="could not route 2 of 2 items"):
        outbox.put([rec("a"), rec("b")], T0)
    assert outbox.put([rec("a"), rec("b")], T0) == 2  # declared again
    assert [c.key for c in outbox.claim(5, T0)] == ["finding:a", "finding:b"]


def test_an_enqueue_is_stored_whole(
    outbox: RabbitMQOutbox, rabbitmq: RabbitMQNode, queue_name: str
) -> None:
    records = [rec(f"i{n:04d}") for n in range(500)]
    outbox.put(records, T0)
    # Another connection sees all of them as soon as `put` returned, in order.
    taken = drain_queue(rabbitmq.url, queue_name)
    assert [headers[KEY] for _body, headers in taken] == [r.key for r in records]
