"""Opening an outbox for SqliteOutbox (ADR 0015): its schema and settings, the recovery
of what a crash left in flight, and what an SQLite failure means for the operator."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Final

from vectorvue_client.adapters.outbox_sqlite_files import (
    APPLICATION_ID,
    LEFT_ALONE,
    WRITABLE,
    check_directory,
    create_file,
    fsync_directory,
    inspect,
    lock,
    make_parents,
)
from vectorvue_client.domain.errors import VectorVueOutboxError

SCHEMA_VERSION: Final = 1

# Item states, stored as small integers (the leading column of the queue index); the SQL
# in outbox_sqlite.py spells them as literals.
PENDING: Final = 0
IN_FLIGHT: Final = 1
DELIVERED: Final = 2

# Large pages: a put of 10k random keys dirties most leaves of the key index, and a page
# is written to the WAL whole; fewer, larger pages roughly halve that cost (bench_outbox).
_PAGE_SIZE: Final = 32768
_CACHE_KIB: Final = 16384  # the page cache: part of the client's resident memory
_WAL_CHECKPOINT_BYTES: Final = 64 << 20  # checkpoint (and fsync the file) every 64 MiB
_BUSY_TIMEOUT_SECONDS: Final = 5.0  # only an operator's sqlite3 shell can hold a lock
_SYNCHRONOUS: Final = {"full": "FULL", "normal": "NORMAL"}

# The CHECKs spell out OR instead of IN (...): SQLite builds an IN list's lookup table
# again for every row inserted, which cost a put a third of its rate.
_DDL: Final = """
CREATE TABLE items (
    -- FIFO order. AUTOINCREMENT never reuses a value, so a dead letter keeps its place
    -- in the queue and can be put back there.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind = 'event' OR kind = 'finding'),
    body BLOB NOT NULL,
    -- 0 pending, 1 in flight, 2 delivered
    state INTEGER NOT NULL CHECK (state = 0 OR state = 1 OR state = 2),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    delivered_at REAL CHECK ((state = 2) = (delivered_at IS NOT NULL)),
    last_error TEXT
);
-- The one index besides the key's: claim() walks the pending items in seq order reading
-- their due time from it, and next_due() and stats() are answered from it alone.
-- Each further index would cost every put about a tenth of its rate (bench_outbox).
CREATE INDEX items_queue ON items (state, seq, next_attempt_at, enqueued_at);
CREATE TABLE dead_letters (
    burial INTEGER PRIMARY KEY,  -- burial order: dead_letters() lists oldest first
    key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,  -- the item's place in the queue, restored by retry_dead()
    kind TEXT NOT NULL CHECK (kind = 'event' OR kind = 'finding'),
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    reason TEXT NOT NULL,
    status_code INTEGER,
    enqueued_at REAL NOT NULL,
    died_at REAL NOT NULL
);
"""


def open_database(
    path: str, *, synchronous: str, max_pages: int | None
) -> tuple[sqlite3.Connection, int, int]:
    """Open (or create) the outbox at `path` for this process alone.

    Returns the connection, the descriptor holding the owner lock (closing it releases the
    file), and how many items a previous run left in flight and are now pending again.
    """
    created_dirs = make_parents(path)
    exists = inspect(path)
    check_directory(path)
    lock_fd = lock(path)
    connection: sqlite3.Connection | None = None
    try:
        created = not exists and create_file(path)
        connection = sqlite3.connect(
            Path(path).as_uri() + "?mode=rw",  # a URI: never create, never ":memory:"
            uri=True,
            isolation_level=None,  # no implicit transactions: every BEGIN is ours
            check_same_thread=False,  # shared under SqliteOutbox's lock
            timeout=_BUSY_TIMEOUT_SECONDS,
        )
        try:
            _prepare_schema(connection, path)
            _configure(connection, path, synchronous, max_pages)
            recovered = _recover(connection)
        except sqlite3.Error as exc:
            raise database_failure(path, exc, "opening it") from None
        if created:
            # The new file's name lives in its directory (and a new directory in its parent):
            # without these flushes a power loss could lose the whole outbox.
            for name in (os.path.dirname(path), *(os.path.dirname(d) for d in created_dirs)):
                fsync_directory(path, name)
    except BaseException:
        if connection is not None:
            connection.close()
        os.close(lock_fd)
        raise
    return connection, lock_fd, recovered


def database_failure(path: str, exc: sqlite3.Error, action: str) -> VectorVueOutboxError:
    """The operator's rule for an SQLite failure while `action` ran (rolled back by then)."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    intact = f"{action} was rolled back; everything stored before is intact"
    if name.startswith("SQLITE_FULL"):
        rule = f"the disk is full ({name}): free space; {intact}"
    elif name.startswith("SQLITE_READONLY"):
        rule = f"the file or its directory is read-only ({name}): {WRITABLE}; {intact}"
    elif name.startswith("SQLITE_IOERR"):
        rule = (
            f"an I/O error ({name}): check the disk, its free space and quotas, and the "
            f"kernel log; {intact}"
        )
    elif name.startswith("SQLITE_CANTOPEN"):
        rule = f"SQLite cannot open or create its files ({name}): {WRITABLE}"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        rule = (
            f"the file is damaged ({name}): stop the client, copy the file aside with its "
            f"-wal file and check it with sqlite3's PRAGMA integrity_check; {intact}"
        )
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        rule = f"another program holds a lock on the file ({name}): close it; {intact}"
    else:
        rule = f"{name}: {exc}; {intact}"
    return VectorVueOutboxError(path, rule)


def _prepare_schema(connection: sqlite3.Connection, path: str) -> None:
    if connection.execute("PRAGMA page_count").fetchone()[0] == 0:
        # Before the switch to WAL: the header (application_id included) then sits in the
        # main file, where files.inspect reads it, not in a WAL a crash could leave behind.
        connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        try:
            # One transaction: a crash leaves either a complete outbox or an empty file.
            connection.executescript(
                f"""BEGIN IMMEDIATE;
                PRAGMA application_id = {APPLICATION_ID};
                PRAGMA user_version = {SCHEMA_VERSION};
                {_DDL}
                COMMIT;"""
            )
        except BaseException:
            rollback(connection)
            raise
        return
    # Read again through SQLite: the WAL may hold a newer header than the main file.
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_schema WHERE type='table'")
    }
    if application_id != APPLICATION_ID or not {"items", "dead_letters"} <= tables:
        raise VectorVueOutboxError(
            path, f"it is not a vectorvue-client outbox (its tables are missing); {LEFT_ALONE}"
        )
    if version > SCHEMA_VERSION:
        raise VectorVueOutboxError(
            path,
            f"it was written by a newer vectorvue-client (outbox schema {version}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade the client; the file was left as it is",
        )
    if version < 1:
        raise VectorVueOutboxError(path, f"its schema version {version} is not valid; {LEFT_ALONE}")


def _configure(
    connection: sqlite3.Connection, path: str, synchronous: str, max_pages: int | None
) -> None:
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise VectorVueOutboxError(
            path,
            f"SQLite cannot use a write-ahead log here (journal mode {mode}): "
            "put the outbox on a local filesystem",
        )
    pages = _WAL_CHECKPOINT_BYTES // _PAGE_SIZE
    for pragma in (
        f"synchronous = {_SYNCHRONOUS[synchronous]}",
        f"cache_size = -{_CACHE_KIB}",
        f"wal_autocheckpoint = {pages}",
        # Rewind the WAL to this size after a checkpoint instead of keeping its peak.
        f"journal_size_limit = {_WAL_CHECKPOINT_BYTES}",
        # Zero the bytes of deleted rows and cleared bodies where that costs no extra I/O.
        "secure_delete = FAST",
    ):
        connection.execute(f"PRAGMA {pragma}")
    if max_pages is not None:
        connection.execute(f"PRAGMA max_page_count = {int(max_pages)}")


def _recover(connection: sqlite3.Connection) -> int:
    """Items a crashed run left in flight are pending again, their attempts unchanged:
    whether VectorVue got them is unknown, and a resend is harmless (idempotency keys)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.execute("UPDATE items SET state = 0 WHERE state = 1")
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise
    return cursor.rowcount


def rollback(connection: sqlite3.Connection) -> None:
    """End a failed transaction. SQLite ends some itself (a full disk, an I/O error): then
    there is nothing left to roll back, and the original error is the one worth raising."""
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
