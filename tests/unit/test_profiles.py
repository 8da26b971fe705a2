"""Shaping a canonical event for each profile: every gateway rule checked locally, MITRE
defaults per tool, and nothing invented."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.models import GatewayRequest, IntegrationFinding
from vectorvue_client.domain.profiles import (
    TOOL_MITRE_DEFAULTS,
    GatewayContext,
    finding_to_canonical,
    to_gateway,
    to_integration_event,
)

TENANT = "10000000-0000-0000-0000-000000000001"
ATTESTATION = "cd" * 32
CONTEXT = GatewayContext(attestation_measurement_hash=ATTESTATION)


def canonical(**overrides: Any) -> CanonicalEvent:
    values: dict[str, Any] = {
        "event_id": "evt-1",
        "event_type": "nmap_host_scanned",
        "source_system": "spectrastrike",
        "occurred_at": "2026-11-25T09:14:03Z",
        "severity": "low",
        "message": "192.0.2.10 up: 22/tcp ssh",
        "asset_ref": "192.0.2.10",
        "tenant_id": TENANT,
        "campaign_id": "cmp-001",
        "operator_id": "op-001",
        "tool": "nmap",
        "attributes": {"open_ports": [22]},
        "document_sha256": "ab" * 32,
    }
    values.update(overrides)
    return CanonicalEvent(**values)


def problems(event: CanonicalEvent, context: GatewayContext = CONTEXT) -> dict[str, str]:
    with pytest.raises(VectorVueSerializationError) as caught:
        to_gateway(event, context)
    return {p.field: p.rule for p in caught.value.problems}


def sent(event: CanonicalEvent, context: GatewayContext = CONTEXT) -> GatewayRequest:
    """The request the gateway would decode from an attempt's body."""
    body = to_gateway(event, context).body.render(1, "nonce-123")
    return msgspec.json.decode(body, type=GatewayRequest)


def test_a_complete_event_becomes_a_valid_gateway_request() -> None:
    """The request decodes under the gateway's schema; tool defaults fill MITRE ids; the
    execution hash is the document's; the attestation comes from the context."""
    request = sent(canonical())
    assert request.payload.mitre_techniques == ["T1595"]
    assert request.payload.mitre_tactics == ["TA0043"]
    assert request.execution_hash == "ab" * 32
    assert request.payload.attributes["attestation_measurement_hash"] == ATTESTATION
    assert request.payload.attributes["schema_version"] == "1.0"
    assert request.payload.attributes["asset_ref"] == "192.0.2.10"
    assert request.payload.description == "192.0.2.10 up: 22/tcp ssh"


def test_the_events_own_mitre_ids_override_the_tool_defaults() -> None:
    """Own techniques win, with their own tactics (none is fine)."""
    parts = to_gateway(canonical(mitre_techniques=("T1210",)), CONTEXT)
    assert parts.payload.mitre_techniques == ["T1210"]
    assert parts.payload.mitre_tactics == []


def test_an_event_with_no_mitre_ids_and_no_known_tool_is_refused() -> None:
    """A technique is never guessed."""
    found = problems(canonical(tool=None))
    assert "never guessed" in found["payload.mitre_techniques"]


def test_missing_context_is_named_and_configured_context_fills_it() -> None:
    """No tenant, campaign or operator on the event and none configured: three problems at
    once; configured values fill the gaps; a non-UUID tenant is refused."""
    bare = canonical(tenant_id=None, campaign_id=None, operator_id=None)
    assert {"tenant_id", "campaign_id", "operator_id"} <= set(problems(bare))
    filled = GatewayContext("op-9", "cmp-9", TENANT, ATTESTATION)
    request = sent(bare, filled)
    assert (request.operator_id, request.campaign_id) == ("op-9", "cmp-9")
    assert (request.tenant_id, request.signed_metadata.campaign_id) == (TENANT, "cmp-9")
    assert "UUID" in problems(canonical(tenant_id="unknown-tenant"))["tenant_id"]


def test_no_attestation_anywhere_is_refused() -> None:
    """The gateway requires attestation_measurement_hash; it is never made up."""
    found = problems(canonical(), GatewayContext())
    assert "attestation_measurement_hash" in next(iter(found))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"description": "The id parameter accepts ' or 1=1 -- and returns every row."},
            "payload.description",
        ),
        ({"attributes": {"query": "x; DROP TABLE users"}}, "payload.attributes.query"),
        (
            {"attributes": {"nested": [{"q": "UNION SELECT password"}]}},
            "payload.attributes.nested[0].q",
        ),
    ],
)
def test_sql_looking_strings_are_refused_locally(overrides: dict[str, Any], field: str) -> None:
    """What the gateway would refuse with 422 is caught here, naming the path."""
    found = problems(canonical(**overrides))
    assert field in found
    assert "SQL" in found[field]


def test_a_description_over_the_gateway_limit_is_refused() -> None:
    """2048 characters at most, reported with the length."""
    assert "2049" in problems(canonical(description="x" * 2049))["payload.description"]


def test_the_integration_event_carries_context_and_ids_in_metadata() -> None:
    """asset_ref, message and the context travel as the integration API expects."""
    event = to_integration_event(canonical())
    assert event.asset_ref == "192.0.2.10"
    assert event.metadata["tenant_id"] == TENANT
    assert event.metadata["mitre_techniques"] == list(TOOL_MITRE_DEFAULTS["nmap"][0])
    with pytest.raises(VectorVueSerializationError) as caught:
        to_integration_event(canonical(asset_ref=None))
    assert caught.value.field == "asset_ref"


def test_a_finding_becomes_a_gateway_event_with_its_own_ids() -> None:
    """Title as message, description as description, MITRE ids from metadata."""
    finding = IntegrationFinding(
        finding_id="fnd-1",
        title="vsftpd backdoor",
        description="root shell",
        severity="critical",
        status="open",
        first_seen="2026-11-25T09:20:47Z",
        asset_ref="192.0.2.11",
        metadata={"mitre_techniques": ["T1190"], "tenant_id": TENANT},
    )
    event = finding_to_canonical(finding, "spectrastrike")
    assert (event.event_id, event.message, event.description) == (
        "fnd-1",
        "vsftpd backdoor",
        "root shell",
    )
    assert event.mitre_techniques == ("T1190",)
    assert event.tenant_id == TENANT
    assert (
        event.document_sha256
        != finding_to_canonical(
            msgspec.structs.replace(finding, title="other"), "spectrastrike"
        ).document_sha256
    )
    assert len(encode(event)) > 0
