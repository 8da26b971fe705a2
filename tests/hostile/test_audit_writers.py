"""Attacks on "one audit chain, many writers" (issue 11, item 7; ADR 0009).

`health` and `send` from the command line append to the same audit file as a running
service. Real processes (this file, run as a script: see `_writer`) append to one file at
once, through its path, a symlink and a hard link, with threads and two sinks per process,
forked, frozen while holding the lock and killed with SIGKILL; afterwards the file must be
one chain that verify_audit_chain accepts, holding every record exactly once. A running
sink must also never build on what another writer left (a cut line, a foreign line), and
must follow its path when the file is moved aside or deleted.

Writers start together: each opens its sinks, says "ready" and waits for "go" on stdin.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Buffer
from typing import Any

from vectorvue_client.adapters.audit_jsonl import JsonlAuditSink
from vectorvue_client.domain.audit import AuditRecord


def record_named(name: str) -> AuditRecord:
    """A typical record whose request_id tells who wrote it."""
    return AuditRecord(
        time="2026-11-25T12:00:00Z",
        action="send_event",
        method="POST",
        endpoint="/api/v1/integrations/spectrastrike/events",
        outcome="success",
        status_code=202,
        attempts=1,
        duration_seconds=0.01,
        item_count=1,
        idempotency_key="k",
        request_id=name,
    )


# -- the writer process ------------------------------------------------------------------


def _writer(spec: dict[str, Any]) -> None:
    """One writer process. spec: paths (one sink each), fsync, threads (per sink), count
    (records per thread), name; optional pause_at (after that many records per thread,
    say "half" and wait for a line on stdin), freeze (after the pause, freeze inside the
    next record, its line written and the file lock held), endless (write until killed,
    printing each record's number), fork (fork after "go"; both halves write `count`)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(message)s"
    )
    sinks = [JsonlAuditSink(p, fsync=spec["fsync"]) for p in spec["paths"]]
    name = spec["name"]
    print("ready", flush=True)
    sys.stdin.readline()
    if spec.get("endless"):
        for n in range(sys.maxsize):
            sinks[0].record(record_named(f"{name}.0.0.{n}"))
            print(n, flush=True)
    if spec.get("fork"):
        child = os.fork()
        name += ".child" if child == 0 else ".parent"
    pause_at = spec.get("pause_at")
    paused = threading.Barrier(len(sinks) * spec["threads"], action=_pause)

    def work(s: int, t: int) -> None:
        for n in range(spec["count"]):
            if n == pause_at:
                paused.wait()
                if spec.get("freeze"):
                    _freeze_after_next_write()
            sinks[s].record(record_named(f"{name}.{s}.{t}.{n}"))

    threads = [
        threading.Thread(target=work, args=(s, t))
        for s in range(len(sinks))
        for t in range(spec["threads"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if spec.get("fork"):
        if child == 0:
            os._exit(0)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    print("done", flush=True)


def _pause() -> None:
    print("half", flush=True)
    sys.stdin.readline()


def _freeze_after_next_write() -> None:
    # The sink writes its line with os.write while it holds the file lock: stopping right
    # after that write is a writer caught mid-record, its line in the file, its lock held.
    real_write = os.write

    def write_then_freeze(fd: int, data: Buffer) -> int:
        real_write(fd, data)
        print("frozen", flush=True)
        while True:
            signal.pause()

    os.write = write_then_freeze


if __name__ == "__main__":
    # A writer process stops here: it never imports pytest and the rest below, which would
    # double its start-up time (and the test's).
    _writer(json.loads(sys.argv[1]))
    sys.exit()

# ruff: noqa: E402 - the imports of the test side come after the writer's exit, see above.
import collections
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vectorvue_client.audit import verify_audit_chain

DEADLINE_SECONDS = 60  # only a hung test ever waits this long


# -- the test side -------------------------------------------------------------------------


class Writers:
    """Writer processes of one test, started together; all killed and reaped at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.procs: dict[str, subprocess.Popen[str]] = {}
        # A hung writer must fail the test, not hang the suite: the watchdog kills every
        # writer, and whatever waits for one of them then reads EOF.
        self._watchdog = threading.Timer(DEADLINE_SECONDS, self.kill_all)
        self._watchdog.start()

    def start(self, name: str, *, paths: list[Path] | None = None, **spec: Any) -> None:
        """A writer named `name` (its records' request ids start with it)."""
        spec = {"fsync": "never", "threads": 1, "count": 300, **spec, "name": name}
        spec["paths"] = [str(p) for p in (paths or [self.path])]
        self.procs[name] = subprocess.Popen(  # noqa: S603 - our interpreter, this file
            [sys.executable, __file__, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def go(self) -> None:
        """Wait until every writer has opened its sinks, then release them all at once."""
        for name in self.procs:
            self.expect(name, "ready\n")
        for name in self.procs:
            self.tell(name)

    def tell(self, name: str) -> None:
        stdin = self.procs[name].stdin
        assert stdin is not None
        stdin.write("go\n")
        stdin.flush()

    def expect(self, name: str, line: str) -> None:
        stdout = self.procs[name].stdout
        assert stdout is not None
        assert stdout.readline() == line, self.stderr(name)

    def read(self, name: str) -> str:
        stdout = self.procs[name].stdout
        assert stdout is not None
        return stdout.readline()

    def finish(self, name: str) -> str:
        """Wait for a writer to end well; its stderr (its audit log lines)."""
        proc = self.procs[name]
        out, err = proc.communicate(timeout=DEADLINE_SECONDS)
        assert proc.returncode == 0 and out.endswith("done\n"), err
        return err

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE_SECONDS)
        assert proc.returncode == -signal.SIGKILL

    def stderr(self, name: str) -> str:
        proc = self.procs[name]
        if proc.poll() is None or proc.stderr is None or proc.stderr.closed:
            return "(still running)"
        return proc.stderr.read()

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()

    def close(self) -> None:
        self._watchdog.cancel()
        self.kill_all()
        for proc in self.procs.values():
            proc.communicate(timeout=DEADLINE_SECONDS)


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def writers(audit_path: Path) -> Iterator[Writers]:
    group = Writers(audit_path)
    try:
        yield group
    finally:
        group.close()


def request_ids(path: Path) -> list[str]:
    return [json.loads(line)["request_id"] for line in path.read_bytes().splitlines()]


def assert_one_chain_of(path: Path, expected: set[str]) -> None:
    """The file verifies and holds each expected record exactly once, and nothing else."""
    report = verify_audit_chain(path)
    assert report.ok, report.problem
    ids = request_ids(path)
    assert report.records == len(ids) == len(expected)
    assert set(ids) == expected
    assert [n for n, c in collections.Counter(ids).items() if c > 1] == []


def names(name: str, sinks: int = 1, threads: int = 1, count: int = 300) -> set[str]:
    return {
        f"{name}.{s}.{t}.{n}" for s in range(sinks) for t in range(threads) for n in range(count)
    }


def wait_for_a_writer_waiting_on_the_lock(path: Path) -> None:
    """Until /proc/locks shows a blocked flock request on the file (a line with "->")."""
    inode = f":{path.stat().st_ino} "
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        with open("/proc/locks") as locks:
            if any("->" in line and inode in line for line in locks):
                return
        time.sleep(0.001)
    pytest.fail("no writer ever waited for the lock")


# -- many processes, one chain -------------------------------------------------------------


@pytest.mark.parametrize("fsync", ["never", "always"])
def test_four_processes_through_path_symlink_and_hard_link_keep_one_chain(
    writers: Writers, audit_path: Path, fsync: str
) -> None:
    """Four processes append 300 records each, started together: two through the path, one
    through a symlink, one through a hard link. The file is one valid chain of 1200
    records, each exactly once, and no writer logged a problem. (Before issue 11 each
    writer kept its own seq and prev, and the chain broke at the first interleaving.)"""
    JsonlAuditSink(audit_path).close()
    symlink, hard_link = audit_path.with_name("via-symlink"), audit_path.with_name("hard-link")
    symlink.symlink_to(audit_path)
    hard_link.hardlink_to(audit_path)
    writers.start("a", fsync=fsync)
    writers.start("b", fsync=fsync)
    writers.start("s", fsync=fsync, paths=[symlink])
    writers.start("h", fsync=fsync, paths=[hard_link])
    writers.go()
    assert [writers.finish(n) for n in "absh"] == ["", "", "", ""]
    assert_one_chain_of(audit_path, names("a") | names("b") | names("s") | names("h"))


def test_threads_and_two_sinks_per_process_keep_one_chain(
    writers: Writers, audit_path: Path
) -> None:
    """Two processes, each with two sinks on the file (its path and a symlink: their flocks
    conflict even within one process) and two threads per sink: 600 records, one chain, no
    deadlock between the thread lock and the file lock."""
    symlink = audit_path.with_name("via-symlink")
    symlink.symlink_to(audit_path)
    for name in "pq":
        writers.start(name, paths=[audit_path, symlink], threads=2, count=75)
    writers.go()
    assert [writers.finish(n) for n in "pq"] == ["", ""]
    expected = names("p", sinks=2, threads=2, count=75) | names("q", sinks=2, threads=2, count=75)
    assert_one_chain_of(audit_path, expected)


def test_a_forked_child_does_not_share_its_parents_lock(writers: Writers, audit_path: Path) -> None:
    """A process forks after opening its sink; parent and child both write through the
    inherited sink while another process writes too. flock locks belong to the open file
    description the two share, so the child reopens the file and locks its own."""
    writers.start("f", fork=True)
    writers.start("o")
    writers.go()
    assert [writers.finish(n) for n in "fo"] == ["", ""]
    assert_one_chain_of(audit_path, names("f.parent") | names("f.child") | names("o"))


# -- a writer killed with SIGKILL ----------------------------------------------------------


def test_a_writer_killed_while_it_holds_the_lock_stops_no_one(
    writers: Writers, audit_path: Path
) -> None:
    """A writer is frozen inside its 101st record (line written, lock held) while two others
    are waiting for the lock, then killed with SIGKILL: the kernel drops its lock, the
    others finish, and the chain holds its 101 lines and their 300 each."""
    writers.start("v", pause_at=100, count=101, freeze=True)
    for name in "ab":
        writers.start(name, pause_at=150)
    writers.go()
    for name in "vab":
        writers.expect(name, "half\n")
    writers.tell("v")
    writers.expect("v", "frozen\n")
    writers.tell("a")
    writers.tell("b")
    wait_for_a_writer_waiting_on_the_lock(audit_path)
    writers.kill("v")
    assert [writers.finish(n) for n in "ab"] == ["", ""]
    assert_one_chain_of(audit_path, names("v", count=101) | names("a") | names("b"))


def test_a_writer_killed_at_any_point_leaves_a_chain_the_others_continue(
    writers: Writers, audit_path: Path
) -> None:
    """A writer that writes without end is killed with SIGKILL at whatever point it has
    reached, while two others are writing (their second halves start right at the kill).

    Almost always the kill lands outside write(): the chain is valid and holds the others'
    600 records and the victim's first k lines, k >= its last report. Linux can end a
    write() between two pages of the page cache when SIGKILL arrives, which cuts the
    victim's last line; then exactly that line is what verify reports ("incomplete"), it
    stays the last line of the file (no sink appends after a cut line) and the others log
    that they did not write. Both outcomes are asserted exactly."""
    writers.start("v", endless=True)
    for name in "ab":
        writers.start(name, pause_at=150)
    writers.go()
    for name in "ab":
        writers.expect(name, "half\n")
    while int(writers.read("v")) < 50:
        pass
    writers.tell("a")
    writers.tell("b")
    writers.kill("v")
    errors = [writers.finish(n) for n in "ab"]
    report = verify_audit_chain(audit_path)
    lines = audit_path.read_bytes().splitlines()
    if report.ok:
        assert errors == ["", ""]
        victim = {i for i in request_ids(audit_path) if i.startswith("v.")}
        assert victim == names("v", count=len(victim)) and len(victim) >= 50
        assert_one_chain_of(audit_path, victim | names("a") | names("b"))
    else:
        assert report.first_bad_line == len(lines) == report.records + 1
        assert report.problem == (
            f"line {len(lines)}: incomplete: no newline at its end (a crash mid-write?)"
        )
        assert lines[-1].startswith(b'{"seq":')
        assert all("its last line is incomplete" in e for e in errors if e)


# -- what another writer leaves behind -----------------------------------------------------


@pytest.mark.parametrize(
    ("residue", "says"),
    [
        (b'{"seq":2,"time":"2026-11-25T12:00:00Z","act', "its last line is incomplete"),
        (b"appended by something that is not a sink\n", "its last line is not a valid audit"),
    ],
    ids=["cut-line", "foreign-line"],
)
def test_a_running_sink_never_builds_on_what_another_writer_left(
    audit_path: Path, caplog: pytest.LogCaptureFixture, residue: bytes, says: str
) -> None:
    """Another writer dies mid-line (or something that is not a sink appends a line) under
    a running sink: the sink writes nothing after it, logs one ERROR saying what it found
    and what to do, and keeps refusing; once the operator moves the file aside, the next
    record starts a new chain at the path, and a WARNING counts the records dropped."""
    sink = JsonlAuditSink(audit_path, fsync="never")
    other = JsonlAuditSink(audit_path, fsync="never")
    sink.record(record_named("s.0"))
    other.record(record_named("o.0"))
    other.close()
    with audit_path.open("ab") as file:
        file.write(residue)
    damaged = audit_path.read_bytes()
    with caplog.at_level(logging.INFO, logger="vectorvue_client.audit"):
        sink.record(record_named("s.1"))
        sink.record(record_named("s.2"))
        assert audit_path.read_bytes() == damaged
        [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert says in error and "verify_audit_chain" in error and "move it aside" in error
        aside = audit_path.with_name("audit.jsonl.damaged")
        audit_path.rename(aside)
        sink.record(record_named("s.3"))
    sink.close()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 record(s) were dropped" in warning
    assert aside.read_bytes() == damaged
    report = verify_audit_chain(aside)
    assert (report.records, report.first_bad_line) == (2, 3)
    assert_one_chain_of(audit_path, {"s.3"})


def test_sinks_follow_their_path_when_the_file_is_moved_aside_or_deleted(
    audit_path: Path,
) -> None:
    """Rotation by rename: the old file keeps its valid chain, untouched; every sink's next
    record goes to the new file at the path, in one new chain (into a file the rotation
    tool created, keeping its mode, or one the sink creates 0600). A deleted file is
    replaced the same way: records never go on into a file no one can read."""
    first, second = JsonlAuditSink(audit_path), JsonlAuditSink(audit_path, fsync="never")
    first.record(record_named("1.a"))
    second.record(record_named("2.a"))
    rotated = audit_path.with_name("audit.jsonl.1")
    audit_path.rename(rotated)
    audit_path.touch(mode=0o640)  # logrotate's `create 0640`
    audit_path.chmod(0o640)
    first.record(record_named("1.b"))
    second.record(record_named("2.b"))
    assert_one_chain_of(rotated, {"1.a", "2.a"})
    assert_one_chain_of(audit_path, {"1.b", "2.b"})
    assert stat.S_IMODE(audit_path.stat().st_mode) == 0o640
    audit_path.unlink()
    second.record(record_named("2.c"))
    first.record(record_named("1.c"))
    first.close()
    second.close()
    assert_one_chain_of(audit_path, {"2.c", "1.c"})
    assert stat.S_IMODE(audit_path.stat().st_mode) == 0o600
