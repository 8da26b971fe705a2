"""What VectorVue's /healthz says, as a value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from vectorvue_client.domain.http import HttpResult, TransportFailure


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
        return HealthReport(False, None, error=f"{result.kind.value}: {result.detail}")
    try:
        parsed = msgspec.json.decode(result.body) if result.body else None
    except msgspec.DecodeError:
        parsed = None
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
    return value if isinstance(value, str) else str(value) if value is not None else None
