"""Audit records that nobody keeps are not built, and nothing a sink keeps is lost.

The client asks a SelectiveAuditSink `keeps(outcome)` before building each record; a sink
without `keeps` is given every record, as before."""

from __future__ import annotations

import json
import logging

import pytest

from vectorvue_client import VectorVueAPIError, VectorVueSerializationError
from vectorvue_client.adapters.audit_fanout import FanoutAuditSink
from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.http import HttpResponse
from vectorvue_client.ports import SelectiveAuditSink
from vectorvue_client.testing import FakePorts, FakeTransport, MemoryAuditSink, json_response

EVENT = {
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-11-25T09:14:03Z",
    "asset_ref": "10.0.0.5",
    "message": "22/tcp open",
}
ACCEPTED = json.dumps({"request_id": "r-1", "status": "accepted", "data": {}, "errors": []})


class Choosy(MemoryAuditSink):
    """Keeps the outcomes it names; counts what it was asked."""

    def __init__(self, *wanted: str) -> None:
        super().__init__()
        self.wanted = set(wanted)
        self.asked: list[str] = []

    def keeps(self, outcome: str) -> bool:
        self.asked.append(outcome)
        return outcome in self.wanted


def _ports(audit: MemoryAuditSink, *answers: HttpResponse | None) -> FakePorts:
    transport = FakeTransport([json_response(202, ACCEPTED) if a is None else a for a in answers])
    return FakePorts(transport=transport, audit=audit)


def test_a_record_the_sink_would_drop_is_not_given_to_it() -> None:
    audit = Choosy("api_error")
    ports = _ports(audit, None)
    with ports.client() as client:
        assert client.send_event(EVENT).success
    assert audit.asked == ["success"]
    assert audit.records == []


def test_a_record_the_sink_keeps_is_given_to_it_whole() -> None:
    audit = Choosy("success")
    with _ports(audit, None).client() as client:
        client.send_event(EVENT)
    [record] = audit.records
    assert (record.action, record.outcome, record.status_code) == ("send_event", "success", 202)
    assert record.idempotency_key


def test_a_sink_without_keeps_is_given_every_record() -> None:
    audit = MemoryAuditSink()
    assert not isinstance(audit, SelectiveAuditSink)
    with _ports(audit, None).client() as client:
        client.send_event(EVENT)
    assert [r.outcome for r in audit.records] == ["success"]


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        (logging.DEBUG, {"success": True, "api_error": True}),
        (logging.INFO, {"success": True, "api_error": True}),
        (logging.WARNING, {"success": False, "api_error": True}),
        (logging.ERROR, {"success": False, "api_error": False}),
    ],
)
def test_the_logging_sink_keeps_exactly_what_it_would_log(
    level: int, kept: dict[str, bool]
) -> None:
    logger = logging.getLogger(f"test.audit.selective.{level}")
    logger.setLevel(level)
    handler = _Collect()
    logged = handler.records
    logger.addHandler(handler)
    try:
        sink = LoggingAuditSink(logger)
        for outcome, expected in kept.items():
            assert sink.keeps(outcome) is expected
            before = len(logged)
            sink.record(_record(outcome))
            assert (len(logged) > before) is expected
    finally:
        logger.removeHandler(handler)


def test_a_log_level_lowered_at_run_time_brings_the_records_back() -> None:
    logger = logging.getLogger("test.audit.selective.runtime")
    logger.setLevel(logging.WARNING)
    sink = LoggingAuditSink(logger)
    assert not sink.keeps("success")
    logger.setLevel(logging.INFO)
    assert sink.keeps("success")


def test_a_fanout_keeps_what_any_of_its_sinks_keeps() -> None:
    quiet = logging.getLogger("test.audit.selective.quiet")
    quiet.setLevel(logging.CRITICAL)
    silent = LoggingAuditSink(quiet)
    assert not FanoutAuditSink(silent).keeps("success")
    assert FanoutAuditSink(silent, Choosy("success")).keeps("success")
    assert not FanoutAuditSink(silent, Choosy("api_error")).keeps("success")
    # A sink that cannot say keeps everything, so the fan-out does too.
    assert FanoutAuditSink(silent, MemoryAuditSink()).keeps("success")


class Confused(MemoryAuditSink):
    """Breaks the port's rule in `keeps`."""

    def keeps(self, outcome: str) -> bool:
        raise RuntimeError("cannot tell")


def test_a_sink_that_cannot_answer_is_given_the_record_and_the_send_stands() -> None:
    audit = Confused()
    with _ports(audit, None).client() as client:
        assert client.send_event(EVENT).success
    assert [r.outcome for r in audit.records] == ["success"]


def test_refusals_and_failures_are_asked_about_too() -> None:
    audit = Choosy("invalid", "api_error")
    ports = _ports(audit, json_response(400, json.dumps({"detail": "bad"})))
    with ports.client() as client, pytest.raises(VectorVueAPIError):
        client.send_event(EVENT)
    with ports.client() as client, pytest.raises(VectorVueSerializationError):
        client.send_event({**EVENT, "asset_ref": ""})
    assert [r.outcome for r in audit.records] == ["api_error", "invalid"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _record(outcome: str) -> AuditRecord:
    return AuditRecord(
        time="2026-11-25T12:00:00Z",
        action="send_event",
        method="POST",
        endpoint="/e",
        outcome=outcome,
        status_code=202,
        attempts=1,
        duration_seconds=0.0,
        item_count=1,
    )
