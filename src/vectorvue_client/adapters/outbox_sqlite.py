"""Outbox onto one SQLite file in WAL mode, owned by one process (ADR 0015)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final, Literal, TypeVar

from vectorvue_client.adapters.outbox_sqlite_schema import (
    DELIVERED,
    IN_FLIGHT,
    PENDING,
    database_failure,
    open_database,
    rollback,
)
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    Burial,
    Claimed,
    DeadLetter,
    ItemKind,
    OutboxRecord,
    OutboxStats,
    Reschedule,
)

_LOGGER: Final = logging.getLogger("vectorvue_client.outbox")
_T = TypeVar("_T")

# The SQL is literal text, parameters always bound: no value is ever formatted into it.
# States (see outbox_sqlite_schema): 0 pending, 1 in flight, 2 delivered.

# A key already stored (any state) or dead is left alone: OR IGNORE covers the first, the
# NOT EXISTS the second (a key lives in exactly one of the two tables).
_PUT: Final = """
INSERT OR IGNORE INTO items
    (key, kind, body, state, attempts, next_attempt_at, enqueued_at, updated_at)
SELECT ?, ?, ?, 0, 0, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE key = ?)
"""
# Walks items_queue in seq order over pending items, reading the due time from the index,
# and stops after `limit` hits. INDEXED BY pins that plan: sorting every due item by seq
# instead would cost a full pass over a backlog for each batch.
_CLAIM: Final = """
SELECT seq, key, kind, body, attempts, enqueued_at FROM items INDEXED BY items_queue
WHERE state = 0 AND next_attempt_at <= ? ORDER BY seq LIMIT ?
"""
_MARK_IN_FLIGHT: Final = "UPDATE items SET state = 1, updated_at = ? WHERE seq = ?"
# The body goes once VectorVue has the item: the row stays only to refuse the same key
# again until purged, and a finding's content has no reason to stay on disk.
_DELIVERED: Final = """
UPDATE items SET state = 2, body = X'', delivered_at = ?, updated_at = ?
WHERE key = ? AND state = 1
"""
_RESCHEDULE: Final = """
UPDATE items SET state = 0, attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
    updated_at = ?
WHERE key = ? AND state = 1
"""
_RELEASE: Final = "UPDATE items SET state = 0 WHERE key = ? AND state = 1"
_BURY: Final = """
INSERT INTO dead_letters
    (key, seq, kind, body, attempts, reason, status_code, enqueued_at, died_at)
SELECT key, seq, kind, body, attempts + 1, ?, ?, enqueued_at, ?
FROM items WHERE key = ? AND state = 1
"""
_BURIED: Final = "DELETE FROM items WHERE key = ? AND state = 1"
_RESURRECT: Final = """
INSERT INTO items
    (seq, key, kind, body, state, attempts, next_attempt_at, enqueued_at, updated_at, last_error)
SELECT seq, key, kind, body, 0, attempts, ?, enqueued_at, ?, reason FROM dead_letters
"""
# One pass over items_queue (it holds state and enqueued_at): no table page is read.
_STATS: Final = "SELECT state, COUNT(*), MIN(enqueued_at) FROM items GROUP BY state"
_NEXT_DUE: Final = "SELECT MIN(next_attempt_at) FROM items WHERE state = 0"
_PURGE: Final = "DELETE FROM items WHERE state = 2 AND delivered_at < ?"


class SqliteOutbox:
    """The Outbox port on one SQLite file (WAL journal), owned by one process at a time.

    Durability: `synchronous="full"` (the default) flushes the write-ahead log to disk at
    every commit, so a `put` (or any change) that returned survives a power loss or an OS
    crash. `synchronous="normal"` flushes it only at checkpoints (every 64 MiB of changes):
    what returned survives a crash of this process, even kill -9, but the latest changes
    may be lost to a power loss or an OS crash (the file stays consistent either way).

    Ownership: an exclusive flock on `<path>.lock` is taken at open and held until close();
    a second process (or a second SqliteOutbox in this one) gets VectorVueOutboxError naming
    the owner's pid. The kernel releases the lock of a process that dies, however it dies.
    On open, items a previous run left in flight are pending again (attempts unchanged).

    Files: missing parent directories are created 0o700 and a new file 0o600 (its -wal and
    -shm files take its mode); an existing file's mode is never changed. A file that is not
    an outbox (another application's SQLite database, anything else, a newer schema) is
    refused with VectorVueOutboxError and left byte-for-byte as it was.

    Failures: a write the disk refuses (full, read-only, I/O error) raises
    VectorVueOutboxError after rolling its transaction back: each call stores all of its
    changes or none, and nothing stored before is lost or altered.

    Threads: one connection, used under one lock; every method may be called from any
    thread (a `put` waits while a `claim` runs, for milliseconds).

    `_max_pages` is for tests only: it caps the database's size in pages, which makes
    SQLite refuse writes exactly as a full disk would.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["full", "normal"] = "full",
        _max_pages: int | None = None,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise VectorVueConfigError("outbox_synchronous", "must be 'full' or 'normal'")
        self._path = os.path.abspath(os.fspath(path))
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None
        self._db, self._lock_fd, recovered = open_database(
            self._path, synchronous=synchronous, max_pages=_max_pages
        )
        if recovered:
            _LOGGER.warning(
                "outbox %s: %d item(s) left in flight by a previous run are pending again",
                self._path,
                recovered,
            )

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return self._path

    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Store the records in one transaction; durable when it returns. A key already
        present (in any state, dead or delivered included) is left as it is. Returns how
        many were new."""
        if not records:
            return 0
        rows = [(r.key, r.kind.value, r.body, now, now, now, r.key) for r in records]

        def run(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.executemany(_PUT, rows)
            # total_changes counts rows inserted by this transaction; sqlite_sequence
            # updates (AUTOINCREMENT) are not counted.
            return db.total_changes - before

        return self._write(f"storing {len(records)} record(s)", run)

    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` pending items due by `now`, in FIFO order, now marked in flight."""
        _check_limit(limit)

        def run(db: sqlite3.Connection) -> list[Claimed]:
            rows = db.execute(_CLAIM, (now, limit)).fetchall()
            db.executemany(_MARK_IN_FLIGHT, [(now, row[0]) for row in rows])
            return [
                Claimed(key, ItemKind(kind), body, attempts, at)
                for _, key, kind, body, attempts, at in rows
            ]

        return self._write("claiming items", run)

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """Mark these in-flight items delivered (keys not in flight are left as they are)."""
        rows = [(now, now, key) for key in keys]
        if rows:
            self._write("marking items delivered", lambda db: db.executemany(_DELIVERED, rows))

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight items; pending again from their time."""
        rows = [(r.next_attempt_at, r.error, now, r.key) for r in retries]
        if rows:
            self._write("rescheduling items", lambda db: db.executemany(_RESCHEDULE, rows))

    def bury(self, burials: Sequence[Burial], now: float) -> None:
        """Count the attempt of these in-flight items and move them to the dead letters,
        each in the same transaction as its removal from the queue."""
        # A key named twice is buried once, with its first reason (as a second bury of
        # it would find it dead); dead_letters.key is UNIQUE, so this is not optional.
        first: dict[str, Burial] = {}
        for burial in burials:
            first.setdefault(burial.key, burial)
        if not first:
            return

        def run(db: sqlite3.Connection) -> None:
            db.executemany(_BURY, [(b.reason, b.status_code, now, b.key) for b in first.values()])
            db.executemany(_BURIED, [(key,) for key in first])

        self._write("moving items to the dead letters", run)

    def release(self, keys: Sequence[str]) -> None:
        """Put these in-flight items back to pending as they were (no attempt counted)."""
        rows = [(key,) for key in keys]
        if rows:
            self._write("releasing items", lambda db: db.executemany(_RELEASE, rows))

    def next_due(self) -> float | None:
        """When the earliest pending item is due (None when nothing is pending)."""
        due: float | None = self._read(lambda db: db.execute(_NEXT_DUE).fetchone()[0])
        return due

    def stats(self, now: float) -> OutboxStats:
        """Counts by state and the age of the oldest pending item (never negative)."""

        def run(db: sqlite3.Connection) -> OutboxStats:
            by_state = {state: (n, oldest) for state, n, oldest in db.execute(_STATS)}
            dead = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            pending, oldest = by_state.get(PENDING, (0, None))
            return OutboxStats(
                pending=pending,
                in_flight=by_state.get(IN_FLIGHT, (0, None))[0],
                delivered=by_state.get(DELIVERED, (0, None))[0],
                dead=dead,
                oldest_pending_age_seconds=None if oldest is None else max(0.0, now - oldest),
            )

        return self._read(run)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The dead letters, oldest burial first."""
        _check_limit(limit)
        sql = """SELECT key, kind, body, attempts, reason, status_code, enqueued_at, died_at
                 FROM dead_letters ORDER BY burial LIMIT ?"""
        rows = self._read(lambda db: db.execute(sql, (limit,)).fetchall())
        return [
            DeadLetter(key, ItemKind(kind), body, attempts, reason, code, enqueued, died)
            for key, kind, body, attempts, reason, code, enqueued, died in rows
        ]

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to pending, due now, at their old
        place in the queue and with their attempts; returns how many moved."""

        def run(db: sqlite3.Connection) -> int:
            if keys is None:
                moved = db.execute(_RESURRECT, (now, now)).rowcount
                db.execute("DELETE FROM dead_letters")
                return moved
            rows = [(now, now, key) for key in dict.fromkeys(keys)]
            moved = db.executemany(_RESURRECT + " WHERE key = ?", rows).rowcount
            db.executemany("DELETE FROM dead_letters WHERE key = ?", [r[2:] for r in rows])
            return moved

        return self._write("retrying dead letters", run)

    def purge_delivered(self, older_than: float) -> int:
        """Forget delivered items marked before `older_than`; returns how many. A purged key
        put again is stored again (VectorVue dedupes it by its idempotency key)."""
        return self._write(
            "purging delivered items", lambda db: db.execute(_PURGE, (older_than,)).rowcount
        )

    def close(self) -> None:
        """Checkpoint and close the database, then release the file to other processes.
        Closing twice is harmless; any other call after close() raises."""
        with self._lock:
            db, self._db = self._db, None
            if db is None:
                return
            try:
                db.close()
            finally:
                os.close(self._lock_fd)

    def _write(self, action: str, run: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `run` in one BEGIN IMMEDIATE transaction: committed whole, or rolled back
        whole and reported as VectorVueOutboxError."""
        return self._transaction("BEGIN IMMEDIATE", action, run)

    def _read(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `run` in one read transaction: one consistent view of the file."""
        return self._transaction("BEGIN", "reading", run)

    def _transaction(self, begin: str, action: str, run: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._connection() as db:
            try:
                db.execute(begin)
                result = run(db)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                rollback(db)
                raise database_failure(self._path, exc, action) from None
            except BaseException:
                rollback(db)
                raise
            return result

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise VectorVueOutboxError(self._path, "the outbox is closed")
            yield self._db


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")
