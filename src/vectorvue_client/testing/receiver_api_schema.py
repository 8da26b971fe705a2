"""The integration API's item schema (VectorVue commit 62be902), for LocalVectorVue.

Written from design/vectorvue-contract.md (profile integration-api and "Limits the client
mirrors exactly"), never from the client's models, so that a limit the client gets wrong
is refused here and shows up in a test. What the server does, in order:

- the item is a closed object (an unknown field is 422); lengths are counted in code points
  on the raw value, before any trimming; ids, source_system and event_type match
  [A-Za-z0-9._:-]+ in full;
- `severity` is a raw string of 2-16 characters that, trimmed and lower-cased, is one of
  info, low, medium, high, critical; a finding's may also be informational (-> info) or
  med (-> medium); a finding's `status` is 2-32 characters, trimmed and lower-cased one of
  open, in_progress, resolved, closed (default open);
- datetimes are what the server's parser takes (ISO-8601, or a unix time as pydantic
  reads one: the contract says so of the gateway's, the same framework); `last_seen` is
  NOT compared with `first_seen`;
- `metadata` is any JSON object (not null), no depth or size limit of its own;
- an absent event_id / finding_id is derived by the server: here from the item's bytes
  (the contract does not say how the real one does it).

What was stored is the item as received with its severity (and status) normalized and its
id filled in.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.testing.receiver_json import is_datetime

_ID_PATTERN: Final = r"\A[A-Za-z0-9._:-]+\Z"
_Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=_ID_PATTERN)]
_Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=_ID_PATTERN)]
_Severity = Annotated[str, Meta(min_length=2, max_length=16)]
SEVERITIES: Final = frozenset({"info", "low", "medium", "high", "critical"})
FINDING_SEVERITY_ALIASES: Final = {"informational": "info", "med": "medium"}
FINDING_STATUSES: Final = frozenset({"open", "in_progress", "resolved", "closed"})


class Event(msgspec.Struct, forbid_unknown_fields=True):
    """POST .../events and each item of .../events/batch."""

    source_system: _Name
    event_type: _Name
    occurred_at: str | int | float
    severity: _Severity
    asset_ref: Annotated[str, Meta(min_length=1, max_length=128)]
    message: Annotated[str, Meta(min_length=1, max_length=1024)]
    event_id: _Id | None = None
    metadata: dict[str, Any] = {}


class Finding(msgspec.Struct, forbid_unknown_fields=True):
    """POST .../findings and each item of .../findings/batch."""

    title: Annotated[str, Meta(min_length=3, max_length=256)]
    description: Annotated[str, Meta(min_length=1, max_length=4096)]
    severity: _Severity
    first_seen: str | int | float
    finding_id: _Id | None = None
    status: Annotated[str, Meta(min_length=2, max_length=32)] = "open"
    last_seen: str | int | float | None = None
    asset_ref: Annotated[str, Meta(max_length=128)] | None = None
    recommendation: Annotated[str, Meta(max_length=2048)] | None = None
    metadata: dict[str, Any] = {}


class InvalidError(ValueError):
    """An item the server refuses with 422; the message names the field and the rule."""


def check_event(item: Any) -> dict[str, Any]:
    """The event as the server stores it, or InvalidError."""
    event = _convert(item, Event)
    _datetime(event.occurred_at, "occurred_at")
    severity = event.severity.strip().lower()
    if severity not in SEVERITIES:
        raise InvalidError(f"severity {event.severity!r} is not one of {_listed(SEVERITIES)}")
    event_id = event.event_id or _derived_id("evt", item)
    return {**item, "event_id": event_id, "severity": severity}


def check_finding(item: Any) -> dict[str, Any]:
    """The finding as the server stores it, or InvalidError."""
    finding = _convert(item, Finding)
    _datetime(finding.first_seen, "first_seen")
    if finding.last_seen is not None:
        _datetime(finding.last_seen, "last_seen")
    severity = finding.severity.strip().lower()
    severity = FINDING_SEVERITY_ALIASES.get(severity, severity)
    if severity not in SEVERITIES:
        allowed = _listed(SEVERITIES | FINDING_SEVERITY_ALIASES.keys())
        raise InvalidError(f"severity {finding.severity!r} is not one of {allowed}")
    status = finding.status.strip().lower()
    if status not in FINDING_STATUSES:
        raise InvalidError(f"status {finding.status!r} is not one of {_listed(FINDING_STATUSES)}")
    finding_id = finding.finding_id or _derived_id("fnd", item)
    return {**item, "finding_id": finding_id, "severity": severity, "status": status}


def _convert[T: msgspec.Struct](item: Any, struct: type[T]) -> T:
    try:
        return msgspec.convert(item, struct)
    except msgspec.ValidationError as exc:
        raise InvalidError(str(exc)) from None


def _datetime(value: str | float, field: str) -> None:
    if not is_datetime(value):
        raise InvalidError(f"{field} {value!r} is not an ISO-8601 datetime")


def _derived_id(prefix: str, item: dict[str, Any]) -> str:
    digest = hashlib.sha256(msgspec.json.encode(item, order="sorted")).hexdigest()
    return f"{prefix}-{digest[:40]}"


def _listed(values: Any) -> str:
    return ", ".join(sorted(values))
