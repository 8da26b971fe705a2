"""Shaping a CanonicalEvent for each VectorVue profile, with every rule checked locally.

- integration API: an IntegrationEvent (normalize_event checks every field rule).
- telemetry gateway: GatewayParts (the body but the attempt's timestamp and nonce), after
  every rule of the gateway's contract, including its refusal of SQL-looking strings.

MITRE ids: the event's own when it has any; else the defaults of its tool (the table below);
else, for the gateway (which requires at least one technique), an error: a technique is
never guessed. Context (tenant, campaign, operator, attestation) comes from the event or,
failing that, from configuration; it is never invented.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import Problem, VectorVueSerializationError
from vectorvue_client.domain.gateway import GatewayParts
from vectorvue_client.domain.gateway_rules import sql_like_strings
from vectorvue_client.domain.normalize import normalize_event
from vectorvue_client.domain.redaction import excerpt

# Technique and tactic a tool's events stand for when they name none themselves:
# nmap scans are Active Scanning (T1595) in Reconnaissance (TA0043); metasploit runs are
# Command and Scripting Interpreter (T1059) in Execution (TA0002).
TOOL_MITRE_DEFAULTS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "nmap": (("T1595",), ("TA0043",)),
    "metasploit": (("T1059",), ("TA0002",)),
}
FINDING_EVENT_TYPE: Final = "spectrastrike.finding"
_UUID: Final = re.compile(m.UUID_PATTERN)
_HEX64: Final = re.compile(m.HEX64_PATTERN)


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """Configured defaults for what an event may not carry itself."""

    operator_id: str | None = None
    campaign_id: str | None = None
    tenant_id: str | None = None
    attestation_measurement_hash: str | None = None


def mitre_ids(event: CanonicalEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(techniques, tactics): the event's own, else its tool's defaults, else empty."""
    if event.mitre_techniques or event.mitre_tactics:
        return event.mitre_techniques, event.mitre_tactics
    return TOOL_MITRE_DEFAULTS.get(event.tool or "", ((), ()))


def to_integration_event(event: CanonicalEvent) -> m.IntegrationEvent:
    """The integration API's event: context and MITRE ids travel in metadata."""
    if event.asset_ref is None:
        raise VectorVueSerializationError.single(
            "asset_ref",
            "the event names no asset (its target is the orchestrator and no host "
            "was found in it); the integration API requires one",
        )
    techniques, tactics = mitre_ids(event)
    metadata: dict[str, Any] = dict(event.attributes)
    for key, value in (
        ("tenant_id", event.tenant_id),
        ("campaign_id", event.campaign_id),
        ("operator_id", event.operator_id),
        ("tool", event.tool),
        ("execution_hash", event.execution_hash),
    ):
        if value is not None:
            metadata[key] = value
    if techniques:
        metadata["mitre_techniques"] = list(techniques)
    if tactics:
        metadata["mitre_tactics"] = list(tactics)
    if event.description is not None:
        metadata["description"] = event.description
    return normalize_event(
        {
            "event_id": event.event_id,
            "source_system": event.source_system,
            "event_type": event.event_type,
            "occurred_at": event.occurred_at,
            "severity": event.severity,
            "asset_ref": event.asset_ref,
            "message": event.message,
            "metadata": metadata,
        }
    )


def to_gateway(event: CanonicalEvent, context: GatewayContext) -> GatewayParts:
    """The gateway request of `event` but its timestamp and nonce; every problem is
    reported at once, each naming the field (as the gateway body names it) and the rule."""
    problems: list[Problem] = []

    def need(field: str, value: str | None, what: str) -> str:
        if value is None or not value:
            problems.append(Problem(field, f"is required: {what}"))
            return ""
        return value

    operator = need(
        "operator_id",
        event.operator_id or context.operator_id,
        "the event has no actor and no operator_id is configured",
    )
    campaign = need(
        "campaign_id",
        event.campaign_id or context.campaign_id,
        "the event has no campaign_id and none is configured",
    )
    tenant = need(
        "tenant_id",
        event.tenant_id or context.tenant_id,
        "the event has no tenant_id and none is configured",
    )
    for field, value in (("operator_id", operator), ("campaign_id", campaign)):
        if len(value) > m.GATEWAY_PARTY_LEN[1]:
            problems.append(Problem(field, f"must be at most {m.GATEWAY_PARTY_LEN[1]} characters"))
    if tenant and not _UUID.match(tenant):
        problems.append(Problem("tenant_id", "must be a UUID (36 characters, hex and dashes)"))
    execution_hash = event.execution_hash or event.document_sha256
    if not _HEX64.match(execution_hash):
        problems.append(Problem("execution_hash", "must be 64 hexadecimal characters"))

    techniques, tactics = mitre_ids(event)
    if not techniques:
        problems.append(
            Problem(
                "payload.mitre_techniques",
                f"the event names no MITRE technique and its tool ({event.tool or 'unknown'}) has "
                "no default; the gateway requires one and it is never guessed",
            )
        )
    if len(techniques) > m.MITRE_TECHNIQUES_COUNT[1]:
        problems.append(Problem("payload.mitre_techniques", "at most 32 ids"))
    if len(tactics) > m.MITRE_TACTICS_COUNT[1]:
        problems.append(Problem("payload.mitre_tactics", "at most 32 ids"))

    description = event.description if event.description is not None else event.message
    if len(description) > m.GATEWAY_DESCRIPTION_LEN[1]:
        problems.append(
            Problem(
                "payload.description",
                f"must be at most {m.GATEWAY_DESCRIPTION_LEN[1]} characters "
                f"(got {len(description)})",
            )
        )

    attributes: dict[str, Any] = dict(event.attributes)
    if event.asset_ref is not None:
        attributes.setdefault("asset_ref", event.asset_ref)
    attestation = (
        attributes.get("attestation_measurement_hash") or context.attestation_measurement_hash
    )
    if not isinstance(attestation, str) or not _HEX64.match(attestation):
        problems.append(
            Problem(
                "payload.attributes.attestation_measurement_hash",
                "is required, 64 hexadecimal characters: from the event, or configured",
            )
        )
    else:
        attributes["attestation_measurement_hash"] = attestation
    attributes["schema_version"] = m.GATEWAY_SCHEMA_VERSION

    for path, fragment in sql_like_strings(
        {"description": description, "attributes": attributes}, "payload"
    ):
        problems.append(
            Problem(
                path,
                f"looks like a SQL statement ({excerpt(fragment, 40)!r}), which the gateway "
                "refuses (422); reword it or send this event through the integration API",
            )
        )
    if problems:
        raise VectorVueSerializationError(problems)
    payload = m.GatewayPayload(
        event_id=event.event_id,
        event_type=event.event_type,
        source_system=event.source_system,
        severity=event.severity,
        observed_at=event.occurred_at,
        mitre_techniques=list(techniques),
        mitre_tactics=list(tactics),
        description=description,
        attributes=attributes,
    )
    return GatewayParts(operator, campaign, tenant, execution_hash, payload)


def finding_to_canonical(finding: m.IntegrationFinding, source_system: str) -> CanonicalEvent:
    """A finding as a gateway event (the gateway has no findings endpoint): the title is
    the message, the description the description, and everything else an attribute."""
    metadata = dict(finding.metadata)
    techniques = tuple(metadata.pop("mitre_techniques", ()))
    tactics = tuple(metadata.pop("mitre_tactics", ()))
    attributes: dict[str, Any] = {
        **metadata,
        "finding_id": finding.finding_id,
        "title": finding.title,
        "status": finding.status,
    }
    for key in ("last_seen", "recommendation"):
        value = getattr(finding, key)
        if value is not None:
            attributes[key] = value
    return CanonicalEvent(
        event_id=finding.finding_id,
        event_type=FINDING_EVENT_TYPE,
        source_system=source_system,
        occurred_at=finding.first_seen,
        severity=finding.severity,
        message=finding.title,
        description=finding.description,
        asset_ref=finding.asset_ref,
        tenant_id=_text(metadata.get("tenant_id")),
        campaign_id=_text(metadata.get("campaign_id")),
        operator_id=_text(metadata.get("operator_id")),
        mitre_techniques=techniques,
        mitre_tactics=tactics,
        attributes=attributes,
        document_sha256=_sha256(encode(finding)),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
