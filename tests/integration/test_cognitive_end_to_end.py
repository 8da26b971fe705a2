"""The cognitive loop end to end: push_execution_graph and query_feedback through the public
API and the default wiring, against LocalVectorVue (real mutual TLS on 127.0.0.1, its own
schema and its own Ed25519 feedback signatures, written from the contract). The keyring is
written from `vv.feedback_public_keys`; a FakeClock drives both sides. The expected values
are the contract's (an adjustment is "tighten", 0.82 for a graph of 8 nodes or more, else
"observe", 0.55; hashes lower-cased), written here, not read back from either side."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import VectorVueAPIError, VectorVueSerializationError
from vectorvue_client.domain.feedback import FeedbackCheck, FeedbackVerificationError
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .local_gateway import (
    MEASUREMENT,
    OPERATOR,
    TENANT,
    Gateway,
    start_gateway,
    write_keyring,
)

GRAPH_PATH = "/internal/v1/cognitive/execution-graph"
QUERY_PATH = "/internal/v1/cognitive/feedback/adjustments/query"
FINGERPRINT = "CD" * 32
NON_ASCII_URN = "urn:target:h\u00f4te-\U0001f600"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, clock: FakeClock
) -> Gateway:
    return start_gateway(local_vectorvue_factory, tmp_path, clock)


def graph(target_urn: Any = "urn:target:web-01", nodes: int = 8) -> dict[str, Any]:
    return {
        "execution_fingerprint": FINGERPRINT,
        "graph": {"target_urn": target_urn, "nodes": list(range(nodes))},
    }


def test_push_then_query_returns_the_verified_adjustments(
    gateway: Gateway, clock: FakeClock
) -> None:
    with gateway.client() as client:
        pushed = client.push_execution_graph(graph())
        assert pushed.success and pushed.status_code == 202
        assert pushed.data == {"graph_synced": True}
        client.push_execution_graph(graph("urn:target:db-02", nodes=1))
        feedback = client.query_feedback(TENANT, limit=10)
    stored = gateway.vv.stored_graphs(TENANT)
    assert [(g["operator_id"], g["graph"]["target_urn"]) for g in stored] == [
        (OPERATOR, "urn:target:web-01"),
        (OPERATOR, "urn:target:db-02"),
    ]
    assert feedback.kid == "default"
    assert feedback.signed_at == int(clock.time())
    assert feedback.dropped == ()
    assert [(a.target_urn, a.action, a.confidence) for a in feedback.adjustments] == [
        ("urn:target:web-01", "tighten", 0.82),
        ("urn:target:db-02", "observe", 0.55),
    ]
    first = feedback.adjustments[0]
    assert first.tenant_id == TENANT
    assert first.execution_fingerprint == FINGERPRINT.lower()
    assert first.attestation_measurement_hash == MEASUREMENT.lower()
    assert [r.path for r in gateway.vv.requests] == [GRAPH_PATH, GRAPH_PATH, QUERY_PATH]


def test_a_non_ascii_target_urn_verifies(gateway: Gateway) -> None:
    # The receiver sends it raw (UTF-8) and signs the \\u-escaped canonical form: the
    # client must check the signature over the latter, not over the bytes it received.
    with gateway.client() as client:
        client.push_execution_graph(graph(NON_ASCII_URN))
        feedback = client.query_feedback(TENANT)
    assert [a.target_urn for a in feedback.adjustments] == [NON_ASCII_URN]
    assert gateway.vv.stored_graphs(TENANT)[0]["graph"]["target_urn"] == NON_ASCII_URN


@pytest.mark.parametrize(
    ("target_urn", "field"),
    [("", "graph.target_urn"), ("u" * 513, "graph.target_urn")],
    ids=["empty", "513-characters"],
)
def test_a_poison_graph_is_refused_locally_and_never_reaches_the_receiver(
    gateway: Gateway, target_urn: str, field: str
) -> None:
    # Stored, such a graph would make every later query of the tenant a 500.
    with gateway.client() as client, pytest.raises(VectorVueSerializationError) as caught:
        client.push_execution_graph(graph(target_urn))
    assert caught.value.field == field
    assert gateway.vv.requests == []
    assert gateway.vv.stored_graphs(TENANT) == []


def test_an_operator_not_mapped_to_the_tenant_is_a_named_403(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, clock: FakeClock
) -> None:
    gateway = start_gateway(local_vectorvue_factory, tmp_path, clock, operators={"op-2": [TENANT]})
    with gateway.client() as client:
        with pytest.raises(VectorVueAPIError) as pushed:
            client.push_execution_graph(graph())
        with pytest.raises(VectorVueAPIError) as queried:
            client.query_feedback(TENANT)
    for caught in (pushed, queried):
        assert caught.value.status_code == 403
        assert f"does not map operator '{OPERATOR}' to tenant" in str(caught.value)
    assert gateway.vv.stored_graphs(TENANT) == []


@pytest.mark.parametrize("active", ["2026-05", "2026-11"])
def test_a_rotated_keyring_verifies_either_kid(
    local_vectorvue_factory: LocalVectorVueFactory,
    tmp_path: Path,
    clock: FakeClock,
    active: str,
) -> None:
    keys = {"2026-05": Ed25519PrivateKey.generate(), "2026-11": Ed25519PrivateKey.generate()}
    gateway = start_gateway(
        local_vectorvue_factory, tmp_path, clock, feedback_keys=keys, feedback_kid=active
    )
    with gateway.client() as client:
        client.push_execution_graph(graph())
        feedback = client.query_feedback(TENANT)
    assert feedback.kid == active
    assert [a.action for a in feedback.adjustments] == ["tighten"]
    # A keyring without the active kid: refused, naming the check.
    inactive = {kid: k.public_key() for kid, k in keys.items() if kid != active}
    keyring = write_keyring(tmp_path / "stale-keyring.json", inactive)
    with (
        gateway.client(feedback_keyring_file=keyring) as client,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.KID


def test_a_key_under_the_right_kid_but_not_the_receivers_fails_the_signature(
    gateway: Gateway, tmp_path: Path
) -> None:
    wrong = {"default": Ed25519PrivateKey.generate().public_key()}
    keyring = write_keyring(tmp_path / "wrong-keyring.json", wrong)
    with (
        gateway.client(feedback_keyring_file=keyring) as client,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.SIGNATURE


def test_verify_federation_bundle_is_accepted_with_the_receivers_bundle_hash(
    gateway: Gateway,
) -> None:
    bundle = {
        "operator_id": "op-\u00fc-1",
        "campaign_id": "camp-7",
        "execution_hash": "AB" * 32,
        "timestamp": 1771754400,
        "nonce": "nonce-000000001",
    }
    signed = "op-\u00fc-1|camp-7|" + "AB" * 32 + "|1771754400|nonce-000000001"
    with gateway.client() as client:
        envelope = client.verify_federation_bundle(bundle)
    assert envelope.success and envelope.status_code == 200
    assert envelope.data == {
        "accepted": True,
        "bundle_hash": hashlib.sha256(signed.encode()).hexdigest(),
    }
    (request,) = gateway.vv.requests
    assert request.path == "/internal/v1/federation/verify"
    # Identity headers only: no request signature on this route.
    assert not any(name.startswith("x-telemetry-") for name in request.headers)
