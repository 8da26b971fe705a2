"""The telemetry gateway's body schema (VectorVue commit c175221), for LocalVectorVue.

Written from design/vectorvue-contract.md (profile telemetry-gateway and "Limits the client
mirrors exactly"), never from the client's models. What the server checks:

- the body and every object in it but `payload.attributes` are closed (unknown key: 422);
  lengths in code points on the raw values; tenant_id is 36 hex digits and dashes;
  execution_hash is exactly 64 characters (only its length is checked); payload ids match
  [A-Za-z0-9._:-]+ in full;
- `severity`: a raw string of 2-16 characters, trimmed and lower-cased one of the five;
- `mitre_techniques` (1-32) / `mitre_tactics` (0-32): strings, trimmed and upper-cased, then
  a full match of T\\d{4}(?:\\.\\d{3})? / TA\\d{4} (Python's Unicode \\d); stored normalized;
- `observed_at`: an ISO-8601 datetime or a unix number;
- `attributes.attestation_measurement_hash`: str() of it, trimmed, is 64 hex of either case;
  `attributes.schema_version`: str() of it, trimmed, non-empty and in the allowed list; one
  starting with "2." also needs `attributes.contract_v2`, an object of the seven sections;
- six SQL-looking patterns (case-insensitive, Unicode, searched anywhere, on the raw string)
  in `payload.description` when non-empty and in every string VALUE inside `attributes`.

What the gateway stores is rewritten (`stored_form`): the description trimmed and
HTML-escaped; every attribute key and string, at any depth, trimmed, HTML-escaped and then
cut (keys to 80, strings to 2048 characters; colliding keys overwrite each other).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.testing.receiver_json import is_datetime

_ID_PATTERN: Final = r"\A[A-Za-z0-9._:-]+\Z"
_Free = Annotated[str, Meta(min_length=1, max_length=128)]
_Tenant = Annotated[str, Meta(pattern=r"\A[0-9A-Fa-f-]{36}\Z")]
SEVERITIES: Final = frozenset({"info", "low", "medium", "high", "critical"})
_TECHNIQUE: Final = re.compile(r"T\d{4}(?:\.\d{3})?")
_TACTIC: Final = re.compile(r"TA\d{4}")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
SQL_PATTERNS: Final = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bunion\s+select\b",
        r"\bdrop\s+table\b",
        r"\bdelete\s+from\b",
        r"\binsert\s+into\b",
        r"\bupdate\s+\w+\s+set\b",
        r"\bor\s+1\s*=\s*1\b",
    )
)
CONTRACT_V2_SECTIONS: Final = frozenset(
    {"execution", "asset", "identity", "ttp", "detection", "response", "control"}
)
ATTRIBUTE_STRING_CUT: Final = 2048
ATTRIBUTE_KEY_CUT: Final = 80
REFUSED: Final = "Canonical telemetry schema validation failed"


class SignedMetadata(msgspec.Struct, forbid_unknown_fields=True):
    """What the producer signs about itself; must equal the top level."""

    tenant_id: _Tenant
    operator_id: _Free
    campaign_id: _Free


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    """The event itself; `attributes` is the only open object."""

    event_id: Annotated[str, Meta(min_length=1, max_length=128, pattern=_ID_PATTERN)]
    event_type: Annotated[str, Meta(min_length=1, max_length=64, pattern=_ID_PATTERN)]
    source_system: Annotated[str, Meta(min_length=1, max_length=64, pattern=_ID_PATTERN)]
    severity: Annotated[str, Meta(min_length=2, max_length=16)]
    observed_at: str | int | float
    mitre_techniques: Annotated[list[str], Meta(min_length=1, max_length=32)]
    attributes: dict[str, Any]
    mitre_tactics: Annotated[list[str], Meta(max_length=32)] = []
    description: Annotated[str, Meta(max_length=2048)] | None = None


class Telemetry(msgspec.Struct, forbid_unknown_fields=True):
    """POST /internal/v1/telemetry."""

    operator_id: _Free
    campaign_id: _Free
    tenant_id: _Tenant
    execution_hash: Annotated[str, Meta(min_length=64, max_length=64)]
    timestamp: int
    nonce: Annotated[str, Meta(min_length=8, max_length=128)]
    signed_metadata: SignedMetadata
    payload: Payload


class InvalidError(ValueError):
    """A body the gateway refuses with 422 (`REFUSED`); the message names field and rule."""


def check(document: Any, allowed_versions: Collection[str]) -> Telemetry:
    """The body as a Telemetry, or InvalidError. `allowed_versions` empty: the gateway runs
    with schema-version enforcement off."""
    try:
        body = msgspec.convert(document, Telemetry)
    except msgspec.ValidationError as exc:
        raise InvalidError(str(exc)) from None
    payload = body.payload
    if payload.severity.strip().lower() not in SEVERITIES:
        raise InvalidError(f"payload.severity {payload.severity!r} is not one of the five")
    for field, entries, pattern in (
        ("mitre_techniques", payload.mitre_techniques, _TECHNIQUE),
        ("mitre_tactics", payload.mitre_tactics, _TACTIC),
    ):
        for entry in entries:
            if not pattern.fullmatch(entry.strip().upper()):
                raise InvalidError(f"payload.{field}: {entry!r} does not match {pattern.pattern}")
    if not is_datetime(payload.observed_at):
        raise InvalidError(f"payload.observed_at {payload.observed_at!r} is not a datetime")
    _attributes(payload.attributes, allowed_versions)
    if payload.description and (found := sql_like(payload.description)):
        raise InvalidError(f"payload.description looks like SQL ({found!r})")
    for path, value in _string_values(payload.attributes, "payload.attributes"):
        if found := sql_like(value):
            raise InvalidError(f"{path} looks like SQL ({found!r})")
    return body


def sql_like(text: str) -> str | None:
    """The first SQL-looking fragment of `text`, or None."""
    for pattern in SQL_PATTERNS:
        if match := pattern.search(text):
            return match.group()
    return None


def stored_form(document: dict[str, Any]) -> dict[str, Any]:
    """The body as VectorVue holds it after a 202 (`document` has passed `check`)."""
    payload = dict(document["payload"])
    payload["severity"] = payload["severity"].strip().lower()
    payload["mitre_techniques"] = [t.strip().upper() for t in payload["mitre_techniques"]]
    payload["mitre_tactics"] = [t.strip().upper() for t in payload.get("mitre_tactics", [])]
    if isinstance(payload.get("description"), str):
        payload["description"] = html.escape(payload["description"].strip())
    payload["attributes"] = _rewritten(payload["attributes"])
    return {**document, "payload": payload}


def _attributes(attributes: dict[str, Any], allowed_versions: Collection[str]) -> None:
    if "attestation_measurement_hash" not in attributes:
        raise InvalidError("payload.attributes.attestation_measurement_hash is required")
    measurement = str(attributes["attestation_measurement_hash"]).strip()
    if not _HEX64.fullmatch(measurement):
        raise InvalidError("payload.attributes.attestation_measurement_hash must be 64 hex")
    if "schema_version" not in attributes:
        raise InvalidError("payload.attributes.schema_version is required")
    version = str(attributes["schema_version"]).strip()
    if not version:
        raise InvalidError("payload.attributes.schema_version must not be empty")
    if allowed_versions and version not in allowed_versions:
        allowed = ", ".join(allowed_versions)
        raise InvalidError(f"payload.attributes.schema_version {version!r} is not one of {allowed}")
    if version.startswith("2."):
        sections = attributes.get("contract_v2")
        if not isinstance(sections, dict) or sections.keys() != CONTRACT_V2_SECTIONS:
            raise InvalidError(
                "payload.attributes.contract_v2 must be an object of exactly "
                + ", ".join(sorted(CONTRACT_V2_SECTIONS))
                + " for a schema_version 2.x"
            )
        if not all(isinstance(section, dict) for section in sections.values()):
            raise InvalidError("payload.attributes.contract_v2: every section must be an object")


def _string_values(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string value inside `value` with its path, at any depth (not the keys)."""
    found: list[tuple[str, str]] = []
    stack = [(path, value)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            found.append((where, node))
        elif isinstance(node, dict):
            stack.extend((f"{where}.{key}", child) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}[{index}]", child) for index, child in enumerate(node))
    return found


def _rewritten(value: Any) -> Any:
    # Recursive: `check` has bounded the depth (receiver_json.CRASH_DEPTH) before this runs.
    if isinstance(value, str):
        return html.escape(value.strip())[:ATTRIBUTE_STRING_CUT]
    if isinstance(value, dict):
        return {
            html.escape(key.strip())[:ATTRIBUTE_KEY_CUT]: _rewritten(child)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_rewritten(child) for child in value]
    return value
