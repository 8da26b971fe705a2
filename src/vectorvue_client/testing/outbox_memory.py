"""MemoryOutbox: the Outbox port in memory, with the SQLite adapter's exact semantics (the
contract suite in tests/contract runs against both), plus crash() for recovery tests."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final

from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    Burial,
    Claimed,
    DeadLetter,
    OutboxRecord,
    OutboxStats,
    Reschedule,
)

_PATH: Final = "<memory>"


class _State(Enum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class _Item:
    seq: int  # FIFO order; never reused, so a dead letter keeps its place
    record: OutboxRecord
    state: _State
    attempts: int
    next_attempt_at: float
    enqueued_at: float
    delivered_at: float | None = None


@dataclass(frozen=True, slots=True)
class _Dead:
    seq: int
    letter: DeadLetter


class MemoryOutbox:
    """An Outbox in memory: FIFO by put order, dedupe by key across every state (dead and
    delivered included), attempts counted by reschedule and bury, dead letters in burial
    order. Thread-safe. Nothing survives the object, except through crash()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Item] = {}
        self._dead: dict[str, _Dead] = {}  # insertion order is burial order
        self._next_seq = 1
        self._closed = False

    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Store the records; keys already present (any state, dead too) are left as they
        are. Returns how many were new."""
        with self._lock:
            self._check_open()
            new = 0
            for record in records:
                if record.key in self._items or record.key in self._dead:
                    continue
                self._items[record.key] = _Item(self._next_seq, record, _State.PENDING, 0, now, now)
                self._next_seq += 1
                new += 1
            return new

    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` pending items due by `now`, in FIFO order, now marked in flight."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        with self._lock:
            self._check_open()
            due = (
                i
                for i in self._items.values()
                if i.state is _State.PENDING and i.next_attempt_at <= now
            )
            taken = heapq.nsmallest(limit, due, key=lambda i: i.seq)
            for item in taken:
                self._items[item.record.key] = replace(item, state=_State.IN_FLIGHT)
            return [
                Claimed(i.record.key, i.record.kind, i.record.body, i.attempts, i.enqueued_at)
                for i in taken
            ]

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """Mark these in-flight items delivered (keys not in flight are left as they are)."""
        with self._lock:
            self._check_open()
            for item in self._in_flight(keys):
                # As the SQLite adapter does: the body is not kept once VectorVue has it.
                record = replace(item.record, body=b"")
                self._items[record.key] = replace(
                    item, record=record, state=_State.DELIVERED, delivered_at=now
                )

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight items; pending again from their time."""
        with self._lock:
            self._check_open()
            for retry in retries:
                item = self._items.get(retry.key)
                if item is not None and item.state is _State.IN_FLIGHT:
                    self._items[retry.key] = replace(
                        item,
                        state=_State.PENDING,
                        attempts=item.attempts + 1,
                        next_attempt_at=retry.next_attempt_at,
                    )

    def bury(self, burials: Sequence[Burial], now: float) -> None:
        """Count the attempt of these in-flight items and move them to the dead letters."""
        with self._lock:
            self._check_open()
            for burial in burials:
                item = self._items.get(burial.key)
                if item is None or item.state is not _State.IN_FLIGHT:
                    continue
                del self._items[burial.key]
                letter = DeadLetter(
                    key=burial.key,
                    kind=item.record.kind,
                    body=item.record.body,
                    attempts=item.attempts + 1,
                    reason=burial.reason,
                    status_code=burial.status_code,
                    enqueued_at=item.enqueued_at,
                    died_at=now,
                )
                self._dead[burial.key] = _Dead(item.seq, letter)

    def release(self, keys: Sequence[str]) -> None:
        """Put these in-flight items back to pending as they were (no attempt counted)."""
        with self._lock:
            self._check_open()
            for item in self._in_flight(keys):
                self._items[item.record.key] = replace(item, state=_State.PENDING)

    def next_due(self) -> float | None:
        """When the earliest pending item is due (None when nothing is pending)."""
        with self._lock:
            self._check_open()
            return min(
                (i.next_attempt_at for i in self._items.values() if i.state is _State.PENDING),
                default=None,
            )

    def stats(self, now: float) -> OutboxStats:
        """Counts by state and the age of the oldest pending item (never negative)."""
        with self._lock:
            self._check_open()
            counts = dict.fromkeys(_State, 0)
            oldest: float | None = None
            for item in self._items.values():
                counts[item.state] += 1
                if item.state is _State.PENDING and (oldest is None or item.enqueued_at < oldest):
                    oldest = item.enqueued_at
            return OutboxStats(
                pending=counts[_State.PENDING],
                in_flight=counts[_State.IN_FLIGHT],
                delivered=counts[_State.DELIVERED],
                dead=len(self._dead),
                oldest_pending_age_seconds=None if oldest is None else max(0.0, now - oldest),
            )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest burial first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        with self._lock:
            self._check_open()
            return [dead.letter for dead in list(self._dead.values())[:limit]]

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to pending, due now, at their old
        place in the queue and with their attempts; returns how many moved."""
        with self._lock:
            self._check_open()
            chosen = list(self._dead) if keys is None else list(dict.fromkeys(keys))
            moved = 0
            for key in chosen:
                dead = self._dead.pop(key, None)
                if dead is None:
                    continue
                letter = dead.letter
                record = OutboxRecord(letter.key, letter.kind, letter.body)
                self._items[key] = _Item(
                    dead.seq, record, _State.PENDING, letter.attempts, now, letter.enqueued_at
                )
                moved += 1
            return moved

    def purge_delivered(self, older_than: float) -> int:
        """Forget delivered items marked before `older_than`; returns how many."""
        with self._lock:
            self._check_open()
            old = [
                key
                for key, item in self._items.items()
                if item.delivered_at is not None and item.delivered_at < older_than
            ]
            for key in old:
                del self._items[key]
            return len(old)

    def close(self) -> None:
        """Further calls raise VectorVueOutboxError, as on a closed file. Idempotent."""
        with self._lock:
            self._closed = True

    def states(self) -> dict[str, str]:
        """Every key and its state ("pending", "in_flight", "delivered" or "dead"): what a
        test checks to know that no item is lost, duplicated or in two places."""
        with self._lock:
            found = {key: item.state.value for key, item in self._items.items()}
            found.update(dict.fromkeys(self._dead, "dead"))
            return found

    def crash(self) -> MemoryOutbox:
        """Simulate a crash of the owning process: this outbox is closed, and the returned
        one holds what a reopened file would: every item and dead letter as stored, items
        that were in flight pending again with their attempts unchanged."""
        with self._lock:
            self._check_open()
            self._closed = True
            survivor = MemoryOutbox()
            survivor._items = {
                key: replace(item, state=_State.PENDING) if item.state is _State.IN_FLIGHT else item
                for key, item in self._items.items()
            }
            survivor._dead = dict(self._dead)
            survivor._next_seq = self._next_seq
            return survivor

    def _in_flight(self, keys: Sequence[str]) -> list[_Item]:
        # A key named twice changes once: the second time it is no longer in flight.
        found = []
        for key in dict.fromkeys(keys):
            item = self._items.get(key)
            if item is not None and item.state is _State.IN_FLIGHT:
                found.append(item)
        return found

    def _check_open(self) -> None:
        if self._closed:
            raise VectorVueOutboxError(_PATH, "the outbox is closed")
