"""The AuditSink contract, run against every sink: LoggingAuditSink, JsonlAuditSink and the
MemoryAuditSink fake, so none of them can drift from what the port promises.

Each sink keeps every record with its facts, in order, and record() never raises, even
while its backend fails (a raising log handler, a file that cannot grow)."""

from __future__ import annotations

import json
import logging
import resource
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client.adapters.audit_jsonl import JsonlAuditSink
from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.ports import AuditSink
from vectorvue_client.testing import MemoryAuditSink

RECORD = AuditRecord(
    time="2026-11-25T12:00:00Z",
    action="send_event",
    method="POST",
    endpoint="/api/v1/integrations/spectrastrike/events",
    outcome="success",
    status_code=202,
    attempts=1,
    attempt_log=(AttemptSummary(202, None, None),),
    duration_seconds=0.01,
    item_count=1,
    idempotency_key="k",
    request_id="r-1",
)
FACTS = (
    "time",
    "action",
    "endpoint",
    "attempts",
    "status_code",
    "request_id",
    "idempotency_key",
    "outcome",
    "duration_seconds",
)


@dataclass
class Subject:
    """A sink, what it kept (as field dicts, in order), and a way to make its backend fail."""

    sink: AuditSink
    kept: Callable[[], list[dict[str, Any]]]
    failing: Callable[[], AbstractContextManager[None]]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Broken(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("disk full")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        raise RuntimeError("still full")


def _logging_subject() -> Iterator[Subject]:
    logger = logging.getLogger("test.contract.audit")
    logger.setLevel(logging.DEBUG)
    capture = _Capture()
    logger.addHandler(capture)

    @contextmanager
    def failing() -> Iterator[None]:
        broken = _Broken()
        logger.addHandler(broken)
        try:
            yield
        finally:
            logger.removeHandler(broken)

    def kept() -> list[dict[str, Any]]:
        # LoggingAuditSink logs "vectorvue <json>".
        return [json.loads(m.split(" ", 1)[1]) for m in capture.messages]

    try:
        yield Subject(LoggingAuditSink(logger), kept, failing)
    finally:
        logger.removeHandler(capture)


def _jsonl_subject(path: Path) -> Iterator[Subject]:
    sink = JsonlAuditSink(path)

    @contextmanager
    def failing() -> Iterator[None]:
        # RLIMIT_FSIZE at the file's size: every append fails with EFBIG, as on a full disk.
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    def kept() -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_bytes().splitlines()]

    try:
        yield Subject(sink, kept, failing)
    finally:
        sink.close()


def _memory_subject() -> Iterator[Subject]:
    memory = MemoryAuditSink()
    # A list cannot fail: the contract holds for it trivially.
    yield Subject(memory, lambda: [asdict(r) for r in memory.records], nullcontext)


@pytest.fixture(params=["logging", "jsonl", "memory"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "logging":
        yield from _logging_subject()
    elif request.param == "jsonl":
        yield from _jsonl_subject(tmp_path / "audit.jsonl")
    else:
        yield from _memory_subject()


def _facts(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry[name] for name in FACTS}


def test_an_audit_sink_keeps_every_record_with_its_facts_in_order(subject: Subject) -> None:
    """One entry per record, in the order recorded, each carrying the record's time, action,
    endpoint, attempts, status, request id, idempotency key, outcome and duration."""
    sent = [
        RECORD,
        replace(RECORD, outcome="api_error", status_code=503, attempts=3, request_id="r-2"),
        replace(RECORD, time="2026-11-25T12:00:01Z", idempotency_key=None, request_id=None),
        replace(RECORD, action="send_findings", endpoint="/x", duration_seconds=2.5),
    ]
    for record in sent:
        subject.sink.record(record)
    assert [_facts(e) for e in subject.kept()] == [_facts(asdict(r)) for r in sent]


def test_a_failing_backend_never_breaks_the_sender(subject: Subject) -> None:
    """While the backend fails record() returns normally (auditing never fails a delivery),
    and once it recovers the sink keeps records again."""
    with subject.failing():
        subject.sink.record(RECORD)
        subject.sink.record(RECORD)
    after = replace(RECORD, request_id="r-after")
    subject.sink.record(after)
    assert _facts(subject.kept()[-1]) == _facts(asdict(after))
