"""The outbox's values and its decisions: when to try an item again, and whether a stored
item is still the one that was stored.

An item waits in the outbox from `enqueue` until VectorVue has accepted it (delivered) or
has refused it for good (dead-lettered with the reason). Transient failures never drop an
item: it is tried again later, at a time from `next_attempt_delay`, for as long as it takes
(`max_attempts` can bound that, and then the item is dead-lettered, never dropped).

Items that go out together in one request form a `Batch`, recorded before its first
attempt: until VectorVue's answer to it is known, every resend carries the same bytes
under the same Idempotency-Key, across drains, restarts and kill -9.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from vectorvue_client.domain.envelope import ItemOutcome
from vectorvue_client.domain.redaction import scrub
from vectorvue_client.domain.retry import GATEWAY_RETRYABLE_STATUSES, backoff

# Statuses that say "this item is wrong", not "try later": the item is dead-lettered.
PERMANENT_STATUSES: Final = frozenset({400, 404, 409, 413, 415, 422})
# On the gateway a 409 says its (timestamp, nonce) was seen before, not that the item is
# wrong: it was not processed, and a new attempt is signed afresh (domain.retry).
GATEWAY_PERMANENT_STATUSES: Final = PERMANENT_STATUSES - GATEWAY_RETRYABLE_STATUSES


class ItemKind(StrEnum):
    """What an outbox item is, which decides how it is delivered."""

    EVENT = "event"  # a CanonicalEvent
    FINDING = "finding"  # an IntegrationFinding


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One item to store: `key` is "<kind>:<item id>" (deterministic: the same content
    enqueued twice has the same key and is stored once); `body` its canonical encoding."""

    key: str
    kind: ItemKind
    body: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """An item taken for delivery (now in flight)."""

    key: str
    kind: ItemKind
    body: bytes
    attempts: int  # delivery attempts made before this one
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class Batch:
    """Claimed items about to go out together in one request: the exact body (JSON), its
    Idempotency-Key, the request path, and the items' keys in the order the body holds
    them. Sealed in the outbox before the first attempt."""

    key: str
    path: str
    body: bytes
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimedBatch:
    """A sealed batch taken for a resend (now in flight), with its items in body order.
    `attempts` counts the attempts of this batch made before this one."""

    key: str
    path: str
    body: bytes
    attempts: int
    items: tuple[Claimed, ...]


@dataclass(frozen=True, slots=True)
class Reschedule:
    """Try `key` (an item's, or a batch's) again at `next_attempt_at` (Unix time); `error`
    says why it failed. Scrubbed of every known secret: the outbox stores it."""

    key: str
    next_attempt_at: float
    error: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", scrub(self.error))


@dataclass(frozen=True, slots=True)
class Burial:
    """Move `key` to the dead letters: VectorVue (or local validation) refused it for good.
    The reason is scrubbed of every known secret: the outbox stores it."""

    key: str
    reason: str
    status_code: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", scrub(self.reason))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An item VectorVue will not take, with the reason, kept until retried or purged.
    `kind` is the stored kind as text: an item damaged on disk keeps what was read."""

    key: str
    kind: str
    body: bytes
    attempts: int
    reason: str
    status_code: int | None
    enqueued_at: float
    died_at: float


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts by state, and the age in seconds of the oldest pending item (None if none)."""

    pending: int
    in_flight: int
    delivered: int
    dead: int
    oldest_pending_age_seconds: float | None


def next_attempt_delay(
    attempts: int, *, base: float, cap: float, jitter: float, retry_after: float | None
) -> float:
    """Seconds before the next delivery attempt of an item that has failed `attempts`
    times: the server's Retry-After when it gave one (never less), else exponential
    backoff with full jitter (`jitter` in [0, 1)), capped at `cap`."""
    if attempts < 1:
        raise ValueError("attempts counts failures, from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    delay = backoff(attempts, base=base, cap=cap, jitter=jitter)
    return max(delay, retry_after) if retry_after is not None else delay


def is_permanent_item_failure(outcome: ItemOutcome) -> bool:
    """A batch item VectorVue refused (its results say failed): the item itself is wrong.
    An item it said nothing about ("unknown") is not permanent: it is tried again."""
    return outcome.status == "failed"


def item_digest(key: str, kind: str, body: bytes) -> bytes:
    """The checksum stored beside an item and verified whenever it is read back: a row
    damaged on disk (a flipped byte in its key, kind or body) is never sent altered."""
    return _digest(b"vv-outbox-item", (key, kind), body)


def batch_digest(key: str, path: str, body: bytes, items: tuple[str, ...]) -> bytes:
    """The checksum of a sealed batch: its key, path, body and item keys in order."""
    return _digest(b"vv-outbox-batch", (key, path, *items), body)


def _digest(person: bytes, parts: tuple[str, ...], body: bytes) -> bytes:
    # Each part is length-prefixed, so no two different inputs share a hash input.
    h = hashlib.blake2b(digest_size=16, person=person)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    h.update(body)
    return h.digest()


def item_id(key: str) -> str:
    """The event_id or finding_id an item key names ("event:<tenant>:<id>",
    "finding:<id>")."""
    kind, _, rest = key.partition(":")
    if kind == ItemKind.EVENT:
        return rest.partition(":")[2]
    return rest


UNREADABLE: Final = "unreadable outbox item"

# The waits an item can spend in a broker's delay queue (ADR 0032): 0.1 s doubled up to about
# 9.7 days. A queue's TTL is fixed, so each wait is a queue of its own; a ladder keeps their
# number small (24) whatever the jitter and Retry-After ask for.
DELAY_STEPS_MS: Final[tuple[int, ...]] = tuple(100 << step for step in range(24))


def delay_step_ms(seconds: float) -> int | None:
    """The delay queue's TTL for a wait of `seconds`: the shortest step that is not shorter,
    so an item is never tried before its time (at most twice as late, and never later than
    the last step). None: no wait, the item is due now."""
    if seconds <= 0:
        return None
    wanted = seconds * 1000
    return next((ms for ms in DELAY_STEPS_MS if ms >= wanted), DELAY_STEPS_MS[-1])
