"""POST /api/v1/client/events: the body, its allow-lists and its rate key, as VectorVue
checks them (contract, "POST /api/v1/client/events").

The server validates the body's schema (lengths, raw), then the two allow-lists (trimmed and
upper-cased `event_type`, trimmed and lower-cased `object_type`), then 120 events per sliding
60 s per (tenant, lower-cased `sub`) of the bearer token. The caller's values are sent as
given, so that the local check and the server's read the same text. Its 202
`{"accepted": true}` proves nothing more: the event is stored afterwards, in the
background, and a storage failure there is swallowed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.domain.encoding import encode_json_data, to_json_value
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.field_rules import Problems, annotated
from vectorvue_client.domain.jwt import jwt_claims
from vectorvue_client.domain.timestamps import to_rfc3339

PATH: Final = "/api/v1/client/events"
EVENT_TYPES: Final = frozenset(
    {
        "FINDING_VIEWED",
        "FINDING_ACKNOWLEDGED",
        "REMEDIATION_OPENED",
        "REMEDIATION_COMPLETED",
        "REPORT_DOWNLOADED",
        "DASHBOARD_VIEWED",
    }
)
OBJECT_TYPES: Final = frozenset({"finding", "report", "dashboard", "remediation"})
# The server's limiter: per (tenant, lower-cased sub), over a sliding minute.
RATE_LIMIT: Final = 120
RATE_WINDOW_SECONDS: Final = 60.0

# Lengths in code points, of the raw value (before any trimming), as the server's schema.
EventType = Annotated[str, Meta(min_length=3, max_length=64)]
ObjectType = Annotated[str, Meta(min_length=3, max_length=32)]
ObjectId = Annotated[str, Meta(max_length=128)]
Severity = Annotated[str, Meta(max_length=32)]


class ClientEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The request body; absent optional fields are left out (the server's defaults)."""

    event_type: str
    object_type: str
    object_id: str | None = None
    severity: str | None = None
    timestamp: str | None = None
    metadata_json: dict[str, Any] | None = None


def client_event(
    event_type: Any,
    object_type: Any,
    *,
    object_id: Any = None,
    severity: Any = None,
    timestamp: Any = None,
    metadata: Any = None,
) -> ClientEvent:
    """The body, every rule checked; VectorVueSerializationError listing each broken one
    (by parameter name)."""
    problems = Problems()
    kind = problems.check(annotated, event_type, "event_type", EventType)
    if kind is not None and kind.strip().upper() not in EVENT_TYPES:
        problems.add("event_type", f"trimmed and upper-cased must be one of {_listed(EVENT_TYPES)}")
    what = problems.check(annotated, object_type, "object_type", ObjectType)
    if what is not None and what.strip().lower() not in OBJECT_TYPES:
        problems.add(
            "object_type", f"trimmed and lower-cased must be one of {_listed(OBJECT_TYPES)}"
        )
    if object_id is not None:
        problems.check(annotated, object_id, "object_id", ObjectId)
    if severity is not None:
        problems.check(annotated, severity, "severity", Severity)
    when = None if timestamp is None else problems.check(to_rfc3339, timestamp, "timestamp")
    data = None
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            problems.add("metadata", "must be an object (a mapping of names to values)")
        else:
            data = problems.check(to_json_value, dict(metadata), "metadata")
    problems.raise_if_any()
    return ClientEvent(
        event_type=event_type,
        object_type=object_type,
        object_id=object_id,
        severity=severity,
        timestamp=when,
        metadata_json=data,
    )


def client_event_body(event: ClientEvent) -> bytes:
    """The JSON bytes of `event`; a NUL character is refused (PostgreSQL cannot store it,
    and the server's background store would drop the event without a word)."""
    try:
        return encode_json_data(event)
    except VectorVueSerializationError as exc:
        fields = [p.field.replace("metadata_json", "metadata", 1) for p in exc.problems]
        raise VectorVueSerializationError.single(
            ", ".join(fields), "holds a NUL character, which VectorVue cannot store"
        ) from None


def rate_key(token: str) -> str:
    """Whose budget a client event spends: the token's tenant and lower-cased `sub`. A
    token that is not a JWT (VectorVue refuses it anyway) has a budget of its own."""
    try:
        claims = jwt_claims(token)
    except ValueError:
        return "\x00client-events\x00?"
    tenant, sub = claims.get("tenant_id"), claims.get("sub")
    with contextlib.suppress(ValueError, TypeError, AttributeError):  # not a UUID: as it is
        tenant = str(uuid.UUID(tenant))
    # NUL-separated: no operator id (the gateway's pacing key) holds one.
    return f"\x00client-events\x00{tenant}\x00{str(sub).lower()}"


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))
