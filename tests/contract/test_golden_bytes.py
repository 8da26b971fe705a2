"""The exact bytes each profile sends for each bundled SpectraStrike sample.

Golden files in tests/contract/golden/<sample>.<profile>.txt hold one line per item: the
request body byte for byte (gateway bodies with a fixed timestamp and nonce), or
"REFUSED <field>: <rule>" where the profile refuses the item locally. A change to any of
these bytes changes what VectorVue receives, so it must be deliberate: the golden file is
edited by hand, from the contract (design/vectorvue-contract.md), never regenerated from
the client's output (see golden/README.md for where today's lines came from).

The second test checks every pinned body against VectorVue's schema as LocalVectorVue
states it (testing/receiver_*_schema.py, written from the contract, importing nothing of
the client): a golden line VectorVue would refuse fails here whatever the client says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.models import IntegrationFinding
from vectorvue_client.domain.profiles import (
    GatewayContext,
    finding_to_canonical,
    to_gateway,
    to_integration_event,
)
from vectorvue_client.domain.spectrastrike import parse_output
from vectorvue_client.samples import sample_path
from vectorvue_client.testing import receiver_api_schema as api_schema
from vectorvue_client.testing import receiver_gateway_schema as gateway_schema
from vectorvue_client.testing.receiver_json import CRASH_DEPTH, depth, has_nul
from vectorvue_client.testing.receiver_reply import MAX_BODY_BYTES

GOLDEN = Path(__file__).parent / "golden"
TIMESTAMP = 1_795_564_800
NONCE = "golden-nonce-000001"
# The configured defaults a deployment would have: used only where an item lacks its own.
CONTEXT = GatewayContext(
    operator_id="op-config",
    campaign_id="cmp-config",
    tenant_id="20000000-0000-0000-0000-000000000002",
    attestation_measurement_hash="5e" * 32,
)
SAMPLES = [
    "broker-envelope.jsonl",
    "cloudevent.json",
    "internal-event.json",
    "nmap-result.json",
    "metasploit-result.json",
    "findings.jsonl",
    "integration-event.json",
]


def documents(name: str) -> list[dict[str, Any]]:
    """The sample's documents. The VectorVue event shape has no bundled sample; this one
    is written for the test, with its own event_id so that every byte of its golden lines
    can be written by hand (README.md)."""
    if name == "integration-event.json":
        return [
            {
                "event_id": "evt-port-scan-192.0.2.10-22",
                "source_system": "spectrastrike",
                "event_type": "PORT_SCAN",
                "occurred_at": "2026-11-25T12:00:00+01:00",
                "severity": "Moderate",
                "asset_ref": "192.0.2.10",
                "message": "22/tcp open",
                "metadata": {"port": 22, "mitre_techniques": ["T1046"]},
            }
        ]
    text = sample_path(name).read_text()
    if name.endswith(".json"):
        docs = [json.loads(text)]
    else:
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    return docs


def refusal(exc: VectorVueSerializationError) -> str:
    return "REFUSED " + "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)


def integration_line(item: CanonicalEvent | IntegrationFinding) -> str:
    try:
        payload = item if isinstance(item, IntegrationFinding) else to_integration_event(item)
    except VectorVueSerializationError as exc:
        return refusal(exc)
    return encode(payload).decode()


def gateway_line(item: CanonicalEvent | IntegrationFinding) -> str:
    event = (
        finding_to_canonical(item, "spectrastrike")
        if isinstance(item, IntegrationFinding)
        else item
    )
    try:
        parts = to_gateway(event, CONTEXT)
    except VectorVueSerializationError as exc:
        return refusal(exc)
    return parts.body.render(TIMESTAMP, NONCE).decode()


@pytest.mark.parametrize("profile", ["integration-api", "telemetry-gateway"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_the_bytes_sent_for_each_sample_are_pinned(sample: str, profile: str) -> None:
    """Every item of every sample, in each profile, encodes to its golden bytes."""
    line = integration_line if profile == "integration-api" else gateway_line
    produced = "".join(line(item) + "\n" for doc in documents(sample) for item in parse_output(doc))
    golden = GOLDEN / f"{sample.rsplit('.', 1)[0]}.{profile}.txt"
    assert produced == golden.read_text()


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.txt")), ids=lambda path: path.name)
def test_every_pinned_body_is_one_vectorvue_accepts(golden: Path) -> None:
    """Independent of the client's code: each body line passes the server's own schema,
    has no NUL and is nested far from the depth that crashes the server; a gateway body
    carries the attempt's timestamp and nonce and signs its own metadata."""
    bodies = [line for line in golden.read_text().splitlines() if not line.startswith("REFUSED ")]
    for line in bodies:
        raw = line.encode()
        document = json.loads(line)
        assert not has_nul(document) and depth(document) <= CRASH_DEPTH // 2, line
        if golden.name.endswith(".telemetry-gateway.txt"):
            body = gateway_schema.check(document, ["1.0"])
            assert (body.timestamp, body.nonce) == (TIMESTAMP, NONCE)
            top = (body.tenant_id, body.operator_id, body.campaign_id)
            signed = body.signed_metadata
            assert (signed.tenant_id, signed.operator_id, signed.campaign_id) == top
        elif "finding_id" in document:
            assert api_schema.check_finding(document) == document, line  # stored as sent
        else:
            assert api_schema.check_event(document) == document, line
        assert len(raw) <= MAX_BODY_BYTES
