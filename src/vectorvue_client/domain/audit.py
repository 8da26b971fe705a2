"""The audit record: what the client tells the AuditSink after every operation.

It holds metadata only (never a header, a body or a credential); `error` texts are
scrubbed by the client before a record is built."""

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
    """One outbound operation, as the audit trail keeps it."""

    operation: str
    method: str
    path: str
    outcome: str  # "success" | "rejected" | "api_error" | "transport_error" | "invalid"
    status_code: int | None
    attempts: tuple[AttemptSummary, ...]
    duration_seconds: float
    item_count: int
    idempotency_key: str | None = None
    request_id: str | None = None
    error: str | None = None
