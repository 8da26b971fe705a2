"""MemoryBroker: the Broker port in memory, for tests of the bridge without a broker.

It keeps RabbitMQ's promises the bridge relies on (tests/fleet/test_broker_contract.py
runs the same checks against both): a passive declare of a missing queue fails; the
consumer gets at most `prefetch` unacknowledged messages; `take` reads any queue's head;
a nack with requeue, a lost connection (`drop_connection`) or `close` returns what was
received or taken to its place in its queue (as a classic queue does), marked
redelivered; a delay queue's message is moved to the main queue once its TTL has passed
on the given clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vectorvue_client.domain.bridge import BrokerError, BrokerMessage, Topology


@dataclass
class _Stored:
    body: bytes
    headers: dict[str, Any]
    seq: int  # the order of arrival: a message given back returns to its place
    redelivered: bool = False
    due: float = 0.0  # in a delay queue: when it moves on


@dataclass
class _Queue:
    messages: deque[_Stored] = field(default_factory=deque)
    ttl_seconds: float | None = None
    dead_letter_to: str | None = None


class MemoryBroker:
    """The Broker port in memory; `now` is the clock TTLs are measured on (seconds), and
    `pass_time` what a receive that finds nothing does for the `wait` it was given (a
    FakeClock's `advance`: the wait passes at once, on that clock)."""

    def __init__(
        self, now: Callable[[], float], pass_time: Callable[[float], None] = lambda _: None
    ) -> None:
        self._now = now
        self._pass_time = pass_time
        self._lock = threading.Lock()
        self.queues: dict[str, _Queue] = {}
        self._consuming: str | None = None
        self._prefetch = 0
        self._unacked: dict[int, tuple[str, _Stored]] = {}  # tag: (its queue, the message)
        self._next_tag = 1
        self._next_seq = 1
        self.connects = 0
        self.down = False  # while True, connect fails as an unreachable broker does

    def declare_queue(self, name: str) -> None:
        """Create a queue the way SpectraStrike does (durable, no arguments)."""
        self.queues.setdefault(name, _Queue())

    def connect(self, topology: Topology, prefetch: int, create: str | None) -> None:
        """(Re)connect: declare, consume (see ports.Broker)."""
        self.drop_connection()
        if self.down:
            raise BrokerError("broker connect failed: connection refused")
        if create is not None:
            self.queues.setdefault(topology.queue, _Queue())
        elif topology.queue not in self.queues:
            raise BrokerError(f"broker connect failed: NOT_FOUND - no queue '{topology.queue}'")
        self.queues.setdefault(topology.dead_letters, _Queue())
        for name, ttl in topology.delay_queues().items():
            self.queues.setdefault(name, _Queue(deque(), ttl / 1000, topology.queue))
        self._consuming, self._prefetch = topology.queue, prefetch
        self.connects += 1

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        """Up to `limit` ready messages within the prefetch; when there are none, `wait`
        passes (on the given clock) and the delay queues are looked at again."""
        with self._lock:
            if not self._ready():
                self._pass_time(wait)
            consumed = self._consumer()
            queue = self._queue(consumed)
            self._expire()
            out: list[BrokerMessage] = []
            while queue.messages and len(out) < limit and len(self._unacked) < self._prefetch:
                out.append(self._hand_out(consumed, queue))
            return out

    def take(self, queue: str, limit: int) -> list[BrokerMessage]:
        """Up to `limit` messages from the head of `queue`, unacknowledged, no waiting."""
        with self._lock:
            self._consumer()
            self._expire()
            source = self._queue(queue)
            return [self._hand_out(queue, source) for _ in range(min(limit, len(source.messages)))]

    def _hand_out(self, name: str, queue: _Queue) -> BrokerMessage:
        stored = queue.messages.popleft()
        tag, self._next_tag = self._next_tag, self._next_tag + 1
        self._unacked[tag] = (name, stored)
        return BrokerMessage(stored.body, dict(stored.headers), tag, stored.redelivered)

    def _ready(self) -> bool:
        self._expire()
        queue = self._queue(self._consumer())
        return bool(queue.messages) and len(self._unacked) < self._prefetch

    def ack(self, tags: Sequence[int]) -> None:
        """Forget these messages."""
        with self._lock:
            self._consumer()
            for tag in tags:
                self._settled(tag)

    def requeue(self, tags: Sequence[int]) -> None:
        """Back to their places in their queues, marked redelivered."""
        with self._lock:
            self._consumer()
            for tag in tags:
                self._put_back(tag)

    def publish(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        """Store a copy in `queue`; an unknown queue is unroutable, as with mandatory."""
        with self._lock:
            self._consumer()
            target = self._queue(queue)
            due = self._now() + (target.ttl_seconds or 0.0)
            target.messages.append(_Stored(body, dict(headers), self._seq(), due=due))

    def depth(self, queue: str) -> int:
        """Ready messages in `queue`."""
        with self._lock:
            self._expire()
            return len(self._queue(queue).messages)

    def close(self) -> None:
        """Give back everything unacknowledged, disconnect."""
        self.drop_connection()

    def drop_connection(self) -> None:
        """The connection is lost: unacknowledged messages go back, redelivered; the tags
        are void and further calls fail until `connect`."""
        with self._lock:
            if self._consuming is not None:
                self.requeue_all()
            self._consuming = None

    def requeue_all(self) -> None:
        """Every unacknowledged message back to its place in its queue (lock held)."""
        for tag in list(self._unacked):
            self._put_back(tag)

    def _put_back(self, tag: int) -> None:
        """The message of `tag` back in its queue, before every later arrival."""
        name, stored = self._settled(tag)
        stored.redelivered = True
        messages = self._queue(name).messages
        place = next((i for i, m in enumerate(messages) if m.seq > stored.seq), len(messages))
        messages.insert(place, stored)

    def bodies(self, queue: str) -> list[bytes]:
        """The bodies waiting in `queue`, in order (for assertions)."""
        return [m.body for m in self._queue(queue).messages]

    def headers(self, queue: str) -> list[dict[str, Any]]:
        """The headers of the messages waiting in `queue`, in order."""
        return [dict(m.headers) for m in self._queue(queue).messages]

    def _expire(self) -> None:
        now = self._now()
        for queue in self.queues.values():
            if queue.dead_letter_to is None:
                continue
            while queue.messages and queue.messages[0].due <= now:
                stored = queue.messages.popleft()
                self._queue(queue.dead_letter_to).messages.append(
                    _Stored(stored.body, stored.headers, self._seq())
                )

    def _consumer(self) -> str:
        if self._consuming is None:
            raise BrokerError("not connected to the broker")
        return self._consuming

    def _queue(self, name: str) -> _Queue:
        try:
            return self.queues[name]
        except KeyError:
            raise BrokerError(f"NOT_FOUND - no queue '{name}'") from None

    def _seq(self) -> int:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return seq

    def _settled(self, tag: int) -> tuple[str, _Stored]:
        try:
            return self._unacked.pop(tag)
        except KeyError:
            raise BrokerError(f"PRECONDITION_FAILED - unknown delivery tag {tag}") from None
