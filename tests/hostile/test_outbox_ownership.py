"""Attack: two owners of one outbox. Whatever path reaches the database (a symlink, a hard
link, the same path after the old lock file was deleted), two processes can never drain it
at once; and an operator can read it while a service owns it without disturbing the owner
(issue 11, item 4; ADR 0024).

The owner lock is an flock on the database file itself, so every name of the file meets
it; a file with several hard links is refused at open (SQLite keeps its journal beside
the name it opened, so two names would split it). Readers open it read-only, without the
lock and without recovering anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import ItemKind, OutboxRecord
from vectorvue_client.testing import Chaos
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

CHILD = Path(__file__).parents[1] / "integration" / "outbox_child.py"
SCRIPT = Path(sys.executable).with_name("vectorvue-client")
T0 = 1_795_564_800.0


def _symlink(path: Path) -> Path:
    link = path.with_name("through-a-symlink.sqlite3")
    link.symlink_to(path)
    return link


def _hard_link(path: Path) -> Path:
    link = path.with_name("through-a-hard-link.sqlite3")
    os.link(path, link)
    return link


def _lock_file_deleted(path: Path) -> Path:
    # Versions before this one locked <path>.lock; deleting it let a second owner in.
    for lock in path.parent.glob("*.lock"):
        lock.unlink()
    return path


SECOND_WAYS: dict[str, Callable[[Path], Path]] = {
    "symlink": _symlink,
    "hard-link": _hard_link,
    "lock-file-deleted": _lock_file_deleted,
}


def _child(url: str, ca: str, token: str, outbox: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CHILD), url, ca, str(outbox), "0", str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VECTORVUE_API_KEY": token},
    )


@pytest.mark.parametrize("second_way", list(SECOND_WAYS))
def test_a_second_process_cannot_drain_the_same_database(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, second_way: str
) -> None:
    """A drains 400 findings slowly; B opens the same database another way while A runs.
    B is refused, naming A's pid; A delivers everything, each finding once (today B drained
    too, and every finding was sent twice)."""
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    # A's drain takes at least 20 requests x 0.25 s: B, started once A's items are stored,
    # meets A's lock even on a loaded machine (at 0.05 s a slow start of B missed it).
    receiver.chaos(Chaos(latency=0.25), seed=3)
    outbox = tmp_path / "outbox.sqlite3"
    first = _child(receiver.url, receiver.ca_pem_path, receiver.api_token, outbox, 400)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "enqueued"
    other_path = SECOND_WAYS[second_way](outbox)
    second = _child(receiver.url, receiver.ca_pem_path, receiver.api_token, other_path, 400)
    _, second_err = second.communicate(timeout=60)
    first_out, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert first_out.split() == ["drained"]
    assert second.returncode != 0
    assert f"in use by another process (pid {first.pid})" in second_err
    assert len(receiver.accepted_findings()) == 400
    assert all(receiver.receipts(f"k9-{n:05d}") == 1 for n in range(400))


def test_a_file_with_several_names_is_refused_even_unowned(tmp_path: Path) -> None:
    """A hard link splits SQLite's journal between two names: refused, by either name, and
    left as it is."""
    path = tmp_path / "outbox.sqlite3"
    outbox = SqliteOutbox(path)
    outbox.put([OutboxRecord("finding:a", ItemKind.FINDING, b"{}")], T0)
    outbox.close()
    link = _hard_link(path)
    before = path.read_bytes()
    for name in (path, link):
        with pytest.raises(VectorVueOutboxError, match="2 hard links"):
            SqliteOutbox(name)
    assert path.read_bytes() == before
    link.unlink()
    SqliteOutbox(path).close()


_OWNER = """
import sys
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.outbox import ItemKind, OutboxRecord
outbox = SqliteOutbox(sys.argv[1])
outbox.put([OutboxRecord(f"finding:{n}", ItemKind.FINDING, b"{}") for n in range(10)], 1.0)
outbox.claim(4, 1.0)
print("owned", flush=True)
sys.stdin.readline()
stats = outbox.stats(2.0)
print(stats.pending, stats.in_flight, flush=True)
outbox.close()
"""


@pytest.mark.parametrize("via", ["path", "symlink"])
def test_an_operator_reads_a_running_services_outbox_without_disturbing_it(
    tmp_path: Path, via: str
) -> None:
    """A service owns the outbox with 4 items in flight. `outbox stats` and `outbox dead`
    work (read-only, no lock taken), even through a symlink, and show them in flight; the
    service's claims are untouched afterwards (today: refused by the path, and through a
    symlink it took the file and put the service's claims back in line)."""
    path = tmp_path / "outbox.sqlite3"
    owner = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _OWNER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None and owner.stdin is not None
    try:
        assert owner.stdout.readline().strip() == "owned"
        target = _symlink(path) if via == "symlink" else path
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")},
            "VECTORVUE_BASE_URL": "https://127.0.0.1:9",
            "VECTORVUE_OUTBOX_PATH": str(target),
        }
        stats = subprocess.run(  # noqa: S603 - our own console script
            [str(SCRIPT), "outbox", "stats", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        dead = subprocess.run(  # noqa: S603 - our own console script
            [str(SCRIPT), "outbox", "dead", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
        owner.stdin.write("go\n")
        owner.stdin.flush()
        after = owner.stdout.readline().split()
    finally:
        owner.communicate(timeout=30)
    assert stats.returncode == 0, stats.stderr
    shown = json.loads(stats.stdout)
    assert (shown["pending"], shown["in_flight"]) == (6, 4)
    assert dead.returncode == 0, dead.stderr
    assert json.loads(dead.stdout) == {"dead_letters": []}
    assert after == ["6", "4"]  # the owner's claims are its own still


def test_a_reader_changes_nothing(tmp_path: Path) -> None:
    """Every change through a reader is refused and the file keeps its bytes."""
    path = tmp_path / "outbox.sqlite3"
    owner = SqliteOutbox(path)
    try:
        owner.put([OutboxRecord("finding:a", ItemKind.FINDING, b"{}")], T0)
        owner.claim(1, T0)
        reader = SqliteOutbox.reader(path)
        try:
            for change in (
                lambda: reader.put([OutboxRecord("finding:b", ItemKind.FINDING, b"{}")], T0),
                lambda: reader.claim(1, T0),
                lambda: reader.recover(),
                lambda: reader.retry_dead(None, T0),
                lambda: reader.purge_delivered(T0),
            ):
                with pytest.raises(VectorVueOutboxError, match="read-only"):
                    change()
            assert (reader.stats(T0).pending, reader.stats(T0).in_flight) == (0, 1)
        finally:
            reader.close()
        assert owner.stats(T0).in_flight == 1
    finally:
        owner.close()


def test_reading_where_no_outbox_exists_yet_creates_nothing(tmp_path: Path) -> None:
    """A reader of a path nothing was ever enqueued at sees an empty outbox, and leaves the
    directory as it was (no file, no journal)."""
    reader = SqliteOutbox.reader(tmp_path / "never-used.sqlite3")
    try:
        stats = reader.stats(T0)
        assert (stats.pending, stats.in_flight, stats.delivered, stats.dead) == (0, 0, 0, 0)
        assert reader.dead_letters() == [] and reader.next_due() is None
    finally:
        reader.close()
    assert list(tmp_path.iterdir()) == []
