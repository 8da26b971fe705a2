"""MemoryOutbox: the Outbox port in memory, with the SQLite adapter's exact semantics (the
contract suite in tests/contract runs against both), plus crash() for recovery tests."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final

from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    Batch,
    Burial,
    Claimed,
    ClaimedBatch,
    DeadLetter,
    ItemKind,
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
    state: _State  # for an item in a batch: the batch's state decides, not this
    attempts: int
    next_attempt_at: float
    enqueued_at: float
    delivered_at: float | None = None
    batch: str | None = None  # the key of the sealed batch it belongs to


@dataclass(frozen=True, slots=True)
class _Sealed:
    seq: int
    batch: Batch
    state: _State  # PENDING or IN_FLIGHT
    attempts: int
    next_attempt_at: float


@dataclass(frozen=True, slots=True)
class _Dead:
    seq: int
    letter: DeadLetter


class MemoryOutbox:
    """An Outbox in memory: FIFO by put order, dedupe by key across every state (dead and
    delivered included), attempts counted by reschedule and bury, dead letters in burial
    order, sealed batches claimed whole. Thread-safe. Nothing survives the object, except
    through crash()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Item] = {}
        self._batches: dict[str, _Sealed] = {}
        self._dead: dict[str, _Dead] = {}  # insertion order is burial order
        self._next_seq = 1
        self._next_batch = 1
        self._closed = False

    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Store the records; keys already present (any state, dead too) are left as they
        are. Returns how many were new."""
        with self._open():
            new = 0
            for record in records:
                if record.key in self._items or record.key in self._dead:
                    continue
                self._items[record.key] = _Item(self._next_seq, record, _State.PENDING, 0, now, now)
                self._next_seq += 1
                new += 1
            return new

    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` pending items in no batch, due by `now`, in FIFO order, now in
        flight."""
        _check_limit(limit)
        with self._open():
            due = (
                i
                for i in self._items.values()
                if i.batch is None and i.state is _State.PENDING and i.next_attempt_at <= now
            )
            taken = heapq.nsmallest(limit, due, key=lambda i: i.seq)
            for item in taken:
                self._items[item.record.key] = replace(item, state=_State.IN_FLIGHT)
            return [_claimed(i) for i in taken]

    def seal(self, batches: Sequence[Batch], now: float) -> None:
        """Record that these claimed items go out together; the batches are in flight."""
        with self._open():
            for batch in batches:  # checked whole first: all or nothing, as a transaction
                _check_batch(batch, self._batches, self._items)
            for batch in batches:
                self._batches[batch.key] = _Sealed(
                    self._next_batch, batch, _State.IN_FLIGHT, 0, now
                )
                self._next_batch += 1
                for key in batch.items:
                    self._items[key] = replace(self._items[key], batch=batch.key)

    def claim_batches(self, limit: int, now: float) -> list[ClaimedBatch]:
        """Up to `limit` sealed batches due by `now`, oldest first, now in flight."""
        _check_limit(limit)
        with self._open():
            due = (
                b
                for b in self._batches.values()
                if b.state is _State.PENDING and b.next_attempt_at <= now
            )
            taken = heapq.nsmallest(limit, due, key=lambda b: b.seq)
            out = []
            for sealed in taken:
                self._batches[sealed.batch.key] = replace(sealed, state=_State.IN_FLIGHT)
                items = tuple(_claimed(self._items[key]) for key in sealed.batch.items)
                batch = sealed.batch
                out.append(ClaimedBatch(batch.key, batch.path, batch.body, sealed.attempts, items))
            return out

    def reschedule_batches(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight batches and of their items; pending again
        until their time, still sealed."""
        with self._open():
            for retry in retries:
                sealed = self._batches.get(retry.key)
                if sealed is None or sealed.state is not _State.IN_FLIGHT:
                    continue
                self._batches[retry.key] = replace(
                    sealed,
                    state=_State.PENDING,
                    attempts=sealed.attempts + 1,
                    next_attempt_at=retry.next_attempt_at,
                )
                for key in sealed.batch.items:
                    item = self._items[key]
                    self._items[key] = replace(item, attempts=item.attempts + 1)

    def release_batches(self, keys: Sequence[str]) -> None:
        """Put these in-flight batches back to pending as they were."""
        with self._open():
            for key in dict.fromkeys(keys):
                sealed = self._batches.get(key)
                if sealed is not None and sealed.state is _State.IN_FLIGHT:
                    self._batches[key] = replace(sealed, state=_State.PENDING)

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """Mark these in-flight items delivered (keys not in flight are left as they are)."""
        with self._open():
            for item in self._in_flight(keys):
                item = self._dissolve(item)
                # As the SQLite adapter does: the body is not kept once VectorVue has it.
                record = replace(item.record, body=b"")
                self._items[record.key] = replace(
                    item, record=record, state=_State.DELIVERED, delivered_at=now
                )

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight items; pending again from their time."""
        with self._open():
            chosen = {r.key: r for r in reversed(retries)}  # the first wins, as in SQL
            for item in self._in_flight([r.key for r in retries]):
                item = self._dissolve(item)
                retry = chosen[item.record.key]
                self._items[item.record.key] = replace(
                    item,
                    state=_State.PENDING,
                    attempts=item.attempts + 1,
                    next_attempt_at=retry.next_attempt_at,
                )

    def bury(self, burials: Sequence[Burial], now: float) -> None:
        """Count the attempt of these in-flight items and move them to the dead letters."""
        with self._open():
            first: dict[str, Burial] = {}
            for burial in burials:
                first.setdefault(burial.key, burial)
            for item in self._in_flight(list(first)):
                item = self._dissolve(item)
                burial = first[item.record.key]
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
        """Put these in-flight items back to pending on their own (no attempt counted)."""
        with self._open():
            for item in self._in_flight(keys):
                item = self._dissolve(item)
                self._items[item.record.key] = replace(item, state=_State.PENDING)

    def recover(self) -> int:
        """Every in-flight item and batch back to pending, as they were."""
        with self._open():
            return self._recover()

    def next_due(self) -> float | None:
        """When the earliest pending item or batch is due (None when nothing is pending)."""
        with self._open():
            items = (
                i.next_attempt_at
                for i in self._items.values()
                if i.batch is None and i.state is _State.PENDING
            )
            batches = (
                b.next_attempt_at for b in self._batches.values() if b.state is _State.PENDING
            )
            return min((*items, *batches), default=None)

    def stats(self, now: float) -> OutboxStats:
        """Counts by state and the age of the oldest pending item (never negative)."""
        with self._open():
            counts = dict.fromkeys(_State, 0)
            oldest: float | None = None
            for item in self._items.values():
                state = self._state_of(item)
                counts[state] += 1
                if state is _State.PENDING and (oldest is None or item.enqueued_at < oldest):
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
        _check_limit(limit)
        with self._open():
            return [dead.letter for dead in list(self._dead.values())[:limit]]

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to pending, due now, at their old
        place in the queue and with their attempts; returns how many moved."""
        with self._open():
            chosen = list(self._dead) if keys is None else list(dict.fromkeys(keys))
            moved = 0
            for key in chosen:
                dead = self._dead.pop(key, None)
                if dead is None:
                    continue
                letter = dead.letter
                record = OutboxRecord(letter.key, ItemKind(letter.kind), letter.body)
                self._items[key] = _Item(
                    dead.seq, record, _State.PENDING, letter.attempts, now, letter.enqueued_at
                )
                moved += 1
            return moved

    def purge_delivered(self, older_than: float) -> int:
        """Forget delivered items marked before `older_than`; returns how many."""
        with self._open():
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
        """Every key and its state ("pending", "in_flight", "delivered" or "dead"; an item
        in a batch has its batch's): what a test checks to know that no item is lost,
        duplicated or in two places."""
        with self._lock:
            found = {key: self._state_of(item).value for key, item in self._items.items()}
            found.update(dict.fromkeys(self._dead, "dead"))
            return found

    def sealed(self) -> dict[str, tuple[str, ...]]:
        """Every sealed batch's key and its items' keys, in body order."""
        with self._lock:
            return {key: sealed.batch.items for key, sealed in self._batches.items()}

    def crash(self) -> MemoryOutbox:
        """Simulate a crash of the owning process: this outbox is closed, and the returned
        one holds what a reopened file would: every item, batch and dead letter as stored,
        what was in flight pending again with its attempts unchanged."""
        with self._open():
            self._closed = True
            survivor = MemoryOutbox()
            survivor._items = dict(self._items)
            survivor._batches = dict(self._batches)
            survivor._dead = dict(self._dead)
            survivor._next_seq = self._next_seq
            survivor._next_batch = self._next_batch
            survivor._recover()
            return survivor

    def _recover(self) -> int:
        moved = 0
        for key, item in list(self._items.items()):
            if item.batch is None and item.state is _State.IN_FLIGHT:
                self._items[key] = replace(item, state=_State.PENDING)
                moved += 1
        for key, sealed in list(self._batches.items()):
            if sealed.state is _State.IN_FLIGHT:
                self._batches[key] = replace(sealed, state=_State.PENDING)
                moved += len(sealed.batch.items)
        return moved

    def _state_of(self, item: _Item) -> _State:
        return item.state if item.batch is None else self._batches[item.batch].state

    def _in_flight(self, keys: Iterable[str]) -> list[_Item]:
        # A key named twice changes once: the second time it is no longer in flight.
        found = []
        for key in dict.fromkeys(keys):
            item = self._items.get(key)
            if item is not None and self._state_of(item) is _State.IN_FLIGHT:
                found.append(item)
        return found

    def _dissolve(self, item: _Item) -> _Item:
        """An item's fate is settled only once its request's answer is known: its batch is
        dissolved first, every item of it in flight on its own. Returns `item` as it is
        now."""
        current = self._items[item.record.key]  # a batch dissolved earlier may have moved it
        if current.batch is not None:
            sealed = self._batches.pop(current.batch)
            for key in sealed.batch.items:
                member = self._items[key]
                self._items[key] = replace(member, batch=None, state=_State.IN_FLIGHT)
        return self._items[item.record.key]

    @contextmanager
    def _open(self) -> Iterator[None]:
        """Under the lock, on an outbox not yet closed (closed: as a closed file, an error)."""
        with self._lock:
            if self._closed:
                raise VectorVueOutboxError(_PATH, "the outbox is closed")
            yield


def _claimed(item: _Item) -> Claimed:
    return Claimed(
        item.record.key, item.record.kind, item.record.body, item.attempts, item.enqueued_at
    )


def _check_batch(batch: Batch, batches: dict[str, _Sealed], items: dict[str, _Item]) -> None:
    if batch.key in batches:
        raise ValueError(f"a batch with key {batch.key} is already sealed")
    if not batch.items or len(set(batch.items)) != len(batch.items):
        raise ValueError("a batch holds one or more distinct items")
    for key in batch.items:
        item = items.get(key)
        if item is None or item.batch is not None or item.state is not _State.IN_FLIGHT:
            raise ValueError(f"item {key} is not claimed on its own: it cannot be sealed")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")
