"""Loose dicts -> validated VectorVue payloads of the integration API.

Every rule of the contract is checked here, before anything is encoded, and every broken
rule of an item is reported at once (field path + rule). Normalizing a normalized payload
changes nothing: `normalize_event(to_dict(normalize_event(x))) == normalize_event(x)`.

The rules themselves are in `field_rules`. A dict is read first by `normalize_fast` (the same
rules, without collecting: what it accepts it returns exactly as the reading here would);
anything it does not accept is read here, which names every broken rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from vectorvue_client.domain import models as m
from vectorvue_client.domain import normalize_fast as fast
from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.field_rules import (
    MITRE_FIELDS,
    SEVERITY_ALIASES,
    Problems,
    _metadata,
    _name,
    _optional_id,
    _optional_text,
    _or_info,
    _required,
    _severity,
    _status,
    _text,
    _timestamp,
    check_length,
    mitre_ids,
)
from vectorvue_client.domain.identity import content_id
from vectorvue_client.domain.timestamps import parse_rfc3339

__all__ = [
    "MITRE_FIELDS",
    "SEVERITY_ALIASES",
    "Problems",
    "check_length",
    "mitre_ids",
    "normalize_event",
    "normalize_finding",
    "normalize_severity",
]

_EVENT_FIELDS: Final = frozenset(m.IntegrationEvent.__struct_fields__) | set(MITRE_FIELDS)
_FINDING_FIELDS: Final = frozenset(m.IntegrationFinding.__struct_fields__) | set(MITRE_FIELDS)

_Problems = Problems  # the former private names, kept for existing callers
_check_length = check_length
_mitre = mitre_ids


def normalize_event(raw: Mapping[str, Any] | msgspec.Struct) -> m.IntegrationEvent:
    """A validated integration-API event from a loose dict (or an event to re-check).

    Severity defaults to `info` (telemetry often has none); `event_id`, when absent, is a
    hash of the content, so a resend of the same event is recognised by VectorVue.
    """
    data = raw if type(raw) is dict else _as_mapping(raw)
    if type(data) is dict:
        try:
            event = fast.event(data)
        except VectorVueSerializationError:
            event = None  # the reading below reports it, with every other problem
        if event is not None:
            return event
    problems = _Problems()
    _reject_unknown(data, _EVENT_FIELDS, problems)
    fields: dict[str, Any] = {
        "source_system": problems.check(lambda: _name(data, "source_system")),
        "event_type": problems.check(lambda: _name(data, "event_type")),
        "occurred_at": problems.check(lambda: _timestamp(data, "occurred_at", required=True)),
        "severity": problems.check(lambda: _severity(_or_info(data.get("severity")), "severity")),
        "asset_ref": problems.check(lambda: _text(data, "asset_ref", m.ASSET_REF_LEN)),
        "message": problems.check(lambda: _text(data, "message", m.MESSAGE_LEN)),
        "metadata": problems.check(lambda: _metadata(data)),
    }
    event_id = problems.check(lambda: _optional_id(data, "event_id"))
    problems.raise_if_any()
    return m.IntegrationEvent(event_id=event_id or _content_id("evt", fields), **fields)


def normalize_finding(raw: Mapping[str, Any] | msgspec.Struct) -> m.IntegrationFinding:
    """A validated integration-API finding from a loose dict (or a finding to re-check).

    Severity is required (a finding without one is not triageable) and accepts the aliases
    and CVSS scores of `normalize_severity`; `status` defaults to `open`.
    """
    data = raw if type(raw) is dict else _as_mapping(raw)
    if type(data) is dict:
        try:
            finding = fast.finding(data)
        except VectorVueSerializationError:
            finding = None  # the reading below reports it, with every other problem
        if finding is not None:
            return finding
    problems = _Problems()
    _reject_unknown(data, _FINDING_FIELDS, problems)
    fields: dict[str, Any] = {
        "title": problems.check(lambda: _text(data, "title", m.TITLE_LEN)),
        "description": problems.check(lambda: _text(data, "description", m.DESCRIPTION_LEN)),
        "severity": problems.check(lambda: _severity(_required(data, "severity"), "severity")),
        "status": problems.check(lambda: _status(data.get("status"))),
        "first_seen": problems.check(lambda: _timestamp(data, "first_seen", required=True)),
        "last_seen": problems.check(lambda: _timestamp(data, "last_seen", required=False)),
        "asset_ref": problems.check(lambda: _optional_text(data, "asset_ref", m.ASSET_REF_LEN)),
        "recommendation": problems.check(
            lambda: _optional_text(data, "recommendation", m.RECOMMENDATION_LEN)
        ),
        "metadata": problems.check(lambda: _metadata(data)),
    }
    finding_id = problems.check(lambda: _optional_id(data, "finding_id"))
    first, last = fields["first_seen"], fields["last_seen"]
    if first and last and parse_rfc3339(last) < parse_rfc3339(first):
        problems.add("last_seen", f"{last} is before first_seen {first}")
    problems.raise_if_any()
    return m.IntegrationFinding(finding_id=finding_id or _content_id("fnd", fields), **fields)


def normalize_severity(value: Any, field: str = "severity") -> m.Severity:
    """A severity level from a name, an alias, or a CVSS score 0-10 (number or numeric
    string): 0 info, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical."""
    return _severity(value, field)


# -- the item as a whole ----------------------------------------------------------------------
def _as_mapping(raw: Mapping[str, Any] | msgspec.Struct) -> Mapping[str, Any]:
    if isinstance(raw, msgspec.Struct):
        return msgspec.structs.asdict(raw)
    if not isinstance(raw, Mapping):
        raise VectorVueSerializationError.single(
            "(item)", f"must be an object (a dict), not {type(raw).__name__}"
        )
    return raw


def _reject_unknown(data: Mapping[str, Any], allowed: frozenset[str], problems: _Problems) -> None:
    # VectorVue answers an unknown field with a 422, and a typo ("sevrity") that silently
    # became a default would be worse: refuse both here, by name.
    for key in data:
        if key not in allowed:
            problems.add(str(key), f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _content_id(prefix: str, fields: Mapping[str, Any]) -> str:
    # Every field was checked above (metadata by to_json_value): no NaN can be left in it.
    return content_id(prefix, encode_json_data(fields))
