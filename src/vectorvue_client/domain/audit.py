"""The audit record: what the client tells the AuditSink after every operation.

It holds metadata only (never a header, a body or a credential); `error` texts are
scrubbed by the client before a record is built, and every sink writes `masked(record)`,
so that no known secret reaches an audit trail whoever built the record (ADR 0021).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vectorvue_client.domain.redaction import mask_known


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


def masked(record: AuditRecord) -> AuditRecord:
    """`record` with every known secret masked out of its texts (the request id and the
    error are server text; the others are ours, masked all the same); `record` itself
    when none holds one, which is nearly always."""
    texts = (
        record.time,
        record.action,
        record.method,
        record.endpoint,
        record.outcome,
        record.idempotency_key or "",
        record.request_id or "",
        record.error or "",
        *(attempt.failure or "" for attempt in record.attempt_log),
    )
    # One search per known value over all the texts, rather than one per text.
    joined = "\0".join(texts)
    if mask_known(joined) == joined:
        return record
    return replace(
        record,
        time=mask_known(record.time),
        action=mask_known(record.action),
        method=mask_known(record.method),
        endpoint=mask_known(record.endpoint),
        outcome=mask_known(record.outcome),
        idempotency_key=_masked(record.idempotency_key),
        request_id=_masked(record.request_id),
        error=_masked(record.error),
        attempt_log=tuple(
            replace(attempt, failure=_masked(attempt.failure)) for attempt in record.attempt_log
        ),
    )


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_known(text)
