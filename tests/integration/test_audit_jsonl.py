"""JsonlAuditSink on real files: the chain it writes verifies, survives restarts and threads,
keeps its mode, refuses to build on a damaged tail, and rides out a failing disk."""

from __future__ import annotations

import json
import logging
import resource
import stat
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Literal

import pytest

from vectorvue_client.adapters.audit_jsonl import JsonlAuditSink
from vectorvue_client.audit import verify_audit_chain
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.audit_chain import MAX_LINE_BYTES, ZERO_DIGEST, line_digest
from vectorvue_client.domain.errors import VectorVueConfigError

RECORD = AuditRecord(
    time="2026-11-25T12:00:00Z",
    action="send_event",
    method="POST",
    endpoint="/api/v1/integrations/spectrastrike/events",
    outcome="api_error",
    status_code=503,
    attempts=2,
    duration_seconds=1.25,
    item_count=1,
    idempotency_key="idem-1",
    request_id="r-1",
    error="HTTP 503: try later",
    attempt_log=(AttemptSummary(503, None, 1.0), AttemptSummary(503, None, None)),
)


def numbered(n: int, **changes: object) -> AuditRecord:
    """RECORD with request_id r-<n>: records that can be told apart in the file."""
    return replace(RECORD, request_id=f"r-{n}", **changes)  # type: ignore[arg-type]


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """RLIMIT_FSIZE: writes past `limit` bytes fail (a short write, then EFBIG) as on a full
    disk, deterministically. Python ignores SIGXFSZ, so the write just fails."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.mark.parametrize("fsync", ["always", "never"])
def test_records_are_kept_as_a_chain_that_verifies(
    audit_path: Path, fsync: Literal["always", "never"]
) -> None:
    """Each record is one line holding exactly its fields plus seq, prev and hash (no other
    key), linked to the line before; the file verifies."""
    sink = JsonlAuditSink(str(audit_path), fsync=fsync)
    for n in range(5):
        sink.record(numbered(n))
    sink.close()
    assert verify_audit_chain(audit_path).ok
    assert verify_audit_chain(str(audit_path)).records == 5
    raw = audit_path.read_bytes().splitlines()
    for n, line in enumerate(lines_of(audit_path)):
        expected = json.loads(json.dumps(asdict(numbered(n))))
        assert set(line) == {*expected, "seq", "prev", "hash"}
        assert {k: line[k] for k in expected} == expected
        assert line["seq"] == n
        assert line["prev"] == (line_digest(raw[n - 1]) if n else ZERO_DIGEST)


def test_a_new_sink_on_the_same_file_continues_the_chain(audit_path: Path) -> None:
    """A restart appends seq 3 after seq 2, linked to its digest: one chain, not two."""
    first = JsonlAuditSink(audit_path)
    for n in range(3):
        first.record(numbered(n))
    first.close()
    second = JsonlAuditSink(audit_path)
    second.record(numbered(3))
    second.close()
    raw = audit_path.read_bytes().splitlines()
    fourth = json.loads(raw[3])
    assert (fourth["seq"], fourth["prev"]) == (3, line_digest(raw[2]))
    report = verify_audit_chain(audit_path)
    assert report.ok and report.records == 4
    assert report.last_digest == line_digest(raw[3])


def test_eight_threads_make_one_valid_chain_with_every_record_once(audit_path: Path) -> None:
    """record() from 8 threads at once: seq and prev stay consistent, nothing lost or doubled."""
    sink = JsonlAuditSink(audit_path, fsync="never")
    start = threading.Barrier(8)

    def worker(t: int) -> None:
        start.wait()
        for i in range(100):
            sink.record(numbered(t * 1000 + i))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    report = verify_audit_chain(audit_path)
    assert report.ok and report.records == 800
    ids = [str(line["request_id"]) for line in lines_of(audit_path)]
    assert sorted(ids) == sorted(f"r-{t * 1000 + i}" for t in range(8) for i in range(100))


def test_a_new_file_is_created_readable_by_its_owner_only(audit_path: Path) -> None:
    """Audit trails name endpoints and request ids: 0o600."""
    JsonlAuditSink(audit_path).close()
    assert stat.S_IMODE(audit_path.stat().st_mode) == 0o600


def test_an_existing_file_keeps_its_mode(audit_path: Path) -> None:
    """An operator's 0o640 (a log-reader group) is neither widened nor narrowed."""
    audit_path.touch()
    audit_path.chmod(0o640)
    sink = JsonlAuditSink(audit_path)
    sink.record(RECORD)
    sink.close()
    assert stat.S_IMODE(audit_path.stat().st_mode) == 0o640


def _chain_of(path: Path, n: int) -> bytes:
    sink = JsonlAuditSink(path, fsync="never")
    for i in range(n):
        sink.record(numbered(i))
    sink.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda data: data[:-1], "incomplete"),  # the newline lost
        (lambda data: data[:-40], "incomplete"),  # a crash mid-write
        (lambda data: data + b"not an audit line\n", "not a valid audit line"),
        (lambda data: data.replace(b'"r-2"', b'"r-9"'), "content altered"),
        (lambda data: data + b"x" * (MAX_LINE_BYTES + 1) + b"\n", "longer than"),
    ],
    ids=["no-newline", "cut", "foreign-line", "altered", "huge"],
)
def test_a_damaged_last_line_stops_construction_and_is_left_alone(
    audit_path: Path, damage: Callable[[bytes], bytes], says: str
) -> None:
    """The sink never appends after a damaged tail, never repairs it: it refuses to start,
    tells the operator what to do, and leaves every byte (and the mode) as it was."""
    audit_path.write_bytes(damage(_chain_of(audit_path, 3)))
    before, mode = audit_path.read_bytes(), audit_path.stat().st_mode
    with pytest.raises(VectorVueConfigError) as caught:
        JsonlAuditSink(audit_path)
    assert caught.value.field == "audit_file"
    assert says in caught.value.rule
    assert "verify_audit_chain" in caught.value.rule and "move it aside" in caught.value.rule
    assert audit_path.read_bytes() == before and audit_path.stat().st_mode == mode


def test_an_edited_middle_line_is_reported_by_the_verifier(audit_path: Path) -> None:
    """An editor-style rewrite of the whole file with one field changed in line 3: the
    verifier names line 3 and says its content was altered."""
    _chain_of(audit_path, 6)
    text = audit_path.read_text().splitlines(keepends=True)
    text[2] = text[2].replace('"outcome":"api_error"', '"outcome":"success"')
    audit_path.write_text("".join(text))
    report = verify_audit_chain(audit_path)
    assert not report.ok and report.records == 2 and report.first_bad_line == 3
    assert report.problem == "line 3: content altered (its hash does not match)"


def test_a_failing_disk_is_logged_once_and_the_chain_continues_after_it(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A short write (its partial line is taken back) then two refused writes: record()
    never raises, one ERROR names the path and the OS error but not the record's text; the
    next record that is written continues the chain as if nothing had been attempted."""
    secret_ish = "error text that must stay in the record"
    sink = JsonlAuditSink(audit_path)
    sink.record(numbered(0))
    before = audit_path.read_bytes()
    with caplog.at_level(logging.INFO, logger="vectorvue_client.audit"):
        with file_size_limit(len(before) + 50):
            sink.record(numbered(1, error=secret_ish))  # 50 bytes fit: a short write
        assert audit_path.read_bytes() == before
        with file_size_limit(len(before)):
            sink.record(numbered(2, error=secret_ish))  # nothing fits: EFBIG
            sink.record(numbered(3, error=secret_ish))
        assert audit_path.read_bytes() == before
        sink.record(numbered(4))
    sink.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(audit_path) in errors[0].getMessage()
    assert "short write" in errors[0].getMessage()
    assert secret_ish not in caplog.text
    [recovered] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "3 record(s) were dropped" in recovered.getMessage()
    report = verify_audit_chain(audit_path)
    assert report.ok and report.records == 2
    assert [line["request_id"] for line in lines_of(audit_path)] == ["r-0", "r-4"]


def test_a_new_failure_streak_is_logged_again(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once per streak, not once per sink: a failure after a recovery is news."""
    sink = JsonlAuditSink(audit_path)
    with caplog.at_level(logging.ERROR, logger="vectorvue_client.audit"):
        for _ in range(2):
            with file_size_limit(audit_path.stat().st_size):
                sink.record(RECORD)
            sink.record(RECORD)
    sink.close()
    assert len(caplog.records) == 2
    assert all("EFBIG" in r.getMessage() for r in caplog.records)


def test_recording_on_a_closed_sink_does_not_raise(
    audit_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After close() records are dropped and logged; close() twice is harmless."""
    sink = JsonlAuditSink(audit_path)
    sink.close()
    sink.close()
    with caplog.at_level(logging.ERROR, logger="vectorvue_client.audit"):
        sink.record(RECORD)
    assert "closed" in caplog.text
    assert audit_path.read_bytes() == b""


def test_resuming_reads_the_tail_not_the_file(audit_path: Path) -> None:
    """A 1 GiB file (sparse: no disk used) ending in a valid line: the sink resumes from that
    line holding kilobytes, not the gigabyte; its last line may span read chunks."""
    tail = _chain_of(audit_path.with_suffix(".src"), 1)
    with audit_path.open("wb") as file:
        file.truncate(1 << 30)
    with audit_path.open("ab") as file:
        file.write(b"\n" + tail)
    tracemalloc.start()
    try:
        sink = JsonlAuditSink(audit_path, fsync="never")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    sink.record(numbered(1, error="y" * 200_000))  # longer than a 64 KiB read chunk
    sink.close()
    resumed = JsonlAuditSink(audit_path)  # its last line spans four chunks
    resumed.record(numbered(2))
    resumed.close()
    with audit_path.open("rb") as file:
        file.seek(1 << 30)
        seqs = [json.loads(x)["seq"] for x in file.read().splitlines()[1:]]
    assert seqs == [0, 1, 2]


def test_the_verifier_streams(audit_path: Path) -> None:
    """A gigabyte without a newline: reported as too long, read one bounded piece at a time."""
    with audit_path.open("wb") as file:
        file.truncate(1 << 30)
    tracemalloc.start()
    try:
        report = verify_audit_chain(audit_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.first_bad_line == 1 and report.problem is not None
    assert "longer than" in report.problem
    assert peak < 8 * MAX_LINE_BYTES


def test_configuration_mistakes_are_config_errors(tmp_path: Path) -> None:
    """A missing file to verify, a directory, an unknown fsync policy: VectorVueConfigError
    naming the setting."""
    with pytest.raises(VectorVueConfigError) as missing:
        verify_audit_chain(tmp_path / "nope.jsonl")
    assert missing.value.field == "audit_file"
    with pytest.raises(VectorVueConfigError) as directory:
        JsonlAuditSink(tmp_path)
    assert directory.value.field == "audit_file"
    with pytest.raises(VectorVueConfigError) as missing_dir:
        JsonlAuditSink(tmp_path / "no" / "such" / "dir.jsonl")
    assert missing_dir.value.field == "audit_file"
    with pytest.raises(VectorVueConfigError) as policy:
        JsonlAuditSink(tmp_path / "a.jsonl", fsync="sometimes")  # type: ignore[arg-type]
    assert policy.value.field == "audit_fsync"
    assert not (tmp_path / "a.jsonl").exists()
    with pytest.raises(VectorVueConfigError) as dir_verify:
        verify_audit_chain(tmp_path)
    assert dir_verify.value.field == "audit_file"
