"""The audit record: what the client tells the AuditSink after every operation.

It holds metadata only (never a header, a body or a credential); `error` texts are
scrubbed by the client before a record is built.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttemptSummary:
    """One attempt of an operation: its HTTP status or transport failure kind, and the
    wait the retry policy chose after it (None when it did not retry)."""

    status_code: int | None
    failure: str | None
    retry_after_seconds: float | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One outbound operation, as the audit trail keeps it.

    `time` is when it ended (RFC 3339 UTC), `action` what was asked (send_event, ...),
    `endpoint` the path, `attempts` how many requests it took, `status_code` the last
    HTTP status, `outcome` one of success, rejected (a 2xx that is not a success),
    api_error, transport_error, invalid (refused before sending), unhealthy.
    """

    time: str
    action: str
    method: str
    endpoint: str
    outcome: str
    status_code: int | None
    attempts: int
    duration_seconds: float
    item_count: int
    idempotency_key: str | None = None
    request_id: str | None = None
    error: str | None = None
    attempt_log: tuple[AttemptSummary, ...] = ()
