"""What VectorVue's /healthz says, as a value: its texts masked of every known secret
(ADR 0021), as all server text the client keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from vectorvue_client.domain.http import HttpResult, TransportFailure
from vectorvue_client.domain.redaction import mask_known, mask_known_json


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer of /healthz. `healthy` only for a 200 whose status is "healthy": the
    server answers 200 when degraded too, and says so in `status` and `checks`."""

    healthy: bool
    status_code: int | None
    status: str | None = None
    version: str | None = None
    timestamp: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def health_report(result: HttpResult) -> HealthReport:
    """The report for one /healthz exchange."""
    if isinstance(result, TransportFailure):
        detail = mask_known(result.detail)
        return HealthReport(False, None, error=f"{result.kind.value}: {detail}")
    try:
        parsed = msgspec.json.decode(result.body) if result.body else None
    except (msgspec.DecodeError, RecursionError):  # nested past the interpreter's limit
        parsed = None
    # A health probe is rare and small: the whole answer is masked, without a byte check.
    parsed = mask_known_json(parsed)
    if not isinstance(parsed, dict):
        return HealthReport(False, result.status, error=f"HTTP {result.status} without JSON")
    status = parsed.get("status") if isinstance(parsed.get("status"), str) else None
    raw_checks = parsed.get("checks")
    checks: dict[str, Any] = raw_checks if isinstance(raw_checks, dict) else {}
    healthy = result.status == 200 and status == "healthy"
    return HealthReport(
        healthy=healthy,
        status_code=result.status,
        status=status,
        version=_text(parsed.get("version")),
        timestamp=_text(parsed.get("timestamp")),
        checks=checks,
        error=None if healthy else f"HTTP {result.status}, status {status!r}",
    )


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    # The str of a number or of a (masked) container: repr's escapes can rejoin what the
    # masking split, so it is masked as a whole.
    return mask_known(str(value))
