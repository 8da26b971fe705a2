"""Loose dicts -> validated VectorVue payloads of the integration API.

A dict is converted by msgspec into an input Struct whose fields carry the contract's
annotations (`models`: lengths in code points, patterns), checked in C; unknown fields are
refused. Then only what no annotation can say, in Python (`field_rules`): timestamps of
every shape, severity aliases and CVSS scores, the finding status, metadata as JSON data
with the MITRE ids folded in. When the conversion fails, every field is checked on its own
against its annotation, so that every broken rule of the item is reported at once (field
path + rule). Normalizing a normalized payload changes nothing:
`normalize_event(to_dict(normalize_event(x))) == normalize_event(x)`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import msgspec

from vectorvue_client.domain import field_rules as rules
from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.identity import content_id
from vectorvue_client.domain.timestamps import to_rfc3339

__all__ = ["normalize_event", "normalize_finding", "normalize_severity"]


class _EventInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An integration-API event as a caller writes it (`Any`: read by a field rule)."""

    source_system: m.Name
    event_type: m.Name
    occurred_at: Any
    asset_ref: m.AssetRef
    message: m.Message
    event_id: m.Id | None = None
    severity: Any = None
    metadata: Any = None
    mitre_techniques: Any = None
    mitre_tactics: Any = None


class _FindingInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An integration-API finding as a caller writes it (`Any`: read by a field rule)."""

    title: m.Title
    description: m.Description
    severity: Any
    first_seen: Any
    finding_id: m.Id | None = None
    status: Any = None
    last_seen: Any = None
    asset_ref: m.FindingAssetRef | None = None
    recommendation: m.Recommendation | None = None
    metadata: Any = None
    mitre_techniques: Any = None
    mitre_tactics: Any = None


def normalize_event(raw: Mapping[str, Any] | msgspec.Struct) -> m.IntegrationEvent:
    """A validated integration-API event from a loose dict (or an event to re-check).

    Severity defaults to `info` (telemetry often has none); `event_id`, when absent, is a
    hash of the content, so a resend of the same event is recognised by VectorVue.
    """
    data = _as_dict(raw)
    try:
        given = msgspec.convert(data, _EventInput)
        event = _event(given, operator.call)
        if not event.event_id:
            own = content_id("evt", encode_json_data(_content(event, "event_id")))
            event = msgspec.structs.replace(event, event_id=own)
    except (msgspec.ValidationError, VectorVueSerializationError) as exc:
        problems = rules.Problems()
        _event(_fallback(data, _EventInput, problems), problems.check)
        _raise_found(problems, exc)
    return event


def normalize_finding(raw: Mapping[str, Any] | msgspec.Struct) -> m.IntegrationFinding:
    """A validated integration-API finding from a loose dict (or a finding to re-check).

    Severity is required (a finding without one is not triageable) and accepts the aliases
    and CVSS scores of `normalize_severity`; `status` defaults to `open`. last_seen is not
    compared with first_seen: VectorVue stores it as sent.
    """
    data = _as_dict(raw)
    try:
        given = msgspec.convert(data, _FindingInput)
        finding = _finding(given, operator.call)
        if not finding.finding_id:
            own = content_id("fnd", encode_json_data(_content(finding, "finding_id")))
            finding = msgspec.structs.replace(finding, finding_id=own)
    except (msgspec.ValidationError, VectorVueSerializationError) as exc:
        problems = rules.Problems()
        _finding(_fallback(data, _FindingInput, problems), problems.check)
        _raise_found(problems, exc)
    return finding


def _raise_found(problems: rules.Problems, exc: Exception) -> NoReturn:
    # What the collecting reading found; else the content id's own refusal (a NUL, which
    # names its field already), or what msgspec said of the item as a whole.
    problems.raise_if_any()
    if isinstance(exc, VectorVueSerializationError):
        raise exc
    raise VectorVueSerializationError.single("(item)", str(exc)) from None


# `check(rule, *args)` applies a rule: operator.call on the straight path (the first broken
# rule raises, and no closure is built per field), `Problems.check` on the error path
# (every broken rule is recorded).
type _Check = Callable[..., Any]


def _event(given: _EventInput, check: _Check) -> m.IntegrationEvent:
    # The given event_id, or "" until the content id is known (never a valid id).
    return m.IntegrationEvent(
        event_id=given.event_id or "",
        source_system=given.source_system,
        event_type=given.event_type,
        occurred_at=check(_timestamp, given.occurred_at, "occurred_at", True),
        severity=check(_event_severity, given.severity),
        asset_ref=given.asset_ref,
        message=given.message,
        metadata=check(rules.metadata, given.metadata, given.mitre_techniques, given.mitre_tactics),
    )


def _finding(given: _FindingInput, check: _Check) -> m.IntegrationFinding:
    return m.IntegrationFinding(
        finding_id=given.finding_id or "",
        title=given.title,
        description=given.description,
        severity=check(normalize_severity, given.severity),
        status=check(rules.status, given.status),
        first_seen=check(_timestamp, given.first_seen, "first_seen", True),
        last_seen=check(_timestamp, given.last_seen, "last_seen", False),
        asset_ref=given.asset_ref,
        recommendation=given.recommendation,
        metadata=check(rules.metadata, given.metadata, given.mitre_techniques, given.mitre_tactics),
    )


def _content(payload: msgspec.Struct, id_field: str) -> dict[str, Any]:
    """What a content id hashes: every field of `payload` but its id, nulls included (sorted
    by the encoder, so the Struct's field order does not matter)."""
    fields = msgspec.structs.asdict(payload)
    del fields[id_field]
    return fields


def normalize_severity(value: Any, field: str = "severity") -> m.Severity:
    """A severity level from a name, an alias, or a CVSS score 0-10 (number or numeric
    string): 0 info, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical."""
    if value is None:
        raise VectorVueSerializationError.single(field, "is required")
    return rules.severity(value, field)


# -- the item as a whole ----------------------------------------------------------------------
def _fallback[S: msgspec.Struct](
    data: Mapping[Any, Any], shape: type[S], problems: rules.Problems
) -> S:
    # The error path: every annotated field checked on its own (problems recorded), and an
    # input Struct holding the caller's values of the fields a Python rule reads (typed
    # Any), so that their problems are reported too.
    rules.struct_problems(data, shape, problems)
    values = {
        f.name: data.get(f.name) if f.type is Any else (None if f.required else f.default)
        for f in msgspec.structs.fields(shape)
    }
    return shape(**values)


def _timestamp(value: Any, field: str, required: bool) -> str | None:
    if value is None:
        if required:
            raise VectorVueSerializationError.single(field, "is required")
        return None
    return to_rfc3339(value, field)


def _event_severity(value: Any) -> m.Severity:
    return "info" if value is None else rules.severity(value, "severity")


def _as_dict(raw: Mapping[str, Any] | msgspec.Struct) -> dict[Any, Any]:
    if type(raw) is dict:
        return raw
    if isinstance(raw, msgspec.Struct):
        return msgspec.structs.asdict(raw)
    if not isinstance(raw, Mapping):
        raise VectorVueSerializationError.single(
            "(item)", f"must be an object (a dict), not {type(raw).__name__}"
        )
    return dict(raw)
