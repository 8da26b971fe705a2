"""SqliteOutbox on real files and real processes: what it creates and with which modes,
what it refuses to touch (left byte-for-byte as it was), one owner per file, recovery after
a kill -9, full disks and read-only files, and the claim query's plan.

Read-only cases need a user the file permissions apply to: when the tests run as root
(which ignores them), the outbox is opened with the effective ids of `nobody`."""

from __future__ import annotations

import json
import logging
import os
import pwd
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from vectorvue_client.adapters.outbox_sqlite import (
    _CLAIM,
    _CLAIM_BATCHES,
    _DELIVERED,
    _FLYING_BATCHES_OF,
    SqliteOutbox,
)
from vectorvue_client.adapters.outbox_sqlite_files import APPLICATION_ID
from vectorvue_client.adapters.outbox_sqlite_schema import SCHEMA_VERSION
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueOutboxError
from vectorvue_client.domain.outbox import Burial, ItemKind, OutboxRecord, OutboxStats, Reschedule

T0 = 1_795_564_800.0

# Opens the outbox at argv[1] in a child process; prints the error rule or the counts.
_PROBE = """
import json, sys
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.errors import VectorVueOutboxError
try:
    outbox = SqliteOutbox(sys.argv[1])
except VectorVueOutboxError as exc:
    print(json.dumps({"error": exc.rule}))
else:
    stats = outbox.stats(0.0)
    print(json.dumps({"pending": stats.pending, "in_flight": stats.in_flight}))
    outbox.close()
"""

# Puts three items, claims two, says so, and waits to be killed.
_CRASHER = """
import sys, time
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.outbox import ItemKind, OutboxRecord
outbox = SqliteOutbox(sys.argv[1])
outbox.put([OutboxRecord(f"finding:{n}", ItemKind.FINDING, n.encode() * 3) for n in "abc"], 7.0)
outbox.claim(2, 7.0)
print("claimed", flush=True)
time.sleep(120)
"""


def records(prefix: str, n: int, size: int = 600) -> list[OutboxRecord]:
    return [
        OutboxRecord(f"finding:{prefix}-{i}", ItemKind.FINDING, bytes([i % 251]) * size)
        for i in range(n)
    ]


def probe(path: Path) -> dict[str, object]:
    """Open `path` from another process and report."""
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


# -- files and modes -----------------------------------------------------------------------


def test_a_new_outbox_is_private_from_its_directories_to_its_wal(tmp_path: Path) -> None:
    """Even with umask 0: missing directories 0o700, the file and its -wal and -shm files
    0o600 (the owner lock is on the file itself: no lock file). The file is SQLite in WAL
    mode, tagged with our application_id and schema version."""
    target = tmp_path / "new" / "deeper" / "outbox.db"
    old = os.umask(0)
    try:
        outbox = SqliteOutbox(target)
        outbox.put(records("a", 3), T0)
    finally:
        os.umask(old)
    try:
        modes = {
            p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
            for p in (tmp_path / "new", target.parent, *target.parent.iterdir())
        }
        assert modes == {
            "new": 0o700,
            "new/deeper": 0o700,
            "new/deeper/outbox.db": 0o600,
            "new/deeper/outbox.db-wal": 0o600,
            "new/deeper/outbox.db-shm": 0o600,
        }
    finally:
        outbox.close()
    with sqlite3.connect(target) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


def test_existing_modes_are_never_changed(tmp_path: Path, path: Path) -> None:
    """An operator's 0o640 file in a 0o750 directory stays so, and SQLite's -wal follows
    the file's mode; an empty file someone created is made an outbox, keeping its mode."""
    tmp_path.chmod(0o750)
    SqliteOutbox(path).close()
    path.chmod(0o640)
    outbox = SqliteOutbox(path)
    outbox.put(records("a", 1), T0)
    assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o640
    outbox.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o750
    empty = tmp_path / "empty.db"
    empty.touch(mode=0o640)
    empty.chmod(0o640)
    SqliteOutbox(empty).close()
    assert stat.S_IMODE(empty.stat().st_mode) == 0o640
    assert empty.read_bytes().startswith(b"SQLite format 3\x00")


def test_an_unknown_durability_setting_is_a_config_error(path: Path) -> None:
    with pytest.raises(VectorVueConfigError) as caught:
        SqliteOutbox(path, synchronous="off")  # type: ignore[arg-type]
    assert caught.value.field == "outbox_synchronous"
    assert sorted(path.parent.iterdir()) == []


# -- files that are not ours ---------------------------------------------------------------


def _other_database(path: Path, application_id: int) -> None:
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE notes (text TEXT)")
    raw.execute("INSERT INTO notes VALUES ('not yours')")
    raw.execute(f"PRAGMA application_id = {application_id}")
    raw.commit()
    raw.close()


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: _other_database(p, 0), "another application (application_id 0x00000000)"),
        (lambda p: _other_database(p, 0x1234ABCD), "(application_id 0x1234abcd)"),
        (lambda p: p.write_bytes(b"findings,to,keep\n" * 400), "not an SQLite database"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(20)), "not an SQLite database"),
        (lambda p: p.write_bytes(os.urandom(8192)), "not an SQLite database"),
    ],
    ids=["sqlite-no-id", "sqlite-other-id", "text", "cut-header", "random"],
)
def test_a_file_that_is_not_an_outbox_is_refused_and_left_alone(
    tmp_path: Path, path: Path, make: object, says: str
) -> None:
    """Read its first 100 bytes, then refuse: no byte of it changes and nothing is created
    beside it (no lock, no -wal, no -shm)."""
    make(path)  # type: ignore[operator]
    before = snapshot(tmp_path)
    with pytest.raises(VectorVueOutboxError) as caught:
        SqliteOutbox(path)
    assert caught.value.path == str(path)
    assert says in caught.value.rule and "left as it is" in caught.value.rule
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outbox.db"]


def test_our_application_id_without_our_tables_is_refused(path: Path) -> None:
    _other_database(path, APPLICATION_ID)
    before = path.read_bytes()
    with pytest.raises(VectorVueOutboxError, match="tables are missing"):
        SqliteOutbox(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_and_left_alone(path: Path) -> None:
    outbox = SqliteOutbox(path)
    outbox.put(records("a", 2), T0)
    outbox.close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(VectorVueOutboxError) as caught:
        SqliteOutbox(path)
    assert f"outbox schema {SCHEMA_VERSION + 1}" in caught.value.rule
    assert "upgrade the client" in caught.value.rule
    assert path.read_bytes() == before


def test_a_damaged_outbox_is_reported_as_damaged(path: Path) -> None:
    """Its header intact, its schema page overwritten: a clear "damaged" error naming what
    to do, and the bytes as they were."""
    outbox = SqliteOutbox(path)
    outbox.put(records("a", 2), T0)
    outbox.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(VectorVueOutboxError) as caught:
        SqliteOutbox(path)
    assert "damaged (SQLITE_CORRUPT" in caught.value.rule
    assert "integrity_check" in caught.value.rule
    assert path.read_bytes() == bytes(data)


def test_a_directory_is_not_an_outbox(tmp_path: Path) -> None:
    with pytest.raises(VectorVueOutboxError, match="not a regular file"):
        SqliteOutbox(tmp_path)


# -- ownership and crashes -----------------------------------------------------------------


def test_a_second_owner_is_refused_until_the_first_closes(path: Path) -> None:
    """Another process is told who holds the file; so is a second open in this process.
    Once closed, the next owner opens it."""
    owner = SqliteOutbox(path)
    owner.put(records("a", 2), T0)
    try:
        report = probe(path)
        assert f"in use by another process (pid {os.getpid()})" in str(report["error"])
        with pytest.raises(VectorVueOutboxError, match="already open in this process"):
            SqliteOutbox(path)
    finally:
        owner.close()
    assert probe(path) == {"pending": 2, "in_flight": 0}


def test_after_a_kill_9_the_same_path_opens_with_nothing_lost(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process dies holding two items in flight, without close(): the kernel releases its
    lock, the WAL it left is replayed, and the two are pending again, first in line, their
    attempts unchanged; the operator is told."""
    child = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", _CRASHER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "claimed\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert Path(f"{path}-wal").stat().st_size > 0  # it died with its WAL not checkpointed
    with caplog.at_level(logging.WARNING, logger="vectorvue_client.outbox"):
        outbox = SqliteOutbox(path)
    try:
        assert "2 item(s) left in flight by a previous run" in caplog.text
        stats = outbox.stats(7.0)
        assert (stats.pending, stats.in_flight) == (3, 0)
        claimed = outbox.claim(10, 7.0)
        assert [(c.key, c.body, c.attempts) for c in claimed] == [
            (f"finding:{n}", n.encode() * 3, 0) for n in "abc"
        ]
    finally:
        outbox.close()


def test_everything_survives_a_close_and_reopen(path: Path) -> None:
    """Attempts, due times, dead letters and delivered keys are all in the file."""
    outbox = SqliteOutbox(path, synchronous="normal")
    outbox.put(records("a", 4), T0)
    outbox.claim(4, T0)
    outbox.reschedule([Reschedule("finding:a-0", T0 + 60, "503")], T0)
    outbox.delivered(["finding:a-1"], T0)
    outbox.bury([Burial("finding:a-2", "HTTP 422", 422)], T0)
    outbox.close()
    outbox = SqliteOutbox(path)
    try:
        stats = outbox.stats(T0)
        assert (stats.pending, stats.in_flight, stats.delivered, stats.dead) == (2, 0, 1, 1)
        assert outbox.next_due() == T0
        assert [c.key for c in outbox.claim(10, T0 + 59)] == ["finding:a-3"]
        assert [(c.key, c.attempts) for c in outbox.claim(10, T0 + 60)] == [("finding:a-0", 1)]
        [letter] = outbox.dead_letters()
        assert (letter.key, letter.status_code, letter.attempts) == ("finding:a-2", 422, 1)
        assert outbox.put(records("a", 4), T0) == 0
    finally:
        outbox.close()


# -- full disks and read-only files --------------------------------------------------------


def test_a_full_disk_stores_nothing_of_the_put_and_loses_nothing_before(path: Path) -> None:
    """SQLITE_FULL (the file capped a few pages above its size, as a full disk does): the
    put stores none of its records, says what to do, and everything before is intact; a put
    that fits still works, and all of it once the space is back."""
    outbox = SqliteOutbox(path)
    outbox.put(records("before", 100), T0)
    outbox.close()
    pages = path.stat().st_size // 32768
    outbox = SqliteOutbox(path, _max_pages=pages + 3)
    with pytest.raises(VectorVueOutboxError) as caught:
        outbox.put(records("big", 10_000), T0)
    assert caught.value.rule.startswith("the disk is full (SQLITE_FULL): free space")
    assert "rolled back; everything stored before is intact" in caught.value.rule
    assert outbox.stats(T0).pending == 100
    assert outbox.put(records("small", 1), T0) == 1
    outbox.close()
    outbox = SqliteOutbox(path)
    try:
        assert outbox.put(records("big", 10_000), T0) == 10_000
        assert outbox.stats(T0).pending == 10_101
    finally:
        outbox.close()


def test_a_refused_write_is_rolled_back_and_the_same_outbox_recovers(path: Path) -> None:
    """RLIMIT_FSIZE at the WAL's size: the log cannot grow (an I/O error, as with a quota).
    Nothing of the failed put or claim is kept; once writes pass again, the same object
    carries on, with every record stored before."""
    outbox = SqliteOutbox(path)
    try:
        outbox.put(records("before", 100), T0)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (Path(f"{path}-wal").stat().st_size, hard))
        try:
            with pytest.raises(VectorVueOutboxError) as put_failed:
                outbox.put(records("big", 10_000), T0)
            with pytest.raises(VectorVueOutboxError):
                outbox.claim(50, T0)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        assert "SQLITE_IOERR" in put_failed.value.rule and "quota" in put_failed.value.rule
        assert "storing 10000 record(s) was rolled back" in put_failed.value.rule
        stats = outbox.stats(T0)
        assert (stats.pending, stats.in_flight) == (100, 0)
        assert outbox.put(records("big", 10_000), T0) == 10_000
        assert len(outbox.claim(250, T0)) == 250
    finally:
        outbox.close()
    # Reopened: the 250 left in flight by close() are pending again.
    assert probe(path) == {"pending": 10_100, "in_flight": 0}


@dataclass
class Unprivileged:
    """A directory for permission tests, and the user that opens outboxes in it: `nobody`
    when the tests run as root (which ignores file permissions), else this process's."""

    directory: Path
    uid: int | None

    def give(self, *paths: Path) -> None:
        """Hand `paths` to the unprivileged user."""
        if self.uid is not None:
            for p in paths:
                os.chown(p, self.uid, self.uid)

    def open(self, path: Path) -> str | None:
        """Open and close `path` as the unprivileged user: the error rule, or None."""
        with self._acting():
            try:
                SqliteOutbox(path).close()
            except VectorVueOutboxError as exc:
                return exc.rule
        return None

    @contextmanager
    def _acting(self) -> Iterator[None]:
        # The effective ids only (a child process cannot be used: the interpreter may sit
        # in a directory only root can reach); the real and saved ids stay root's, so the
        # test process takes them back afterwards.
        if self.uid is None:
            yield
            return
        groups = os.getgroups()
        os.setgroups([])
        os.setegid(self.uid)
        os.seteuid(self.uid)
        try:
            yield
        finally:
            os.seteuid(0)
            os.setegid(0)
            os.setgroups(groups)


@pytest.fixture
def unprivileged(tmp_path: Path) -> Iterator[Unprivileged]:
    if os.geteuid() != 0:
        directory = tmp_path / "unprivileged"
        directory.mkdir()
        yield Unprivileged(directory, None)
        return
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("running as root without a 'nobody' user to act as")
    # tmp_path sits below a 0o700 root directory: nobody could not reach it.
    directory = Path(tempfile.mkdtemp(prefix="outbox-unprivileged-"))
    try:
        os.chown(directory, nobody, nobody)
        yield Unprivileged(directory, nobody)
    finally:
        shutil.rmtree(directory)


def _outbox_in(unprivileged: Unprivileged) -> Path:
    path = unprivileged.directory / "outbox.db"
    outbox = SqliteOutbox(path)
    outbox.put(records("a", 2), T0)
    outbox.close()
    unprivileged.give(path)
    return path


def test_a_read_only_file_is_refused_at_open_and_left_alone(unprivileged: Unprivileged) -> None:
    path = _outbox_in(unprivileged)
    path.chmod(0o400)
    before = path.read_bytes()
    rule = unprivileged.open(path)
    assert rule is not None and "the file is read-only for this user (EACCES" in rule
    assert path.read_bytes() == before
    path.chmod(0o600)
    assert unprivileged.open(path) is None


def test_a_read_only_directory_is_refused_at_open(unprivileged: Unprivileged) -> None:
    """SQLite must create -wal and -shm files beside the outbox: an existing outbox in a
    directory we cannot write is refused at open, as is a new one."""
    path = _outbox_in(unprivileged)
    unprivileged.directory.chmod(0o555)
    try:
        before = snapshot(unprivileged.directory)
        for target in (path, unprivileged.directory / "new.db"):
            rule = unprivileged.open(target)
            assert rule is not None
            assert f"its directory {unprivileged.directory} is not writable" in rule
        assert snapshot(unprivileged.directory) == before
    finally:
        unprivileged.directory.chmod(0o700)


# -- the queries' plans --------------------------------------------------------------------


def _plan(path: Path, sql: str, params: tuple[object, ...]) -> list[str]:
    raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        raw.close()


def test_claim_walks_the_queue_index_and_never_sorts_or_scans_the_table(path: Path) -> None:
    """The claim query searches items_queue for state = pending in seq order (stopping at
    its LIMIT) and needs no temporary sort; delivered() finds its rows by the key index."""
    outbox = SqliteOutbox(path)
    outbox.put(records("a", 5_000, size=10), T0)
    outbox.claim(1_000, T0)
    outbox.close()
    claim = _plan(path, _CLAIM, (T0, 250))
    assert claim == ["SEARCH items USING INDEX items_queue (state=?)"]
    delivered = _plan(path, _DELIVERED, (T0, T0, "finding:a-1"))
    assert delivered == ["SEARCH items USING INDEX sqlite_autoindex_items_1 (key=?)"]
    # Settling items first finds their batches in flight: from each key by the key index,
    # to its batch by rowid, never through a scan of the batch's items.
    assert _plan(path, _FLYING_BATCHES_OF, ('["finding:a-1"]',)) == [
        "SCAN j VIRTUAL TABLE INDEX 1:",
        "SEARCH i USING INDEX sqlite_autoindex_items_1 (key=?)",
        "SEARCH b USING INTEGER PRIMARY KEY (rowid=?)",
        "USE TEMP B-TREE FOR DISTINCT",
    ]
    assert _plan(path, _CLAIM_BATCHES, (T0, 1)) == [
        "SEARCH batches USING INDEX batches_queue (state=?)"
    ]


# -- an outbox written by an older version -------------------------------------------------

# Schema 1, as versions before 0.2 wrote it (adr/0015-sqlite-outbox.md).
_SCHEMA_1 = """
PRAGMA application_id = 1448496962;
PRAGMA user_version = 1;
CREATE TABLE items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind = 'event' OR kind = 'finding'),
    body BLOB NOT NULL,
    state INTEGER NOT NULL CHECK (state = 0 OR state = 1 OR state = 2),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    delivered_at REAL CHECK ((state = 2) = (delivered_at IS NOT NULL)),
    last_error TEXT
);
CREATE INDEX items_queue ON items (state, seq, next_attempt_at, enqueued_at);
CREATE TABLE dead_letters (
    burial INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind = 'event' OR kind = 'finding'),
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    reason TEXT NOT NULL,
    status_code INTEGER,
    enqueued_at REAL NOT NULL,
    died_at REAL NOT NULL
);
INSERT INTO items VALUES (1, 'finding:p', 'finding', X'7B7D', 0, 2, 10.0, 1.0, 1.0, NULL, '503');
INSERT INTO items VALUES (2, 'event:-:f', 'event', X'5B5D', 1, 0, 1.0, 1.0, 1.0, NULL, NULL);
INSERT INTO items VALUES (3, 'finding:d', 'finding', X'', 2, 0, 1.0, 1.0, 1.0, 5.0, NULL);
INSERT INTO dead_letters
    VALUES (1, 'finding:x', 4, 'finding', X'2222', 1, 'HTTP 422', 422, 1.0, 6.0);
"""


def test_an_outbox_of_schema_1_is_upgraded_in_place_with_nothing_lost(path: Path) -> None:
    """Every item keeps its state, place, attempts and times; in flight becomes pending;
    each gets its checksum; a dead letter keeps its place too, and no new item can take
    it (the AUTOINCREMENT mark stays above every seq ever handed out)."""
    raw = sqlite3.connect(path)
    raw.executescript("PRAGMA page_size = 32768; PRAGMA journal_mode = WAL;" + _SCHEMA_1)
    raw.close()
    outbox = SqliteOutbox(path)
    try:
        assert outbox.stats(10.0) == OutboxStats(
            pending=2, in_flight=0, delivered=1, dead=1, oldest_pending_age_seconds=9.0
        )
        assert [(c.key, c.body, c.attempts) for c in outbox.claim(5, 10.0)] == [
            ("finding:p", b"{}", 2),
            ("event:-:f", b"[]", 0),
        ]
        assert outbox.retry_dead(None, 10.0) == 1
        assert outbox.put([OutboxRecord("finding:new", ItemKind.FINDING, b"1")], 10.0) == 1
        assert [c.key for c in outbox.claim(5, 10.0)] == ["finding:x", "finding:new"]
    finally:
        outbox.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert check.execute("SELECT seq FROM items WHERE key = 'finding:new'").fetchone() == (5,)
    check.close()
