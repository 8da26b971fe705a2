"""Outbox onto one SQLite file in WAL mode, owned by one process (ADR 0015, ADR 0024)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Literal, TypeVar

from vectorvue_client.adapters.outbox_sqlite_files import disown
from vectorvue_client.adapters.outbox_sqlite_schema import (
    BATCHED,
    DELIVERED,
    IN_FLIGHT,
    PENDING,
    database_failure,
    open_database,
    open_reader,
    recover,
    rollback,
)
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueOutboxError
from vectorvue_client.domain.outbox import (
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
    batch_digest,
    item_digest,
)
from vectorvue_client.log_scrub import scrub_logger

_LOGGER: Final = scrub_logger(logging.getLogger("vectorvue_client.outbox"))
_T = TypeVar("_T")

# The SQL is literal text, parameters always bound: no value is ever formatted into it.
# States (see outbox_sqlite_schema): 0 pending, 1 in flight, 2 delivered, 3 in a batch.

# A key already stored (any state) or dead is left alone: OR IGNORE covers the first, the
# NOT EXISTS the second (a key lives in exactly one of the two tables).
_PUT: Final = """
INSERT OR IGNORE INTO items
    (key, kind, body, digest, state, attempts, next_attempt_at, enqueued_at, updated_at)
SELECT ?, ?, ?, ?, 0, 0, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE key = ?)
"""
# Walks items_queue in seq order over pending items, reading the due time from the index,
# and stops after `limit` hits. INDEXED BY pins that plan: sorting every due item by seq
# instead would cost a full pass over a backlog for each batch.
_CLAIM: Final = """
SELECT seq, key, kind, body, digest, attempts, enqueued_at FROM items INDEXED BY items_queue
WHERE state = 0 AND next_attempt_at <= ? ORDER BY seq LIMIT ?
"""
_MARK_IN_FLIGHT: Final = "UPDATE items SET state = 1, updated_at = ? WHERE seq = ?"
_SEAL_BATCH: Final = """
INSERT INTO batches
    (key, path, body, digest, state, attempts, next_attempt_at, created_at, updated_at)
VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?)
"""
_SEAL_ITEM: Final = """
UPDATE items SET state = 3, batch = ?, batch_pos = ?, updated_at = ?
WHERE key = ? AND state = 1
"""
_CLAIM_BATCHES: Final = """
SELECT id, key, path, body, digest, attempts FROM batches
WHERE state = 0 AND next_attempt_at <= ? ORDER BY id LIMIT ?
"""
_BATCH_ITEMS: Final = """
SELECT seq, key, kind, body, digest, attempts, enqueued_at FROM items
WHERE batch = ? ORDER BY batch_pos
"""
_MARK_BATCH_IN_FLIGHT: Final = "UPDATE batches SET state = 1, updated_at = ? WHERE id = ?"
# A batch dissolved because an item's fate is settled: its items stay in flight (the drain
# settles each); one dissolved because it failed its checksum: its items are pending.
_DISSOLVE: Final = "UPDATE items SET state = 1, batch = NULL, batch_pos = NULL WHERE batch = ?"
_DISSOLVE_DAMAGED: Final = """
UPDATE items SET state = 0, batch = NULL, batch_pos = NULL, updated_at = ? WHERE batch = ?
"""
_RESCHEDULE_BATCH_ITEMS: Final = """
UPDATE items SET attempts = attempts + 1, last_error = ?, updated_at = ?
WHERE batch = (SELECT id FROM batches WHERE key = ? AND state = 1)
"""
_RESCHEDULE_BATCH: Final = """
UPDATE batches SET state = 0, attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
    updated_at = ?
WHERE key = ? AND state = 1
"""
_RELEASE_BATCH: Final = "UPDATE batches SET state = 0 WHERE key = ? AND state = 1"
# An item's fate is settled only once the answer to its request is known: settling one
# item of an in-flight batch first dissolves that batch (its items are in flight on their
# own, state 1, and are settled in turn), so the fates below act on state 1 alone.
# The keys come as one JSON array (one statement, whatever their number). CROSS JOIN fixes
# the order: from each key, by the key index, to its batch by rowid (left to choose, the
# planner walks the batch's items and scans the array for each: 40 times slower).
_FLYING_BATCHES_OF: Final = """
SELECT DISTINCT b.id FROM json_each(?) AS j
CROSS JOIN items i ON i.key = j.value CROSS JOIN batches b ON b.id = i.batch
WHERE i.state = 3 AND b.state = 1
"""
# The body goes once VectorVue has the item: the row stays only to refuse the same key
# again until purged, and a finding's content has no reason to stay on disk.
_DELIVERED: Final = """
UPDATE items SET state = 2, body = X'', digest = X'', delivered_at = ?, updated_at = ?
WHERE key = ? AND state = 1
"""
_RESCHEDULE: Final = """
UPDATE items SET state = 0, attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
    updated_at = ?
WHERE key = ? AND state = 1
"""
_RELEASE: Final = """
UPDATE items SET state = 0 WHERE key = ? AND state = 1
"""
_BURY: Final = """
INSERT INTO dead_letters
    (key, seq, kind, body, digest, attempts, reason, status_code, enqueued_at, died_at)
SELECT key, seq, kind, body, digest, attempts + 1, ?, ?, enqueued_at, ?
FROM items WHERE key = ? AND state = 1
"""
_BURIED: Final = """
DELETE FROM items
WHERE key = ? AND state = 1
"""
# An item that failed its checksum, buried as it was read (a damaged key that happens to
# equal a dead letter's gets a suffix: the UNIQUE key must not block the queue).
_BURY_UNREADABLE: Final = """
INSERT INTO dead_letters
    (key, seq, kind, body, digest, attempts, reason, status_code, enqueued_at, died_at)
SELECT CASE WHEN EXISTS (SELECT 1 FROM dead_letters d WHERE d.key = items.key)
            THEN key || '#unreadable-' || seq ELSE key END,
       seq, kind, body, digest, attempts, ?, NULL, enqueued_at, ?
FROM items WHERE seq = ?
"""
_DELETE_SEQ: Final = "DELETE FROM items WHERE seq = ?"
_LETTERS_TO_RETRY: Final = """
SELECT key, seq, kind, body, digest, attempts, reason, enqueued_at FROM dead_letters
"""
_RESURRECT: Final = """
INSERT INTO items
    (seq, key, kind, body, digest, state, attempts, next_attempt_at, enqueued_at, updated_at,
     last_error)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)
"""
# One pass over items_queue (it holds state and enqueued_at): no table page is read.
_STATS: Final = "SELECT state, COUNT(*), MIN(enqueued_at) FROM items GROUP BY state"
_BATCHED_STATS: Final = """
SELECT b.state, COUNT(*), MIN(i.enqueued_at) FROM items i JOIN batches b ON i.batch = b.id
WHERE i.state = 3 GROUP BY b.state
"""
_NEXT_DUE: Final = """
SELECT MIN(due) FROM (
    SELECT MIN(next_attempt_at) AS due FROM items WHERE state = 0
    UNION ALL SELECT MIN(next_attempt_at) FROM batches WHERE state = 0)
"""
_NEXT_DUE_V1: Final = "SELECT MIN(next_attempt_at) FROM items WHERE state = 0"
_PURGE: Final = "DELETE FROM items WHERE state = 2 AND delivered_at < ?"

_Row = tuple[Any, ...]


class SqliteOutbox:
    """The Outbox port on one SQLite file (WAL journal), owned by one process at a time.

    Durability: `synchronous="full"` (the default) flushes the write-ahead log to disk at
    every commit, so a `put` (or any change) that returned survives a power loss or an OS
    crash. `synchronous="normal"` flushes it only at checkpoints (every 64 MiB of changes):
    what returned survives a crash of this process, even kill -9, but the latest changes
    may be lost to a power loss or an OS crash (the file stays consistent either way).

    Ownership: an exclusive flock on the database file itself is taken at open and held
    until close(), so every path that reaches the file (a symlink, a bind mount) meets it;
    a file with hard links is refused (SQLite keeps its journal beside the name). A second
    process, or a second SqliteOutbox in this one, gets VectorVueOutboxError naming the
    owner's pid. The kernel releases the lock of a process that dies, however it dies. On
    open, what a previous run left in flight is pending again (attempts unchanged).

    Readers: `SqliteOutbox.reader(path)` opens the file read-only, without the lock, for an
    operator's `stats` and `dead_letters` while a service owns it: nothing is written (no
    recovery), so the owner's claims are not disturbed; every change raises.

    Integrity: each item is stored with a checksum of its key, kind and body (and each
    sealed batch with one of its own), verified whenever it is read back to be sent. An
    item that fails it is dead-lettered as unreadable, with its key, and the rest flows; a
    batch that fails it is dissolved into its items.

    Files: missing parent directories are created 0o700 and a new file 0o600 (its -wal and
    -shm files take its mode); an existing file's mode is never changed. A file that is not
    an outbox (another application's SQLite database, anything else, a newer schema) is
    refused with VectorVueOutboxError and left byte-for-byte as it was. A file of schema 1
    (an older version) is upgraded in place, in one transaction, by its owner.

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
        # The real path: SQLite puts the -wal and -shm files beside the name it opens, and
        # the owner lock is on the file, so every name for it must come to one.
        self._path = os.path.realpath(os.path.abspath(os.fspath(path)))
        self._lock = threading.Lock()
        self._readonly = False
        self._version = 2
        self._synchronous = synchronous.upper()
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

    @classmethod
    def reader(cls, path: str | os.PathLike[str]) -> SqliteOutbox:
        """The outbox at `path`, opened read-only and without the owner lock: stats, dead
        letters and next_due while another process may own it. Every change raises."""
        self = cls.__new__(cls)
        self._path = os.path.realpath(os.path.abspath(os.fspath(path)))
        self._lock = threading.Lock()
        self._readonly = True
        self._db, self._version = open_reader(self._path)
        self._lock_fd = -1
        return self

    @property
    def path(self) -> str:
        """The absolute, real path of the database file."""
        return self._path

    def put(self, records: Sequence[OutboxRecord], now: float) -> int:
        """Store the records in one transaction; durable when it returns. A key already
        present (in any state, dead or delivered included) is left as it is. Returns how
        many were new."""
        if not records:
            return 0
        rows = [
            (r.key, r.kind.value, r.body, item_digest(r.key, r.kind, r.body), now, now, now, r.key)
            for r in records
        ]

        def run(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.executemany(_PUT, rows)
            # total_changes counts rows inserted by this transaction; sqlite_sequence
            # updates (AUTOINCREMENT) are not counted.
            return db.total_changes - before

        return self._write(f"storing {len(records)} record(s)", run)

    def claim(self, limit: int, now: float) -> list[Claimed]:
        """Up to `limit` pending items in no batch, due by `now`, in FIFO order, now in
        flight; an item that fails its checksum is dead-lettered as unreadable instead."""
        _check_limit(limit)

        def run(db: sqlite3.Connection) -> list[Claimed]:
            rows = db.execute(_CLAIM, (now, limit)).fetchall()
            good: list[Claimed] = []
            marks = []
            for row in rows:
                claimed = _verified(row)
                if claimed is None:
                    self._bury_unreadable(db, row, now)
                else:
                    good.append(claimed)
                    marks.append((now, row[0]))
            db.executemany(_MARK_IN_FLIGHT, marks)
            return good

        return self._write("claiming items", run, flush=False)

    def seal(self, batches: Sequence[Batch], now: float) -> None:
        """Record that these claimed items go out together (see ports.Outbox.seal)."""
        if not batches:
            return

        def run(db: sqlite3.Connection) -> None:
            for batch in batches:
                if not batch.items or len(set(batch.items)) != len(batch.items):
                    raise ValueError("a batch holds one or more distinct items")
                digest = batch_digest(batch.key, batch.path, batch.body, batch.items)
                cursor = db.execute(
                    _SEAL_BATCH, (batch.key, batch.path, batch.body, digest, now, now, now)
                )
                rows = [
                    (cursor.lastrowid, position, now, key)
                    for position, key in enumerate(batch.items)
                ]
                before = db.total_changes
                db.executemany(_SEAL_ITEM, rows)
                if db.total_changes - before != len(rows):
                    raise ValueError(
                        f"batch {batch.key}: every item must be claimed on its own to be sealed"
                    )

        self._write("sealing batches", run)

    def claim_batches(self, limit: int, now: float) -> list[ClaimedBatch]:
        """Up to `limit` sealed batches due by `now`, oldest first, now in flight; one that
        fails its checksum is dissolved into its items (pending on their own)."""
        _check_limit(limit)

        def run(db: sqlite3.Connection) -> list[ClaimedBatch]:
            out: list[ClaimedBatch] = []
            for batch_id, key, path, body, digest, attempts in db.execute(
                _CLAIM_BATCHES, (now, limit)
            ).fetchall():
                rows = db.execute(_BATCH_ITEMS, (batch_id,)).fetchall()
                items = [_verified(row) for row in rows]
                keys = tuple(row[1] for row in rows)
                whole = all(i is not None for i in items) and isinstance(body, bytes)
                if not whole or digest != batch_digest(key, path, body, keys):
                    _LOGGER.warning(
                        "outbox %s: batch %s failed its checksum (damaged on disk): its "
                        "%d item(s) are pending on their own again",
                        self._path,
                        key,
                        len(rows),
                    )
                    db.execute(_DISSOLVE_DAMAGED, (now, batch_id))
                    db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                    continue
                db.execute(_MARK_BATCH_IN_FLIGHT, (now, batch_id))
                claimed = tuple(i for i in items if i is not None)
                out.append(ClaimedBatch(key, path, body, attempts, claimed))
            return out

        return self._write("claiming batches", run, flush=False)

    def reschedule_batches(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight batches and of their items; pending again
        until their time, still sealed."""
        if not retries:
            return

        def run(db: sqlite3.Connection) -> None:
            for r in {r.key: r for r in reversed(retries)}.values():  # the first wins
                db.execute(_RESCHEDULE_BATCH_ITEMS, (r.error, now, r.key))
                db.execute(_RESCHEDULE_BATCH, (r.next_attempt_at, r.error, now, r.key))

        self._write("rescheduling batches", run)

    def release_batches(self, keys: Sequence[str]) -> None:
        """Put these in-flight batches back to pending as they were (no attempt counted)."""
        rows = [(key,) for key in keys]
        if rows:
            self._write(
                "releasing batches", lambda db: db.executemany(_RELEASE_BATCH, rows), flush=False
            )

    def delivered(self, keys: Sequence[str], now: float) -> None:
        """Mark these in-flight items delivered (keys not in flight are left as they are)."""
        rows = [(now, now, key) for key in keys]
        if rows:
            self._write("marking items delivered", lambda db: self._settle(db, _DELIVERED, rows))

    def reschedule(self, retries: Sequence[Reschedule], now: float) -> None:
        """Count the attempt of these in-flight items; pending again from their time, on
        their own."""
        rows = [(r.next_attempt_at, r.error, now, r.key) for r in retries]
        if rows:
            self._write("rescheduling items", lambda db: self._settle(db, _RESCHEDULE, rows))

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
            self._settle(db, _BURY, [(b.reason, b.status_code, now, b.key) for b in first.values()])
            db.executemany(_BURIED, [(key,) for key in first])

        self._write("moving items to the dead letters", run)

    def release(self, keys: Sequence[str]) -> None:
        """Put these in-flight items back to pending on their own (no attempt counted)."""
        rows = [(key,) for key in keys]
        if rows:
            self._write("releasing items", lambda db: self._settle(db, _RELEASE, rows), flush=False)

    def recover(self) -> int:
        """Every in-flight item and batch back to pending, as they were; how many items."""
        self._check_writable("recovering items left in flight")
        with self._connection("recovering items left in flight") as db:
            try:
                return recover(db)
            except sqlite3.Error as exc:
                raise database_failure(self._path, exc, "recovering items left in flight") from None

    def next_due(self) -> float | None:
        """When the earliest pending item or batch is due (None when nothing is pending)."""
        sql = _NEXT_DUE if self._version >= 2 else _NEXT_DUE_V1
        due: float | None = self._read(lambda db: db.execute(sql).fetchone()[0])
        return due

    def stats(self, now: float) -> OutboxStats:
        """Counts by state and the age of the oldest pending item (never negative); an item
        in a batch counts in its batch's state."""

        def run(db: sqlite3.Connection) -> OutboxStats:
            counts = {PENDING: 0, IN_FLIGHT: 0, DELIVERED: 0}
            oldest: float | None = None
            rows = db.execute(_STATS).fetchall()
            if self._version >= 2:
                rows += db.execute(_BATCHED_STATS).fetchall()
            for state, n, first in rows:
                if state == BATCHED or state not in counts:
                    continue  # counted by the batch's state (or damaged: recovered at open)
                counts[state] += n
                if state == PENDING and first is not None:
                    oldest = first if oldest is None else min(oldest, first)
            dead = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
            return OutboxStats(
                pending=counts[PENDING],
                in_flight=counts[IN_FLIGHT],
                delivered=counts[DELIVERED],
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
        return [DeadLetter(*row) for row in rows]

    def retry_dead(self, keys: Sequence[str] | None, now: float) -> int:
        """Move these dead letters (all when None) back to pending, due now, at their old
        place in the queue and with their attempts; a dead letter that fails its checksum
        (an unreadable item) stays. Returns how many moved."""

        def run(db: sqlite3.Connection) -> int:
            if keys is None:
                letters = db.execute(_LETTERS_TO_RETRY).fetchall()
            else:
                letters = []
                for key in dict.fromkeys(keys):
                    letters += db.execute(_LETTERS_TO_RETRY + " WHERE key = ?", (key,)).fetchall()
            moved = 0
            for key, seq, kind, body, digest, attempts, reason, enqueued_at in letters:
                if not _intact(key, kind, body, digest):
                    continue
                db.execute(
                    _RESURRECT,
                    (seq, key, kind, body, digest, attempts, now, enqueued_at, now, reason),
                )
                db.execute("DELETE FROM dead_letters WHERE key = ?", (key,))
                moved += 1
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
                # After the connection: closing a descriptor of the file drops every POSIX
                # lock this process holds on it, SQLite's included.
                if self._lock_fd >= 0:
                    disown(self._lock_fd)
                    os.close(self._lock_fd)

    def _bury_unreadable(self, db: sqlite3.Connection, row: _Row, now: float) -> None:
        seq, key = row[0], row[1]
        reason = f"{UNREADABLE}: it failed its checksum (damaged on disk); it was not sent"
        db.execute(_BURY_UNREADABLE, (reason, now, seq))
        db.execute(_DELETE_SEQ, (seq,))
        _LOGGER.error(
            "outbox %s: item %r (seq %d) %s", self._path, key, seq, reason[len(UNREADABLE) + 2 :]
        )

    def _settle(self, db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run a fate's `sql` over `rows` (the key last in each), once the in-flight batches
        of those keys are dissolved (see _FLYING_BATCHES_OF)."""
        keys = _json_array([row[-1] for row in rows])
        for (batch_id,) in db.execute(_FLYING_BATCHES_OF, (keys,)).fetchall():
            db.execute(_DISSOLVE, (batch_id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        db.executemany(sql, rows)

    def _write(
        self, action: str, run: Callable[[sqlite3.Connection], _T], *, flush: bool = True
    ) -> _T:
        """Run `run` in one BEGIN IMMEDIATE transaction: committed whole, or rolled back
        whole and reported as VectorVueOutboxError. `flush=False` for a change that a
        crash may lose (a claim: what was in flight is pending again after a restart in any
        case): its commit is not flushed to disk; the next flushed commit covers it."""
        self._check_writable(action)
        return self._transaction("BEGIN IMMEDIATE", action, run, flush=flush)

    def _check_writable(self, action: str) -> None:
        if self._readonly:
            raise VectorVueOutboxError(
                self._path,
                f"{action}: it is open read-only (for inspection while another process "
                "may own it): only its owner changes it",
            )

    def _read(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `run` in one read transaction: one consistent view of the file."""
        return self._transaction("BEGIN", "reading", run)

    def _transaction(
        self,
        begin: str,
        action: str,
        run: Callable[[sqlite3.Connection], _T],
        *,
        flush: bool = True,
    ) -> _T:
        with self._connection(action) as db:
            try:
                if not flush:  # under the lock: no other call commits while it is off
                    db.execute("PRAGMA synchronous = OFF")
                db.execute(begin)
                result = run(db)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                rollback(db)
                raise database_failure(self._path, exc, action) from None
            except BaseException:
                rollback(db)
                raise
            finally:
                if not flush:  # never left off: every other commit must be flushed
                    db.execute(f"PRAGMA synchronous = {self._synchronous}")
            return result

    @contextmanager
    def _connection(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise VectorVueOutboxError(self._path, f"{action}: the outbox is closed")
            yield self._db


def _verified(row: _Row) -> Claimed | None:
    """The claimed item a row holds, or None when it fails its checksum."""
    _, key, kind, body, digest, attempts, enqueued_at = row
    if not _intact(key, kind, body, digest):
        return None
    return Claimed(key, ItemKind(kind), body, attempts, enqueued_at)


def _intact(key: object, kind: object, body: object, digest: object) -> bool:
    return (
        isinstance(key, str)
        and kind in (ItemKind.EVENT, ItemKind.FINDING)
        and isinstance(body, bytes)
        and isinstance(digest, bytes)
        and digest == item_digest(key, str(kind), body)
    )


def _json_array(keys: Sequence[str]) -> str:
    """Keys as one JSON array, for json_each: one bound parameter, whatever their number."""
    return json.dumps(list(keys), ensure_ascii=False)


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError("limit must be at least 1")
