"""The Broker port's promises, checked against both implementations: MemoryBroker (the
fake the bridge's fast tests use) and RabbitMQBroker on a real RabbitMQ node. A fake
that passes here behaves, for the bridge, as the broker does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest

from vectorvue_client.domain.bridge import BrokerError, BrokerMessage, Topology
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import Broker
from vectorvue_client.testing import FakeClock, MemoryBroker
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

WAIT_SECONDS = 30.0  # a bound on waits for the broker, never reached when it works


class Side:
    """One implementation under test, and how the test sets the stage around it."""

    def __init__(
        self,
        broker: Broker,
        create_queue: Callable[[str], None],
        let_time_pass: Callable[[float], None],
        drop: Callable[[], None],
    ) -> None:
        self.broker = broker
        self.create_queue = create_queue
        self.let_time_pass = let_time_pass
        self.drop = drop


def topology(queue: str, *, base: float = 0.05, cap: float = 0.2) -> Topology:
    return Topology(queue, f"{queue}.dlq", base, cap, max_attempts=5)


@pytest.fixture(params=["memory", "rabbitmq"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryBroker(clock.time, clock.advance)
        yield Side(memory, memory.declare_queue, clock.advance, memory.drop_connection)
        return
    node: RabbitMQNode = request.getfixturevalue("rabbitmq")
    from vectorvue_client.adapters.broker_rabbitmq import RabbitMQBroker

    real = RabbitMQBroker(Secret(node.url))

    def create_queue(name: str) -> None:
        # As SpectraStrike declares it: durable, no arguments.
        with pika.BlockingConnection(pika.URLParameters(node.url)) as connection:
            connection.channel().queue_declare(name, durable=True)

    def drop() -> None:
        # The broker closes the connection under the adapter (as when it restarts).
        node.ctl("close_all_connections", "contract test")

    yield Side(real, create_queue, lambda _seconds: None, drop)
    real.close()


def received(broker: Broker, count: int) -> list[BrokerMessage]:
    """`count` messages, waiting for them within a bound."""
    out: list[BrokerMessage] = []
    ends = time.monotonic() + WAIT_SECONDS
    while len(out) < count and time.monotonic() < ends:
        out += broker.receive(count - len(out), 0.2)
    return out


def test_a_missing_main_queue_is_an_error_not_created(side: Side, queue_name: str) -> None:
    with pytest.raises(BrokerError, match="NOT_FOUND"):
        side.broker.connect(topology(queue_name), 10, None)


def test_published_messages_come_back_with_body_and_headers(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 10, None)
    headers: dict[str, Any] = {"x-vv-attempt": 2, "x-vv-history": ["a", "b"], "x-vv-reason": "r"}
    side.broker.publish(queue_name, b'{"n": 1}', headers)
    side.broker.publish(queue_name, b'{"n": 2}', {})
    got = received(side.broker, 2)
    assert [m.body for m in got] == [b'{"n": 1}', b'{"n": 2}']
    assert got[0].headers["x-vv-attempt"] == 2
    assert [_text(v) for v in got[0].headers["x-vv-history"]] == ["a", "b"]
    assert not got[0].redelivered
    side.broker.ack([m.tag for m in got])
    assert side.broker.depth(queue_name) == 0


def test_prefetch_bounds_what_one_consumer_holds(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 3, None)
    for n in range(5):
        side.broker.publish(queue_name, str(n).encode(), {})
    first = received(side.broker, 3)
    assert len(first) == 3
    assert side.broker.receive(5, 0.3) == []  # unacked: the broker holds the other two back
    side.broker.ack([first[0].tag])
    assert [m.body for m in received(side.broker, 1)] == [b"3"]


def test_requeue_and_a_lost_connection_redeliver(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 10, None)
    side.broker.publish(queue_name, b"one", {})
    side.broker.publish(queue_name, b"two", {})
    got = received(side.broker, 2)
    side.broker.requeue([got[0].tag])
    again = received(side.broker, 1)
    assert [(m.body, m.redelivered) for m in again] == [(b"one", True)]
    side.drop()  # "two" and the second "one" were never acked
    with pytest.raises(BrokerError):
        side.broker.ack([got[1].tag])
    side.broker.connect(topology(queue_name), 10, None)
    after = received(side.broker, 2)
    assert sorted(m.body for m in after) == [b"one", b"two"]
    assert all(m.redelivered for m in after)


def test_a_delay_queue_sends_its_messages_back_after_the_ttl(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    shape = topology(queue_name)
    side.broker.connect(shape, 10, None)
    delay = shape.delay_queue(1)
    assert delay in shape.delay_queues()
    side.broker.publish(delay, b"later", {"x-vv-attempt": 1})
    side.let_time_pass(shape.delay_ms(1) / 1000)
    got = received(side.broker, 1)
    assert [m.body for m in got] == [b"later"]
    assert got[0].headers["x-vv-attempt"] == 1
    assert side.broker.depth(delay) == 0


def test_publishing_to_a_missing_queue_fails(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 10, None)
    with pytest.raises(BrokerError):
        side.broker.publish(f"{queue_name}.nowhere", b"x", {})


def test_the_dead_letter_queue_is_declared_and_counted(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    shape = topology(queue_name)
    side.broker.connect(shape, 10, None)
    side.broker.publish(shape.dead_letters, b"dead", {"x-vv-reason": "why"})
    ends = time.monotonic() + WAIT_SECONDS
    while side.broker.depth(shape.dead_letters) != 1 and time.monotonic() < ends:
        threading.Event().wait(0.05)
    assert side.broker.depth(shape.dead_letters) == 1


def test_close_gives_back_what_was_received(side: Side, queue_name: str) -> None:
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 10, None)
    side.broker.publish(queue_name, b"held", {})
    assert len(received(side.broker, 1)) == 1
    side.broker.close()
    side.broker.connect(topology(queue_name), 10, None)
    got = received(side.broker, 1)
    assert [(m.body, m.redelivered) for m in got] == [(b"held", True)]


def test_an_ack_settles_only_its_own_messages(side: Side, queue_name: str) -> None:
    """Acked out of order, with held messages between them (the real adapter folds the
    oldest acks into one multiple-ack, which must stop below a message still held): the
    messages not acked, and only they, come back after a close."""
    side.create_queue(queue_name)
    side.broker.connect(topology(queue_name), 10, None)
    bodies = [f"m{n}".encode() for n in range(6)]
    for body in bodies:
        side.broker.publish(queue_name, body, {})
    got = received(side.broker, 6)
    assert [m.body for m in got] == bodies
    by_body = {m.body: m.tag for m in got}
    side.broker.ack([by_body[b"m4"], by_body[b"m0"], by_body[b"m1"]])
    side.broker.ack([by_body[b"m5"]])
    side.broker.close()
    side.broker.connect(topology(queue_name), 10, None)
    again = received(side.broker, 2)
    assert [(m.body, m.redelivered) for m in again] == [(b"m2", True), (b"m3", True)]
    side.broker.ack([m.tag for m in again])
    assert side.broker.receive(10, 0.2) == []
    assert side.broker.depth(queue_name) == 0


def dead_letters(side: Side, queue_name: str, bodies: list[bytes]) -> Topology:
    """Connected, with `bodies` waiting in the dead letters (each with its reason)."""
    side.create_queue(queue_name)
    shape = topology(queue_name)
    side.broker.connect(shape, 10, None)
    for body in bodies:
        side.broker.publish(shape.dead_letters, body, {"x-vv-reason": f"why {body.decode()}"})
    ends = time.monotonic() + WAIT_SECONDS
    while side.broker.depth(shape.dead_letters) != len(bodies) and time.monotonic() < ends:
        threading.Event().wait(0.05)
    return shape


def test_take_reads_the_head_of_a_queue_in_order_without_waiting(
    side: Side, queue_name: str
) -> None:
    shape = dead_letters(side, queue_name, [b"d1", b"d2", b"d3"])
    got = side.broker.take(shape.dead_letters, 2)
    assert [(m.body, _text(m.headers["x-vv-reason"])) for m in got] == [
        (b"d1", "why d1"),
        (b"d2", "why d2"),
    ]
    assert not any(m.redelivered for m in got)
    rest = side.broker.take(shape.dead_letters, 5)
    assert [m.body for m in rest] == [b"d3"]
    assert side.broker.take(shape.dead_letters, 5) == []  # empty: no wait, no error
    side.broker.ack([m.tag for m in got + rest])
    assert side.broker.depth(shape.dead_letters) == 0


def test_taken_messages_given_back_return_to_their_places(side: Side, queue_name: str) -> None:
    # What `bridge retry` relies on to leave the dead letters it does not move in order.
    shape = dead_letters(side, queue_name, [b"d1", b"d2", b"d3", b"d4", b"d5"])
    first, second, third = side.broker.take(shape.dead_letters, 3)
    side.broker.ack([second.tag])
    side.broker.requeue([first.tag])
    side.broker.requeue([third.tag])  # behind the first, where it was, not before it
    again = side.broker.take(shape.dead_letters, 10)
    assert [(m.body, m.redelivered) for m in again] == [
        (b"d1", True),
        (b"d3", True),
        (b"d4", False),
        (b"d5", False),
    ]
    side.drop()  # a lost connection gives them back to their places too
    side.broker.connect(shape, 10, None)
    assert [m.body for m in side.broker.take(shape.dead_letters, 10)] == [
        b"d1",
        b"d3",
        b"d4",
        b"d5",
    ]


def test_a_connection_that_only_takes_holds_none_of_the_main_queue(
    side: Side, queue_name: str
) -> None:
    # Its messages stay ready for the bridges: none waits, unacknowledged, in the prefetch
    # of a connection that never receives.
    shape = dead_letters(side, queue_name, [b"dead"])
    for n in range(3):
        side.broker.publish(queue_name, str(n).encode(), {})
    [taken] = side.broker.take(shape.dead_letters, 1)
    side.broker.publish(queue_name, taken.body, {})
    side.broker.ack([taken.tag])
    ends = time.monotonic() + WAIT_SECONDS
    while side.broker.depth(queue_name) != 4 and time.monotonic() < ends:
        threading.Event().wait(0.05)
    assert side.broker.depth(queue_name) == 4
    side.broker.close()
    side.broker.connect(shape, 10, None)
    assert [m.body for m in received(side.broker, 4)] == [b"0", b"1", b"2", b"dead"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
