"""Opening an outbox for SqliteOutbox (ADR 0015): its schema and settings, the upgrade of an
older file, the recovery of what a crash left in flight, and what an SQLite failure means
for the operator."""

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
    disown,
    fsync_directory,
    inspect,
    make_parents,
    open_and_lock,
    owned_here,
    refuse_if_owned_here,
)
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import item_digest

# 1: items and dead letters. 2: a checksum per item, sealed batches (ADR 0024).
SCHEMA_VERSION: Final = 2

# Item states, stored as small integers (the leading column of the queue index); the SQL
# in outbox_sqlite.py spells them as literals. An item in a sealed batch is BATCHED: the
# batch's own state (pending or in flight) is its state.
PENDING: Final = 0
IN_FLIGHT: Final = 1
DELIVERED: Final = 2
BATCHED: Final = 3

# Large pages: a put of 10k random keys dirties most leaves of the key index, and a page
# is written to the WAL whole; fewer, larger pages roughly halve that cost (bench_outbox).
_PAGE_SIZE: Final = 32768
_CACHE_KIB: Final = 16384  # the page cache: part of the client's resident memory
_WAL_CHECKPOINT_BYTES: Final = 64 << 20  # checkpoint (and fsync the file) every 64 MiB
_BUSY_TIMEOUT_SECONDS: Final = 5.0  # only an operator's sqlite3 shell can hold a lock
_SYNCHRONOUS: Final = {"full": "FULL", "normal": "NORMAL"}
DIGEST_FUNCTION: Final = "vv_item_digest"

# The CHECKs spell out OR instead of IN (...): SQLite builds an IN list's lookup table
# again for every row inserted, which cost a put a third of its rate.
_ITEMS: Final = """
CREATE TABLE {name} (
    -- FIFO order. AUTOINCREMENT never reuses a value, so a dead letter keeps its place
    -- in the queue and can be put back there.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind = 'event' OR kind = 'finding'),
    body BLOB NOT NULL,
    -- item_digest(key, kind, body), verified whenever the item is read back to be sent
    digest BLOB NOT NULL,
    -- 0 pending, 1 in flight, 2 delivered, 3 in a sealed batch (whose state is its own)
    state INTEGER NOT NULL CHECK (state = 0 OR state = 1 OR state = 2 OR state = 3),
    batch INTEGER,  -- batches.id while state = 3
    batch_pos INTEGER,  -- its place in the batch's body
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    delivered_at REAL CHECK ((state = 2) = (delivered_at IS NOT NULL)),
    last_error TEXT,
    CHECK ((state = 3) = (batch IS NOT NULL))
);
"""
_ITEM_INDEXES: Final = """
-- claim() walks the pending items in seq order reading their due time from it, and
-- next_due() and stats() are answered from it alone. Each further full index would cost
-- every put about a tenth of its rate (bench_outbox): the batch index is partial, and a
-- put (batch NULL) never touches it.
CREATE INDEX items_queue ON items (state, seq, next_attempt_at, enqueued_at);
CREATE INDEX items_batch ON items (batch, batch_pos) WHERE batch IS NOT NULL;
"""
_DEAD_LETTERS: Final = """
CREATE TABLE {name} (
    burial INTEGER PRIMARY KEY,  -- burial order: dead_letters() lists oldest first
    key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,  -- the item's place in the queue, restored by retry_dead()
    -- no CHECK: an item damaged on disk is buried with the kind that was read
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    digest BLOB NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    reason TEXT NOT NULL,
    status_code INTEGER,
    enqueued_at REAL NOT NULL,
    died_at REAL NOT NULL
);
"""
_BATCHES: Final = """
-- Items sent together in one request, recorded before its first attempt: until VectorVue's
-- answer is known, every resend is this body under this key (ADR 0024).
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- seal order: claim_batches() oldest first
    key TEXT NOT NULL UNIQUE,  -- the Idempotency-Key
    path TEXT NOT NULL,
    body BLOB NOT NULL,  -- JSON, before any compression
    digest BLOB NOT NULL,  -- batch_digest(key, path, body, item keys in order)
    state INTEGER NOT NULL CHECK (state = 0 OR state = 1),  -- pending, in flight
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX batches_queue ON batches (state, id, next_attempt_at);
"""
# The whole schema of a new outbox (the current version).
_SCHEMA: Final = (
    _ITEMS.format(name="items")
    + _ITEM_INDEXES
    + _DEAD_LETTERS.format(name="dead_letters")
    + _BATCHES
)


def open_database(
    path: str, *, synchronous: str, max_pages: int | None
) -> tuple[sqlite3.Connection, int, int]:
    """Open (or create) the outbox at `path` for this process alone.

    Returns the connection, the descriptor holding the owner lock (closing it releases the
    file), and how many items a previous run left in flight and are now pending again.
    """
    refuse_if_owned_here(path)
    created_dirs = make_parents(path)
    inspect(path)  # before anything is opened for writing: a foreign file is left alone
    check_directory(path)
    lock_fd, created = open_and_lock(path)
    connection: sqlite3.Connection | None = None
    try:
        if not created:
            inspect(path)  # again, under the lock: it may have been written meanwhile
        connection = _connect(path, "rw")
        try:
            _prepare_schema(connection, path)
            _configure(connection, path, synchronous, max_pages)
            recovered = recover(connection)
        except sqlite3.Error as exc:
            raise database_failure(path, exc, "opening it") from None
        if created:
            # The new file's name lives in its directory (and a new directory in its parent):
            # without these flushes a power loss could lose the whole outbox.
            for name in (os.path.dirname(path), *(os.path.dirname(d) for d in created_dirs)):
                fsync_directory(path, name)
    except BaseException:
        # SQLite's connection first: closing our descriptor first would drop its locks.
        if connection is not None:
            connection.close()
        disown(lock_fd)
        os.close(lock_fd)
        raise
    return connection, lock_fd, recovered


def open_reader(path: str) -> tuple[sqlite3.Connection, int]:
    """Open the outbox at `path` to read it while another process may own it: no lock is
    taken, nothing is written (no recovery, no upgrade), and the owner is not disturbed.
    Returns the connection and the file's schema version. Where no outbox exists yet
    (nothing was ever enqueued there), the reader sees an empty one, and nothing is
    created at `path`."""
    # Owned here: it is known to be an outbox, and must not be opened outside SQLite.
    if not owned_here(path) and not inspect(path):
        empty = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        empty.executescript(_SCHEMA + "PRAGMA query_only = 1;")
        return empty, SCHEMA_VERSION
    connection = _connect(path, "ro")
    try:
        connection.execute("PRAGMA query_only = 1")
        version = _check_schema(connection, path)
    except sqlite3.Error as exc:
        connection.close()
        raise database_failure(path, exc, "reading it") from None
    except BaseException:
        connection.close()
        raise
    return connection, version


def _connect(path: str, mode: str) -> sqlite3.Connection:
    connection = sqlite3.connect(
        Path(path).as_uri() + f"?mode={mode}",  # a URI: never create, never ":memory:"
        uri=True,
        isolation_level=None,  # no implicit transactions: every BEGIN is ours
        check_same_thread=False,  # shared under SqliteOutbox's lock
        timeout=_BUSY_TIMEOUT_SECONDS,
    )
    connection.create_function(DIGEST_FUNCTION, 3, _digest, deterministic=True)
    return connection


def _digest(key: object, kind: object, body: object) -> bytes | None:
    if not isinstance(key, str) or not isinstance(kind, str) or not isinstance(body, bytes):
        return None
    return item_digest(key, kind, body)


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
        # One transaction: a crash leaves either a complete outbox or an empty file.
        _script(
            connection,
            f"""PRAGMA application_id = {APPLICATION_ID};
            PRAGMA user_version = {SCHEMA_VERSION};
            {_SCHEMA}""",
        )
        return
    if _check_schema(connection, path) == 1:
        _upgrade_from_1(connection)


def _check_schema(connection: sqlite3.Connection, path: str) -> int:
    # Read again through SQLite: the WAL may hold a newer header than the main file.
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
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
    return version


def _upgrade_from_1(connection: sqlite3.Connection) -> None:
    """Schema 1 -> 2, in one transaction: every item and dead letter gets its checksum
    (computed from what is stored now), a dead letter's kind loses its CHECK, and the
    batches table appears. SQLite cannot change a CHECK in place: the tables are copied."""
    fresh = f"{DIGEST_FUNCTION}(key, kind, body)"
    _script(
        connection,
        # Composed of this module's constants only: no value is formatted into it.
        f"""{_ITEMS.format(name="items_v2")}
        INSERT INTO items_v2 (seq, key, kind, body, digest, state, attempts, next_attempt_at,
                              enqueued_at, updated_at, delivered_at, last_error)
        SELECT seq, key, kind, body, CASE WHEN state = 2 THEN X'' ELSE {fresh} END, state,
               attempts, next_attempt_at, enqueued_at, updated_at, delivered_at, last_error
        FROM items;
        {_DEAD_LETTERS.format(name="dead_letters_v2")}
        INSERT INTO dead_letters_v2 (burial, key, seq, kind, body, digest, attempts, reason,
                                     status_code, enqueued_at, died_at)
        SELECT burial, key, seq, kind, body, {fresh}, attempts, reason, status_code,
               enqueued_at, died_at
        FROM dead_letters;
        -- AUTOINCREMENT must never hand out a seq a dead letter holds: keep the high mark.
        CREATE TEMP TABLE high_mark AS
            SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0),
                       COALESCE((SELECT MAX(seq) FROM dead_letters), 0)) AS seq;
        DROP TABLE items;
        DROP TABLE dead_letters;
        ALTER TABLE items_v2 RENAME TO items;
        ALTER TABLE dead_letters_v2 RENAME TO dead_letters;
        {_ITEM_INDEXES}
        {_BATCHES}
        DELETE FROM sqlite_sequence WHERE name = 'items';
        INSERT INTO sqlite_sequence (name, seq) SELECT 'items', seq FROM temp.high_mark;
        DROP TABLE temp.high_mark;
        PRAGMA user_version = {SCHEMA_VERSION};""",  # noqa: S608
    )


def _script(connection: sqlite3.Connection, sql: str) -> None:
    """Run `sql` in one BEGIN IMMEDIATE transaction, rolled back whole on failure."""
    try:
        connection.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
    except BaseException:
        rollback(connection)
        raise


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


# What recover() changes, in one transaction. Items in flight (on their own, or in a batch
# in flight) are pending again, their attempts unchanged: whether VectorVue got them is
# unknown, and a resend is harmless (the same bytes under the same key). A state that no
# code writes (damage on disk) is pending too: the item is verified when claimed. An item
# whose batch is gone is on its own again.
_RECOVER: Final = (
    "UPDATE items SET state = 0 WHERE state = 1 OR state > 3 OR state < 0",
    """UPDATE items SET state = 0, batch = NULL, batch_pos = NULL
       WHERE state = 3 AND (batch IS NULL OR batch NOT IN (SELECT id FROM batches))""",
    "UPDATE batches SET state = 0 WHERE state = 1",
)
_IN_FLIGHT_COUNT: Final = """
SELECT (SELECT COUNT(*) FROM items WHERE state = 1)
     + (SELECT COUNT(*) FROM items WHERE state = 3
          AND batch IN (SELECT id FROM batches WHERE state = 1))
"""


def recover(connection: sqlite3.Connection) -> int:
    """Put everything in flight back to pending (see _RECOVER); returns how many items
    were in flight."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        moved: int = connection.execute(_IN_FLIGHT_COUNT).fetchone()[0]
        for sql in _RECOVER:
            connection.execute(sql)
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise
    return moved


def rollback(connection: sqlite3.Connection) -> None:
    """End a failed transaction. SQLite ends some itself (a full disk, an I/O error): then
    there is nothing left to roll back, and the original error is the one worth raising."""
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
