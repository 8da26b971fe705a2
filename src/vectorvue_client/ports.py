"""The whole boundary of the hexagon on one page.

Every port is a typing.Protocol: adapters and fakes fit them structurally (mypy --strict
proves it where the container wires them) and inherit from nothing of ours.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.bridge import BrokerMessage, Topology
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts
from vectorvue_client.domain.outbox import (
    Batch,
    Burial,
    Claimed,
    ClaimedBatch,
    DeadLetter,
    OutboxRecord,
    OutboxStats,
    Reschedule,
)
from vectorvue_client.domain.redaction import Secret


class Transport(Protocol):
    """Performs exactly one HTTP exchange: never retries, never follows a redirect, and
    returns network failures as a TransportFailure value instead of raising."""

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Send `request` and return the response or the failure."""

    def close(self) -> None:
        """Release pooled connections; further sends are an error."""


class CredentialSource(Protocol):
    """Where a credential comes from (environment, file, Vault, ...)."""

    def get(self) -> Secret:
        """The current credential; VectorVueConfigError when it cannot be had (a source
        that must reach a server may also raise VectorVueTransportError)."""

    def invalidate(self) -> None:
        """Forget any credential kept in memory, so that the next `get` fetches it anew
        (called once after VectorVue answers 401). A no-op for sources that keep none."""


class Signer(Protocol):
    """Proves the integrity of a request body: returns the headers to add to one attempt."""

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """Headers that sign exactly `body` at `timestamp` with `nonce`."""


@runtime_checkable
class ProducerSigner(Signer, Protocol):
    """A Signer holding the gateway producer's identity and Ed25519 key, which also signs
    what the contract signs outside a request (a federation bundle)."""

    def identity(self) -> tuple[tuple[str, str], ...]:
        """The identity headers alone (X-Service-Identity, X-Client-Cert-Sha256)."""

    def sign_message(self, message: bytes) -> str:
        """Standard base64 (padded) of the Ed25519 signature of exactly `message`."""


class AuditSink(Protocol):
    """Receives one redacted record per outbound operation. Must not raise."""

    def record(self, record: AuditRecord) -> None:
        """Keep `record`."""


@runtime_checkable
class SelectiveAuditSink(AuditSink, Protocol):
    """An AuditSink that can say beforehand that it would drop a record (a logger below
    the record's level), so that the record is never built. A sink without `keeps` is
    given every record."""

    def keeps(self, outcome: str) -> bool:
        """False only when a record with this outcome would be dropped. Asked per record,
        so the answer may change (a log level raised at run time)."""


class Clock(Protocol):
    """Time, behind a port so that tests are exact and waits are interruptible."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for durations and deadlines."""

    def time(self) -> float:
        """Unix time in seconds: for signature timestamps and HTTP dates."""

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Wait `seconds` (a backoff), or less: not at all once `cancel` is set (the send
        that waits is cancelled: its worker stops, its client closes)."""


class Entropy(Protocol):
    """Randomness, behind a port: backoff jitter and per-attempt nonces."""

    def random(self) -> float:
        """A uniform float in [0, 1)."""

    def nonce(self) -> str:
        """A fresh unpredictable token of 16 to 128 URL-safe characters."""


class Outbox(Protocol):
    """Where items wait, durably, until VectorVue has them. Times are Unix seconds passed
    in by the caller (the Clock port), so that tests are exact. One process owns an outbox
    at a time; on opening, items left in flight by a crash become pending again.

    Items sent together are sealed into a batch before the first attempt (`seal`); from
    then on they are claimed only together (`claim_batches`), and resent as the same bytes
    under the same key, until each item's fate is settled by `delivered`, `reschedule`,
    `bury` or `release` (which take it out of its batch; a batch left empty is gone).

    This is SQLite's outbox (and MemoryOutbox's). The RabbitMQ adapter keeps the promises
    that matter (durable, nothing lost, same ids) with the differences ADR 0032 lists: no
    owner, no dedupe by key, batches sealed for their first attempt only.
    """

    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Store the records; durable when it returns. A key already present (in any state,
        dead or delivered included) is left as it is. Returns how many were new."""

    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` pending items due by `now` that are in no batch, oldest first, now
        marked in flight. An item that fails its checksum (damaged on disk) is moved to
        the dead letters instead, with the reason, and the rest flows."""

    def seal(self, batches: Sequence[Batch], now: float) -> None:
        """Record that these claimed items go out together, each batch as its exact body
        under its key; durable when it returns, and before the first attempt. The batches
        are in flight, as their items were."""

    def claim_batches(self, limit: int, now: float) -> list[ClaimedBatch]:
        """Up to `limit` sealed batches due by `now`, oldest first, now in flight. A batch
        that fails its checksum is dissolved: its items are pending again on their own."""

    def reschedule_batches(self, retries: Sequence[Reschedule], now: float) -> None:
        """These in-flight batches failed transiently: count the attempt (of the batch and
        of each of its items), pending again until their time, still sealed."""

    def release_batches(self, keys: Sequence[str]) -> None:
        """Put these in-flight batches back to pending, as they were (no attempt counted)."""

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """VectorVue accepted these in-flight items: mark them delivered."""

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """These in-flight items failed transiently: count the attempt, back to pending
        (on their own, out of any batch) until their time."""

    def bury(self, burials: Sequence[Burial], now: float) -> None:
        """These in-flight items were refused for good: count the attempt, move them to the
        dead letters."""

    def release(self, keys: Sequence[str]) -> None:
        """Put these in-flight items back to pending, on their own (no attempt counted)."""

    def recover(self) -> int:
        """Put every in-flight item and batch back to pending, as they were (no attempt
        counted): what was claimed by a drain that failed before settling it. Call it only
        while no drain runs. Returns how many items moved."""

    def next_due(self) -> float | None:
        """When the earliest pending item or batch is due (None when nothing is pending)."""

    def stats(self, now: float) -> OutboxStats:
        """Counts by state and the age of the oldest pending item."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest first."""

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to pending, due now; a dead letter
        that fails its checksum stays where it is. Returns how many moved."""

    def purge_delivered(self, older_than: float) -> int:
        """Forget delivered items marked before `older_than`; returns how many."""

    def close(self) -> None:
        """Release the file."""


QueueKind = Literal["classic", "quorum"]


class Broker(Protocol):
    """A message broker's queues, as the bridge uses them: one consumer on the main queue,
    reads of one message at a time from another (the dead letters), confirmed persistent
    publishes to any queue. Every failure of the broker (refused, lost, closed,
    unconfirmed) raises BrokerError; what was received or taken and not acknowledged is
    then redelivered by the broker, and `connect` starts afresh."""

    def connect(self, topology: Topology, prefetch: int, create: QueueKind | None) -> None:
        """(Re)connect and declare the dead letters and the delay queues; the first
        `receive` then consumes `topology.queue` with `prefetch` unacknowledged messages at
        most (a connection that only `take`s holds none of it). The main queue is only
        checked (a passive declare) unless `create` says to declare it of that kind."""

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        """Up to `limit` messages of the main queue, waiting up to `wait` seconds for the
        first one."""

    def take(self, queue: str, limit: int) -> list[BrokerMessage]:
        """Up to `limit` messages from the head of `queue`, in order, without waiting (an
        empty list when it is empty). They stay the broker's until acked: a `requeue`, a
        lost connection or `close` puts them back in their places."""

    def ack(self, tags: Sequence[int]) -> None:
        """The broker may forget these messages."""

    def requeue(self, tags: Sequence[int]) -> None:
        """Give these messages back to the queue they came from, undelivered (nack with
        requeue)."""

    def publish(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        """Put a persistent copy in `queue` through the default exchange; returns once the
        broker has confirmed it (BrokerError when it cannot route or store it)."""

    def depth(self, queue: str) -> int:
        """How many messages wait in `queue`, ready to be delivered."""

    def close(self) -> None:
        """Stop consuming, give back what was received and not settled, disconnect."""


class NonceStore(Protocol):
    """The nonces of the signed feedback answers already accepted, each until it expires
    (when its answer would be stale anyway), so that a captured answer cannot be replayed.
    Times are Unix seconds passed in by the caller (the Clock port)."""

    def seen(self, nonce: str, now: float) -> bool:
        """True when `nonce` is remembered and has not expired by `now`."""

    def remember(self, nonce: str, now: float, expires_at: float) -> bool:
        """Remember `nonce` until `expires_at`, atomically: False (nothing changed) when it
        is already remembered and not expired by `now`, so that of two verifications of
        one answer (threads, or processes sharing a durable store) exactly one wins."""

    def close(self) -> None:
        """Release what the store holds open (a file)."""
