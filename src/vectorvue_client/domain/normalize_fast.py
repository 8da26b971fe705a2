"""The integration API's payloads from input that needs no problem collecting.

`normalize_event` and `normalize_finding` collect every broken rule of an item, which costs
a closure and a try per field. Most items break none, so they are read here first, field
by field, with the same rules (the same functions where a rule does more than a type and
length check, the same constants where it does not). Whatever is not plainly right here is
left to the collecting reading, which gives the precise errors: these functions return
None (or raise a VectorVueSerializationError, which the caller treats the same way) for
any input they do not accept, and for every input they accept return exactly what the
collecting reading returns. tests/unit/test_fast_paths.py holds both to that.
"""

from __future__ import annotations

import re
from typing import Any, Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import NOT_PLAIN, encode_json_data, plain_copy
from vectorvue_client.domain.field_rules import (
    MITRE_FIELDS,
    SEVERITY_ALIASES,
    _fold_mitre,
    _metadata,
    _severity,
    _status,
)
from vectorvue_client.domain.identity import content_id
from vectorvue_client.domain.timestamps import parse_rfc3339, to_rfc3339

# The length bounds and the id pattern of models, in one match each.
_NAME: Final = re.compile(rf"[A-Za-z0-9._:-]{{{m.NAME_LEN[0]},{m.NAME_LEN[1]}}}\Z")
_ID: Final = re.compile(rf"[A-Za-z0-9._:-]{{{m.ID_LEN[0]},{m.ID_LEN[1]}}}\Z")
_STATUSES: Final = frozenset(m.FINDING_STATUSES)
_EVENT_FIELDS: Final = frozenset(m.IntegrationEvent.__struct_fields__) | set(MITRE_FIELDS)
_FINDING_FIELDS: Final = frozenset(m.IntegrationFinding.__struct_fields__) | set(MITRE_FIELDS)


def event(data: dict[str, Any]) -> m.IntegrationEvent | None:
    """`normalize_event(data)`, or None when unsure."""
    if not data.keys() <= _EVENT_FIELDS:
        return None
    get = data.get
    source_system = get("source_system")
    event_type = get("event_type")
    asset_ref = get("asset_ref")
    message = get("message")
    if not (
        type(source_system) is str
        and _NAME.match(source_system)
        and type(event_type) is str
        and _NAME.match(event_type)
        and type(asset_ref) is str
        and m.ASSET_REF_LEN[0] <= len(asset_ref) <= m.ASSET_REF_LEN[1]
        and type(message) is str
        and m.MESSAGE_LEN[0] <= len(message) <= m.MESSAGE_LEN[1]
    ):
        return None
    occurred_at = get("occurred_at")
    if occurred_at is None:
        return None
    event_id = get("event_id")
    if event_id is not None and not (type(event_id) is str and _ID.match(event_id)):
        return None
    fields: dict[str, Any] = {
        "source_system": source_system,
        "event_type": event_type,
        "occurred_at": to_rfc3339(occurred_at, "occurred_at"),
        "severity": _level(get("severity"), "info"),
        "asset_ref": asset_ref,
        "message": message,
        "metadata": _plain_metadata(data),
    }
    return m.IntegrationEvent(
        event_id=event_id or content_id("evt", encode_json_data(fields)), **fields
    )


def finding(data: dict[str, Any]) -> m.IntegrationFinding | None:
    """`normalize_finding(data)`, or None when unsure."""
    if not data.keys() <= _FINDING_FIELDS:
        return None
    get = data.get
    title = get("title")
    description = get("description")
    asset_ref = get("asset_ref")
    recommendation = get("recommendation")
    if not (
        type(title) is str
        and m.TITLE_LEN[0] <= len(title) <= m.TITLE_LEN[1]
        and type(description) is str
        and m.DESCRIPTION_LEN[0] <= len(description) <= m.DESCRIPTION_LEN[1]
        and (asset_ref is None or (type(asset_ref) is str and len(asset_ref) <= m.ASSET_REF_LEN[1]))
        and (
            recommendation is None
            or (type(recommendation) is str and len(recommendation) <= m.RECOMMENDATION_LEN[1])
        )
    ):
        return None
    severity = get("severity")
    first_seen = get("first_seen")
    if severity is None or first_seen is None:
        return None
    finding_id = get("finding_id")
    if finding_id is not None and not (type(finding_id) is str and _ID.match(finding_id)):
        return None
    # In the collecting reading's order, so that an input that makes some rule raise
    # something other than a serialization error raises the same thing here.
    level = _level(severity, None)
    status = get("status")
    if status is None:
        status = "open"
    elif not (type(status) is str and status in _STATUSES):
        status = _status(status)
    first = to_rfc3339(first_seen, "first_seen")
    last_seen = get("last_seen")
    last = None if last_seen is None else to_rfc3339(last_seen, "last_seen")
    if last is not None and parse_rfc3339(last) < parse_rfc3339(first):
        return None
    fields: dict[str, Any] = {
        "title": title,
        "description": description,
        "severity": level,
        "status": status,
        "first_seen": first,
        "last_seen": last,
        "asset_ref": asset_ref,
        "recommendation": recommendation,
        "metadata": _plain_metadata(data),
    }
    return m.IntegrationFinding(
        finding_id=finding_id or content_id("fnd", encode_json_data(fields)), **fields
    )


def _plain_metadata(data: dict[str, Any]) -> dict[str, Any]:
    # `_metadata(data)`, skipping its MITRE step when no MITRE key is anywhere (the common
    # case), since that step then changes nothing.
    raw = data.get("metadata")
    if raw is None:
        metadata: dict[str, Any] = {}
    elif type(raw) is dict:
        metadata = plain_copy(raw)
        if metadata is NOT_PLAIN:
            return _metadata(data)
    else:
        return _metadata(data)
    for key in MITRE_FIELDS:
        if key in metadata or data.get(key) is not None:
            return _fold_mitre(data, metadata)
    return metadata


def _level(value: Any, default: m.Severity | None) -> m.Severity:
    # A level or an alias (as written, or once stripped and lower-cased: the first step of
    # the full rule) is looked up here; anything else takes the full rule (CVSS scores,
    # and the refusals).
    if value is None and default is not None:
        return default
    if type(value) is str:
        level = SEVERITY_ALIASES.get(value) or SEVERITY_ALIASES.get(value.strip().lower())
        if level is not None:
            return level
    return _severity(value, "severity")
