"""The outbox's values and its one decision: when to try an item again.

An item waits in the outbox from `enqueue` until VectorVue has accepted it (delivered) or
has refused it for good (dead-lettered with the reason). Transient failures never drop an
item: it is tried again later, at a time from `next_attempt_delay`, for as long as it takes
(`max_attempts` can bound that, and then the item is dead-lettered, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from vectorvue_client.domain.envelope import ItemOutcome

# Statuses that say "this item is wrong", not "try later": the item is dead-lettered.
PERMANENT_STATUSES: Final = frozenset({400, 404, 409, 413, 415, 422})


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
class Reschedule:
    """Try `key` again at `next_attempt_at` (Unix time); `error` says why it failed."""

    key: str
    next_attempt_at: float
    error: str


@dataclass(frozen=True, slots=True)
class Burial:
    """Move `key` to the dead letters: VectorVue (or local validation) refused it for good."""

    key: str
    reason: str
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An item VectorVue will not take, with the reason, kept until retried or purged."""

    key: str
    kind: ItemKind
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
    ceiling = min(cap, base * 2.0 ** min(attempts - 1, 62))
    delay = jitter * ceiling
    return max(delay, retry_after) if retry_after is not None else delay


def is_permanent_item_failure(outcome: ItemOutcome) -> bool:
    """A batch item VectorVue refused (its results say failed): the item itself is wrong.
    An item it said nothing about ("unknown") is not permanent: it is tried again."""
    return outcome.status == "failed"
