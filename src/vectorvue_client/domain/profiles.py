"""Shaping a CanonicalEvent for each VectorVue profile, with every rule checked locally.

- integration API: an IntegrationEvent (normalize_event checks every field rule).
- telemetry gateway: GatewayParts (the body encoded once, the attempt's timestamp and
  nonce spliced in later), after every rule of the gateway's contract: the Structs'
  constraints (msgspec.convert) and the rules no constraint can say (gateway_rules).

MITRE ids: the event's own when it has any; else the defaults of its tool (the table below);
else, for the gateway (which requires at least one technique), an error: a technique is
never guessed. Context (tenant, campaign, operator, attestation) comes from the event or,
failing that, from configuration; it is never invented. attributes.schema_version likewise:
the event's own (its producer knows which contract it wrote, e.g. a 2.x with contract_v2),
else the configured one; the gateway's allowed list is its own configuration, so only what
it refuses whatever that list holds (an empty version, a 2.x without contract_v2) is
refused here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, get_args

import msgspec

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode, may_hold_nul, nul_problems
from vectorvue_client.domain.errors import Problem, VectorVueSerializationError
from vectorvue_client.domain.gateway import GatewayBody, GatewayParts
from vectorvue_client.domain.gateway_rules import (
    attribute_problems,
    size_problem,
    sql_problems,
)
from vectorvue_client.domain.normalize import normalize_event

# Technique and tactic a tool's events stand for when they name none themselves:
# nmap scans are Active Scanning (T1595) in Reconnaissance (TA0043); metasploit runs are
# Command and Scripting Interpreter (T1059) in Execution (TA0002).
TOOL_MITRE_DEFAULTS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "nmap": (("T1595",), ("TA0043",)),
    "metasploit": (("T1059",), ("TA0002",)),
}
FINDING_EVENT_TYPE: Final = "spectrastrike.finding"


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """Configured defaults for what an event may not carry itself; `schema_version` is
    sent as attributes.schema_version when the event has none."""

    operator_id: str | None = None
    campaign_id: str | None = None
    tenant_id: str | None = None
    attestation_measurement_hash: str | None = None
    schema_version: str = m.GATEWAY_SCHEMA_VERSION


def mitre_ids(event: CanonicalEvent) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(techniques, tactics): the event's own, else its tool's defaults, else empty."""
    if event.mitre_techniques or event.mitre_tactics:
        return event.mitre_techniques, event.mitre_tactics
    return TOOL_MITRE_DEFAULTS.get(event.tool or "", ((), ()))


def to_integration_event(event: CanonicalEvent) -> m.IntegrationEvent:
    """The integration API's event: context and MITRE ids travel in metadata. The readers
    gave every field of `event` its normalized form, so msgspec checks the annotations of
    IntegrationEvent (in C) without normalize_event's Python steps again, which would
    change nothing; normalize_event names what the conversion refuses."""
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
    fields = {
        "event_id": event.event_id,
        "source_system": event.source_system,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "severity": event.severity,
        "asset_ref": event.asset_ref,
        "message": event.message,
        "metadata": metadata,
    }
    try:
        return msgspec.convert(fields, m.IntegrationEvent)
    except msgspec.ValidationError:
        return normalize_event(fields)


def to_gateway(event: CanonicalEvent, context: GatewayContext) -> GatewayParts:
    """The gateway request of `event`, encoded once (each attempt splices in its timestamp
    and nonce). The Structs' constraints are checked by msgspec.convert; the gateway's other
    rules by gateway_rules. Every problem is reported at once, each naming the field (as the
    gateway body names it) and the rule; they are collected only when something is wrong."""
    operator = event.operator_id or context.operator_id
    campaign = event.campaign_id or context.campaign_id
    tenant = event.tenant_id or context.tenant_id
    techniques, tactics = mitre_ids(event)
    description = event.description if event.description is not None else event.message
    attributes: dict[str, Any] = dict(event.attributes)
    if event.asset_ref is not None:
        attributes.setdefault("asset_ref", event.asset_ref)
    if not attributes.get("attestation_measurement_hash"):
        attributes["attestation_measurement_hash"] = context.attestation_measurement_hash
    if attributes.get("schema_version") is None:  # the event's own version wins
        attributes["schema_version"] = context.schema_version
    fields: dict[str, Any] = {
        "operator_id": operator,
        "campaign_id": campaign,
        "tenant_id": tenant,
        "execution_hash": event.execution_hash or event.document_sha256,
        "timestamp": 0,  # each attempt's own timestamp and nonce are spliced in later
        "nonce": "unsigned",
        "signed_metadata": {"tenant_id": tenant, "operator_id": operator, "campaign_id": campaign},
        "payload": {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "source_system": event.source_system,
            "severity": _folded(event.severity, str.lower),
            "observed_at": event.occurred_at,
            "mitre_techniques": [_folded(i, str.upper) for i in techniques],
            "mitre_tactics": [_folded(i, str.upper) for i in tactics],
            "description": description,
            "attributes": attributes,
        },
    }
    problems = [*sql_problems(description, attributes), *attribute_problems(attributes)]
    try:
        request = msgspec.convert(fields, m.GatewayRequest)
    except msgspec.ValidationError as exc:
        found = _field_problems(event, fields) or [Problem("(event)", str(exc))]
        raise VectorVueSerializationError([*found, *problems, *_nuls(fields)]) from None
    body = GatewayBody.of(request)
    if may_hold_nul(body.head) or may_hold_nul(body.tail):
        problems.extend(_nuls(fields))
    if body.largest_size > m.MAX_BODY_BYTES:
        problems.append(size_problem(body.largest_size, fields["payload"]))
    if problems:
        raise VectorVueSerializationError(problems)
    return GatewayParts(request.operator_id, request.payload, body)


def _nuls(fields: dict[str, Any]) -> list[Problem]:
    # The gateway accepts a NUL, then cannot store it: the event would be silently lost.
    # signed_metadata repeats the top-level fields, whose problems name them.
    return nul_problems({k: v for k, v in fields.items() if k != "signed_metadata"})


def _folded(value: Any, case: Callable[[str], str]) -> Any:
    """A severity or MITRE id as the gateway reads it: trimmed, then lower- or upper-cased
    (" HIGH " is high, t1595 is T1595); anything but a string is left to be refused."""
    return case(value.strip()) if isinstance(value, str) else value


def _field_problems(event: CanonicalEvent, fields: dict[str, Any]) -> list[Problem]:
    """Every field of `fields` its Struct refuses (the error path of to_gateway)."""
    problems = [
        Problem(name, f"is required: {why}")
        for name, why in (
            ("operator_id", "the event has no actor and no operator_id is configured"),
            ("campaign_id", "the event has no campaign_id and none is configured"),
            ("tenant_id", "the event has no tenant_id and none is configured"),
        )
        if not fields[name]
    ]
    if not fields["payload"]["mitre_techniques"]:
        problems.append(
            Problem(
                "payload.mitre_techniques",
                f"the event names no MITRE technique and its tool ({event.tool or 'unknown'}) "
                "has no default; the gateway requires one and it is never guessed",
            )
        )
    named = {p.field for p in problems}
    found = _struct_problems(fields, m.GatewayRequest, "")
    return problems + [p for p in found if p.field not in named]


def _struct_problems(values: Any, struct: type, prefix: str) -> list[Problem]:
    problems = []
    for info in msgspec.structs.fields(struct):
        value = values.get(info.name)
        if info.name == "signed_metadata":  # a copy of the top level: same problems
            continue
        if isinstance(info.type, type) and issubclass(info.type, msgspec.Struct):
            problems += _struct_problems(value, info.type, f"{prefix}{info.name}.")
            continue
        problem = _convert_problem(value, info.type, f"{prefix}{info.name}")
        if problem is not None and isinstance(value, list) and problem.field.endswith("]"):
            # Each bad id, not just the first: one-item lists fit both lists' lengths.
            found = (_convert_problem([item], info.type, "") for item in value)
            problems += [
                Problem(f"{prefix}{info.name}[{i}]", p.rule)
                for i, p in enumerate(found)
                if p is not None
            ]
        elif problem is not None:
            problems.append(problem)
    return problems


def _convert_problem(value: Any, kind: Any, field: str) -> Problem | None:
    """What msgspec refuses in `value` as a `kind`, named and worded for the user."""
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        rule, _, where = str(exc).partition(" - at `$")
        for pattern, shape in _SHAPES.items():
            if f"matching regex {pattern!r}" in rule:
                rule = f"must be {shape}"
        if rule.startswith("Invalid enum value"):  # severity, the only Literal
            rule = f"must be one of {', '.join(get_args(m.Severity))} ({rule[19:]})"
        if not where and isinstance(value, (str, list)) and "length" in rule:
            rule += f" (got {len(value)})"
        return Problem(field + where.rstrip("`"), rule)
    return None


# What each pattern of the Structs means, for error messages.
_SHAPES: Final = {
    m.ID_PATTERN: "letters, digits and . _ : - only",
    m.UUID_PATTERN: "a UUID (36 characters, hex and dashes)",
    m.HEX64_PATTERN: "64 hexadecimal characters",
    m.MITRE_TECHNIQUE_PATTERN: "a MITRE technique id, T#### or T####.###",
    m.MITRE_TACTIC_PATTERN: "a MITRE tactic id, TA####",
}


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
