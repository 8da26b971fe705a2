"""AuditSink that hands each record to several sinks (the log and the audit file)."""

from __future__ import annotations

from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.ports import AuditSink, SelectiveAuditSink


class FanoutAuditSink:
    """Every record goes to every sink, in order. Sinks do not raise (the port says so),
    so one failing sink cannot keep a record from the others."""

    def __init__(self, *sinks: AuditSink) -> None:
        if not sinks:
            raise ValueError("a fan-out needs at least one sink")
        self._sinks = sinks

    def keeps(self, outcome: str) -> bool:
        """True when any of the sinks would keep it (a sink that cannot say keeps all)."""
        return any(
            not isinstance(sink, SelectiveAuditSink) or sink.keeps(outcome) for sink in self._sinks
        )

    def record(self, record: AuditRecord) -> None:
        """Give `record` to each sink."""
        for sink in self._sinks:
            sink.record(record)
