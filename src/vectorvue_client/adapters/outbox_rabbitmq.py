"""The Outbox port on RabbitMQ: `outbox_backend = "rabbitmq"` (ADR 0032).

Each item is one persistent message on the outbox queue (`outbox_queue`); `put` publishes
an enqueue's items in one transaction and returns once the broker has committed it, that
is, written them to disk. A claim is an unacknowledged delivery (basic.get): when the process
that holds it dies or loses its connection, the broker puts the item back in the queue, so
nothing claimed is ever lost and no lock is needed: any number of processes, on any number
of hosts, drain one outbox queue side by side.

An item that failed transiently waits in a delay queue (`<queue>.retry.<ms>ms`: a fixed TTL
and a dead-letter route back to the queue, no broker plugin); one refused for good goes to
`<queue>.dlq` with the reason in its headers. Every copy is confirmed by the broker before
the original is acknowledged: a crash in between leaves a duplicate (same key, same bytes:
VectorVue stores it once), never a loss.

Where the broker cannot do what the SQLite outbox does (ADR 0032 says why each is safe):
- no index of keys: `put` does not dedupe across the queue (a second copy of an item
  already claimed in this process is settled with it), and a delivered item is forgotten
  at once (`stats().delivered` is 0, `purge_delivered` has nothing to do);
- a batch is sealed for its first attempt only (its items' deliveries are held until the
  answer): after a transient failure its items wait on their own, attempt counted, and may
  be grouped differently when due, under the key of the new body; `claim_batches` is
  always empty;
- `in_flight` counts this process's claims only, the age of the oldest pending item is
  not known (None), and `next_due` is an upper bound while items wait in delay queues.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from vectorvue_client.adapters.broker_rabbitmq import (
    PERSISTENT,
    failure_text,
    open_connection,
    tls_for,
)
from vectorvue_client.domain.bridge import BrokerError
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    DELAY_STEPS_MS,
    UNREADABLE,
    Batch,
    Burial,
    Claimed,
    ClaimedBatch,
    DeadLetter,
    ItemKind,
    OutboxRecord,
    OutboxStats,
    Reschedule,
    delay_step_ms,
    item_digest,
)
from vectorvue_client.domain.redaction import Secret

# The headers of an outbox message: what the SQLite outbox keeps in its columns.
KEY: Final = "x-vv-key"
KIND: Final = "x-vv-kind"
ATTEMPTS: Final = "x-vv-attempt"  # failed attempts so far
ENQUEUED_MS: Final = "x-vv-enqueued-ms"  # Unix time in ms (AMQP tables carry no float well)
DIGEST: Final = "x-vv-digest"  # domain.outbox.item_digest, hex: a damaged copy is never sent
LAST_ERROR: Final = "x-vv-last-error"  # why it waits in a delay queue
REASON: Final = "x-vv-reason"  # why it is a dead letter
STATUS: Final = "x-vv-status"  # VectorVue's HTTP status, when it refused the item
DIED_MS: Final = "x-vv-died-ms"
TEXT_KEPT: Final = 500  # characters of an error kept in a header
_KINDS: Final = frozenset(kind.value for kind in ItemKind)


def dead_letter_queue(queue: str) -> str:
    """Where the outbox `queue` keeps its dead letters."""
    return f"{queue}.dlq"


def delay_queue(queue: str, ms: int) -> str:
    """The delay queue of `queue` whose messages wait `ms` milliseconds."""
    return f"{queue}.retry.{ms}ms"


@dataclass(slots=True)
class _Held:
    """An item claimed by this process: its deliveries (more than one when the queue held
    copies of it) are acknowledged together when its fate is settled."""

    claimed: Claimed
    tags: list[int] = field(default_factory=list)


class RabbitMQOutbox:
    """The Outbox port on one queue of a RabbitMQ broker (see the module docstring); `tls`
    as for RabbitMQBroker (an amqps:// URL is always verified). `now` is the clock's Unix
    time, for `next_due`; the TTLs of the delay queues run on the broker's clock."""

    def __init__(
        self,
        url: Secret,
        *,
        queue: str,
        tls: ssl.SSLContext | None,
        now: Callable[[], float],
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._tls = tls_for(url, tls)
        self._queue = queue
        self._dead = dead_letter_queue(queue)
        self._delays = {ms: delay_queue(queue, ms) for ms in DELAY_STEPS_MS}
        self._now = now
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()  # pika's connection is not thread-safe
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None  # confirm mode: every other publish
        self._tx: BlockingChannel | None = None  # transaction mode: `put`
        self._returned = 0  # messages of the open transaction the broker could not route
        self._held: dict[str, _Held] = {}
        self._batches: dict[str, tuple[str, ...]] = {}  # sealed for their first attempt
        self._closed = False
        with self._using("connecting"):  # an unreachable broker fails at opening
            pass

    # -- storing ----------------------------------------------------------------------------
    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Publish every record, persistent, in one transaction on the queue (applied
        whole): when it returns, the broker has written them all to disk; when it raises,
        it took all or none of them, and putting them again is harmless (same keys, same
        ids). Returns how many were published: every one (the broker keeps no index of
        keys)."""
        enqueued = round(now * 1000)
        with self._using("storing items"):
            assert self._tx is not None
            self._returned = 0
            for record in records:
                digest = item_digest(record.key, record.kind.value, record.body).hex()
                headers = {
                    KEY: record.key,
                    KIND: record.kind.value,
                    ATTEMPTS: 0,
                    ENQUEUED_MS: enqueued,
                    DIGEST: digest,
                }
                self._publish(self._tx, self._queue, record.key, record.body, headers)
            self._tx.tx_commit()
            # The broker's returns (basic.return) came before its commit-ok; pika hands
            # them to the callback only here.
            assert self._connection is not None
            self._connection.process_data_events(time_limit=0)
            if self._returned:  # the queue was deleted: the next call declares it again
                raise BrokerError(
                    f"the broker could not route {self._returned} of {len(records)} items "
                    "to the queue (was it deleted?); enqueue them again"
                )
        return len(records)

    # -- claiming and settling --------------------------------------------------------------
    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` items from the queue (every item there is due), oldest first, held
        unacknowledged. A damaged or foreign message is dead-lettered with the reason."""
        claimed: list[Claimed] = []
        with self._using("claiming items") as channel:
            while len(claimed) < limit:
                method, properties, body = channel.basic_get(self._queue, auto_ack=False)
                if method is None:
                    break
                tag = int(method.delivery_tag)
                headers = dict(properties.headers or {})
                item = _read_item(headers, body)
                if isinstance(item, str):
                    letter = {**headers, REASON: item, DIED_MS: round(now * 1000)}
                    self._publish(channel, self._dead, _text(headers.get(KEY)), body, letter)
                    channel.basic_ack(tag)
                    continue
                held = self._held.get(item.key)
                if held is not None:  # another copy of an item this process holds
                    held.tags.append(tag)
                    continue
                self._held[item.key] = _Held(item, [tag])
                claimed.append(item)
        return claimed

    def seal(self, batches: Sequence[Batch], now: float) -> None:
        """Remember which claimed items go out together: their deliveries stay held until
        VectorVue's answer, so a crash gives them back (they are not written as a batch)."""
        with self._using("sealing batches"):
            for batch in batches:
                if not all(key in self._held for key in batch.items):
                    raise VectorVueOutboxError(self._queue, "only claimed items can be sealed")
            for batch in batches:
                self._batches[batch.key] = batch.items

    def claim_batches(self, limit: int, now: float) -> list[ClaimedBatch]:
        """None: a batch is never kept in the broker (module docstring)."""
        with self._using("claiming batches"):
            return []

    def reschedule_batches(self, retries: Sequence[Reschedule], now: float) -> None:
        """Each item of these batches waits on its own until the batch's time, its attempt
        counted."""
        items = [
            Reschedule(key, retry.next_attempt_at, retry.error)
            for retry in retries
            for key in self._batches.pop(retry.key, ())
        ]
        self.reschedule(items, now)

    def release_batches(self, keys: Sequence[str]) -> None:
        """The items of these batches back in the queue, as they were."""
        self.release([item for key in keys for item in self._batches.pop(key, ())])

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """Acknowledge these claimed items: the broker forgets them."""
        with self._using("marking items delivered") as channel:
            for key in keys:
                self._ack(channel, key)

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """Each claimed item to the delay queue of its wait (or back in the queue when it is
        due now), its attempt counted, then acknowledged."""
        with self._using("rescheduling items") as channel:
            for retry in retries:
                step = delay_step_ms(retry.next_attempt_at - now)
                queue = self._queue if step is None else self._delays[step]
                self._move(channel, retry.key, queue, {LAST_ERROR: retry.error[:TEXT_KEPT]})

    def bury(self, burials: Sequence[Burial], now: float) -> None:
        """Each claimed item to the dead-letter queue with the reason, its attempt counted,
        then acknowledged."""
        with self._using("dead-lettering items") as channel:
            for burial in burials:
                why: dict[str, Any] = {
                    REASON: burial.reason[:TEXT_KEPT],
                    DIED_MS: round(now * 1000),
                }
                if burial.status_code is not None:
                    why[STATUS] = burial.status_code
                self._move(channel, burial.key, self._dead, why)

    def release(self, keys: Sequence[str]) -> None:
        """These claimed items back in the queue, in their place, no attempt counted."""
        with self._using("releasing items") as channel:
            for key in keys:
                held = self._held.pop(key, None)
                for tag in held.tags if held is not None else ():
                    channel.basic_nack(tag, requeue=True)
            self._forget_settled_batches()

    def recover(self) -> int:
        """Give back everything this process holds (the broker does so itself when the
        connection is lost). Returns how many items."""
        with self._using("recovering claimed items"):
            count = len(self._held)
            self.release(list(self._held))
            self._batches.clear()
            return count

    # -- looking ----------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """Now when an item waits in the queue; else the end of the shortest TTL among the
        delay queues that hold items (each of them is due by then); None when none waits."""
        with self._using("reading queue counts") as channel:
            if _depth(channel, self._queue):
                return self._now()
            for ms, name in self._delays.items():  # shortest first
                if _depth(channel, name):
                    return self._now() + ms / 1000
            return None

    def stats(self, now: float) -> OutboxStats:
        """From the broker's queue counts: pending is the queue and its delay queues, dead
        the dead-letter queue; in flight is this process's claims."""
        with self._using("reading queue counts") as channel:
            pending = _depth(channel, self._queue)
            pending += sum(_depth(channel, name) for name in self._delays.values())
            return OutboxStats(
                pending=pending,
                in_flight=len(self._held),
                delivered=0,
                dead=_depth(channel, self._dead),
                oldest_pending_age_seconds=None,
            )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The first `limit` dead letters, oldest first, read and given back in place."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        with self._using("reading dead letters"), self._browsing() as browse:
            letters = []
            for _tag, properties, body in browse(limit):
                letters.append(_dead_letter(dict(properties.headers or {}), body))
            return letters

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to the queue, due now, with their
        attempts; one that fails its checksum stays. The copy is confirmed before the dead
        letter is acknowledged. Returns how many moved."""
        wanted = None if keys is None else set(keys)
        moved = 0
        with self._using("retrying dead letters") as channel, self._browsing() as browse:
            for tag, properties, body in browse(None):
                headers = dict(properties.headers or {})
                item = _read_item(headers, body)
                if isinstance(item, str) or (wanted is not None and item.key not in wanted):
                    continue  # given back when the browse ends
                self._publish(channel, self._queue, item.key, body, _headers_of(item))
                browse.ack(tag)
                moved += 1
        return moved

    def purge_delivered(self, older_than: float) -> int:
        """Nothing: the broker forgets an item once it is delivered."""
        with self._using("purging delivered items"):
            return 0

    def close(self) -> None:
        """Give back what this process holds and disconnect. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._held and self._channel is not None and self._channel.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                    for held in self._held.values():
                        for tag in held.tags:
                            self._channel.basic_nack(tag, requeue=True)
            self._drop()

    # -- the connection ---------------------------------------------------------------------
    @contextmanager
    def _using(self, doing: str) -> Iterator[BlockingChannel]:
        """The channel, under the lock, (re)connected when this process holds nothing. Any
        broker failure drops the connection (the broker takes back what was held) and is
        raised as VectorVueOutboxError."""
        with self._lock:
            if self._closed:
                raise VectorVueOutboxError(self._queue, "the outbox is closed")
            try:
                yield self._channel_for(doing)
            except (pika.exceptions.AMQPError, OSError, BrokerError) as exc:
                held = bool(self._held) or isinstance(exc, BrokerError)
                self._drop()
                back = "; the items this process had claimed are back in the queue"
                raise VectorVueOutboxError(
                    self._queue, f"{doing} failed: {failure_text(exc)}{back if held else ''}"
                ) from None

    def _channel_for(self, doing: str) -> BlockingChannel:
        if self._connection is not None and self._channel is not None and self._channel.is_open:
            # Reads what the broker sent meanwhile (a close raises here, before anything is
            # done on a dead connection) and answers its heartbeats.
            self._connection.process_data_events(time_limit=0)
            return self._channel
        if self._held:  # their deliveries went with the connection: the broker has them
            self._held.clear()
            self._batches.clear()
            raise BrokerError("the connection was lost")
        self._drop()
        connection = open_connection(self._url, self._tls, self._connect_timeout)
        self._connection = connection
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(self._queue, durable=True)
        channel.queue_declare(self._dead, durable=True)
        for ms, name in self._delays.items():
            arguments = {
                "x-message-ttl": ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self._queue,
            }
            channel.queue_declare(name, durable=True, arguments=arguments)
        # `put` publishes a whole enqueue and commits once: one wait for the disk, where a
        # confirm channel would wait once per item (pika's blocking publish): ADR 0032.
        tx = connection.channel()
        tx.tx_select()
        tx.add_on_return_callback(self._on_return)
        self._channel, self._tx, self._returned = channel, tx, 0
        return channel

    def _on_return(self, *_returned: object) -> None:
        self._returned += 1

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._tx = None
        self._held.clear()
        self._batches.clear()
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    @contextmanager
    def _browsing(self) -> Iterator[_Browse]:
        """Reads a queue's messages on a channel of its own; closing it gives back every
        message not acknowledged, in its place (a classic queue keeps the order)."""
        assert self._connection is not None
        channel = self._connection.channel()
        try:
            yield _Browse(channel, self._dead)
        finally:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                channel.close()

    def _publish(
        self,
        channel: BlockingChannel,
        queue: str,
        key: str,
        body: bytes,
        headers: Mapping[str, Any],
    ) -> None:
        """A persistent, mandatory publish, confirmed by the broker when it returns (pika
        raises when the broker nacks it or cannot route it)."""
        properties = pika.BasicProperties(
            delivery_mode=PERSISTENT,
            headers=dict(headers),
            message_id=key,
            content_type="application/json",
        )
        channel.basic_publish("", queue, body, properties, mandatory=True)

    def _move(self, channel: BlockingChannel, key: str, queue: str, why: Mapping[str, Any]) -> None:
        """A claimed item's copy, its attempt counted and `why` in its headers, to `queue`
        (confirmed), then the item acknowledged. An item not claimed here is left alone."""
        held = self._held.get(key)
        if held is None:
            return
        item = held.claimed
        headers = {**_headers_of(item), ATTEMPTS: item.attempts + 1, **why}
        self._publish(channel, queue, item.key, item.body, headers)
        self._ack(channel, item.key)

    def _ack(self, channel: BlockingChannel, key: str) -> None:
        held = self._held.pop(key, None)
        for tag in held.tags if held is not None else ():
            channel.basic_ack(tag)
        self._forget_settled_batches()

    def _forget_settled_batches(self) -> None:
        if not self._held:
            self._batches.clear()


class _Browse:
    """basic.get over a queue on a channel of its own (see `_browsing`)."""

    def __init__(self, channel: BlockingChannel, queue: str) -> None:
        self._channel = channel
        self._queue = queue

    def __call__(self, limit: int | None) -> Iterator[tuple[int, pika.BasicProperties, bytes]]:
        taken = 0
        while limit is None or taken < limit:
            method, properties, body = self._channel.basic_get(self._queue, auto_ack=False)
            if method is None:
                return
            taken += 1
            yield int(method.delivery_tag), properties, body

    def ack(self, tag: int) -> None:
        self._channel.basic_ack(tag)


def _depth(channel: BlockingChannel, queue: str) -> int:
    return int(channel.queue_declare(queue, passive=True).method.message_count)


def _headers_of(item: Claimed) -> dict[str, Any]:
    """The headers of a fresh copy of `item` (no error, no reason)."""
    return {
        KEY: item.key,
        KIND: item.kind.value,
        ATTEMPTS: item.attempts,
        ENQUEUED_MS: round(item.enqueued_at * 1000),
        DIGEST: item_digest(item.key, item.kind.value, item.body).hex(),
    }


def _read_item(headers: Mapping[str, Any], body: bytes) -> Claimed | str:
    """The item a message holds, or why it is not one."""
    key, kind = headers.get(KEY), headers.get(KIND)
    attempts, enqueued = headers.get(ATTEMPTS), headers.get(ENQUEUED_MS)
    if not (
        isinstance(key, str) and isinstance(kind, str) and _is_int(attempts) and _is_int(enqueued)
    ):
        return f"{UNREADABLE}: not an outbox message (x-vv-* headers missing or malformed)"
    if kind not in _KINDS:
        return f"{UNREADABLE}: unknown kind {kind[:40]!r}"
    if headers.get(DIGEST) != item_digest(key, kind, body).hex():
        return f"{UNREADABLE}: its checksum does not match (damaged or altered)"
    return Claimed(key, ItemKind(kind), body, int(attempts), int(enqueued) / 1000)


def _dead_letter(headers: Mapping[str, Any], body: bytes) -> DeadLetter:
    """A dead letter as read: what its headers say, damaged ones included."""
    status = headers.get(STATUS)
    return DeadLetter(
        key=_text(headers.get(KEY)),
        kind=_text(headers.get(KIND)),
        body=body,
        attempts=_int(headers.get(ATTEMPTS)),
        reason=_text(headers.get(REASON)),
        status_code=int(status) if _is_int(status) else None,
        enqueued_at=_int(headers.get(ENQUEUED_MS)) / 1000,
        died_at=_int(headers.get(DIED_MS)) / 1000,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else "(none)"


def _int(value: object) -> int:
    return int(value) if _is_int(value) else 0


def _is_int(value: object) -> TypeGuard[int]:
    # pika reads a 64-bit integer as its own subclass of int (`long`); a bool is no count.
    return isinstance(value, int) and not isinstance(value, bool)
