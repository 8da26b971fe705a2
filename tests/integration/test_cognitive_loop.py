"""push_execution_graph and query_feedback through the public API and the default wiring,
against CognitiveGateway (real HTTPS on 127.0.0.1, client certificate required, its own
schema and signatures written from the contract). The clock is a FakeClock shared with the
gateway: signatures, windows and pacing are exact, and nothing waits on the wall clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.feedback import FeedbackCheck, FeedbackVerificationError
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.testing import FakeClock

from .cognitive_gateway import GRAPH, QUERY, TELEMETRY, CognitiveGateway, Reply, Seen

TENANT = "a0000000-0000-4000-8000-00000000000b"
OTHER_TENANT = "b0000000-0000-4000-8000-00000000000c"
HASH = "AB" * 32


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(clock: FakeClock) -> Iterator[CognitiveGateway]:
    with CognitiveGateway(operators={"op-1": TENANT}, now=clock.time) as gw:
        yield gw


def client_for(gateway: CognitiveGateway, clock: FakeClock, **settings: Any) -> VectorVueClient:
    config = VectorVueConfig(
        **gateway.settings(
            **{
                "operator_id": "op-1",
                "tenant_id": TENANT,
                "attestation_measurement_hash": HASH,
                "max_retries": 3,
                **settings,
            }
        )
    )
    container = Container(config=config)
    container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


@pytest.fixture
def client(gateway: CognitiveGateway, clock: FakeClock) -> Iterator[VectorVueClient]:
    with client_for(gateway, clock) as c:
        yield c


def graph(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "execution_fingerprint": "CD" * 32,
        "graph": {"target_urn": "urn:target:h\u00f4te-\U0001f600", "nodes": list(range(8))},
    }
    document.update(changes)
    return document


def test_push_then_verified_feedback(client: VectorVueClient, gateway: CognitiveGateway) -> None:
    sent = client.push_execution_graph(graph())
    assert sent.success and sent.data == {"graph_synced": True}
    client.push_execution_graph(graph(graph={"nodes": [1]}))
    feedback = client.query_feedback(TENANT, limit=10)
    assert [(a.action, a.confidence) for a in feedback.adjustments] == [
        ("tighten", 0.82),
        ("observe", 0.55),
    ]
    first = feedback.adjustments[0]
    assert first.target_urn == "urn:target:h\u00f4te-\U0001f600"
    assert first.execution_fingerprint == "cd" * 32
    assert feedback.kid == "default" and feedback.dropped == ()
    body = json.loads(gateway.seen[-1].body)
    assert (body["limit"], body["operator_id"], body["tenant_id"]) == (10, "op-1", TENANT)


def test_a_poison_graph_is_refused_before_sending(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    with pytest.raises(VectorVueSerializationError) as caught:
        client.push_execution_graph(graph(graph={"target_urn": ""}))
    assert caught.value.field == "graph.target_urn"
    assert gateway.seen == []


def test_a_bad_field_is_refused_before_sending(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    with pytest.raises(VectorVueSerializationError) as caught:
        client.push_execution_graph(graph(execution_fingerprint="cd"))
    assert caught.value.field == "execution_fingerprint"
    with pytest.raises(VectorVueSerializationError) as limit:
        client.query_feedback(TENANT, limit=1001)
    assert limit.value.field == "limit"
    assert gateway.seen == []


@pytest.mark.parametrize("path", [GRAPH, QUERY])
def test_a_500_is_never_retried(
    client: VectorVueClient, gateway: CognitiveGateway, path: str
) -> None:
    gateway.script = lambda seen: Reply(500, b"Internal Server Error", "text/plain")
    call = (
        (lambda: client.push_execution_graph(graph()))
        if path == GRAPH
        else (lambda: client.query_feedback(TENANT))
    )
    with pytest.raises(VectorVueAPIError) as caught:
        call()
    assert caught.value.status_code == 500
    assert [s.path for s in gateway.seen] == [path]


def test_a_409_replay_is_retried_with_a_fresh_timestamp_and_nonce(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    answers = iter([Reply(409, b'{"detail":"Replay detected: nonce already used"}')])
    gateway.script = lambda seen: next(answers, None)
    assert client.push_execution_graph(graph()).success
    first, second = gateway.seen
    assert (first.status, second.status) == (409, 202)
    assert first.headers["x-telemetry-nonce"] != second.headers["x-telemetry-nonce"]
    for seen in (first, second):  # the body carries the attempt's own, as the headers
        body = json.loads(seen.body)
        assert body["nonce"] == seen.headers["x-telemetry-nonce"]
        assert str(body["timestamp"]) == seen.headers["x-telemetry-timestamp"]


def test_an_unmapped_operator_is_named(gateway: CognitiveGateway, clock: FakeClock) -> None:
    with client_for(gateway, clock, operator_id="op-2") as client:
        with pytest.raises(VectorVueAPIError) as caught:
            client.push_execution_graph(graph())
        assert caught.value.status_code == 403
        assert "does not map operator 'op-2' to tenant" in str(caught.value)
        with pytest.raises(VectorVueAPIError) as query:
            client.query_feedback(TENANT)
        assert "operator -> tenant" in str(query.value)


def test_graphs_are_paced_per_operator_on_their_own_counter(
    gateway: CognitiveGateway, clock: FakeClock
) -> None:
    gateway.rate = 2
    with client_for(gateway, clock, gateway_rate_per_minute=2, campaign_id="c-1") as client:
        # Telemetry's counter is another: two telemetry requests spend none of the graphs'.
        client.send_event(
            {
                "event_id": "e-1",
                "event_type": "scan",
                "source_system": "spectrastrike",
                "occurred_at": "2026-11-25T00:00:00Z",
                "severity": "info",
                "asset_ref": "10.0.0.1",
                "message": "m",
                "mitre_techniques": ["T1046"],
            }
        )
        started = clock.time()
        for _ in range(2):
            client.push_execution_graph(graph())
        assert clock.time() == started  # no wait for the first two
        client.push_execution_graph(graph())
        assert clock.time() >= started + 60  # the third waited for the window
    assert [s.status for s in gateway.seen if s.path == GRAPH] == [202, 202, 202]
    assert [s.path for s in gateway.seen].count(TELEMETRY) == 1


def test_a_forged_answer_does_not_burn_the_genuine_ones_nonce(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    client.push_execution_graph(graph())
    genuine = gateway.feedback(TENANT, 100, nonce="shared-nonce-0000000001")
    data = json.loads(genuine.body)["data"]
    tampered = [{**data[0], "action": "observe"}]
    forged = gateway.signed(TENANT, tampered, nonce="shared-nonce-0000000001", signed_data=data)
    answers = iter([forged, genuine])
    gateway.script = lambda seen: next(answers) if seen.path == QUERY else None
    with pytest.raises(FeedbackVerificationError) as caught:
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.SIGNATURE
    assert client.query_feedback(TENANT).adjustments[0].action == "tighten"


def scripted_query(gateway: CognitiveGateway, reply: Reply) -> None:
    def script(seen: Seen) -> Reply | None:
        return reply if seen.path == QUERY else None

    gateway.script = script


def test_an_old_answer_is_refused(client: VectorVueClient, gateway: CognitiveGateway) -> None:
    scripted_query(gateway, gateway.signed(TENANT, [], signed_at=int(gateway.now()) - 301))
    with pytest.raises(FeedbackVerificationError) as caught:
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.FRESHNESS


def test_an_unknown_kid_is_refused(client: VectorVueClient, gateway: CognitiveGateway) -> None:
    other = Ed25519PrivateKey.generate()
    scripted_query(gateway, gateway.signed(TENANT, [], kid="2027-01", key=other))
    with pytest.raises(FeedbackVerificationError) as caught:
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.KID


def test_an_answer_for_another_tenant_is_refused(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    scripted_query(gateway, gateway.signed(OTHER_TENANT, []))
    with pytest.raises(FeedbackVerificationError) as caught:
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.SIGNATURE


def test_bad_items_are_dropped_and_reported(
    client: VectorVueClient, gateway: CognitiveGateway
) -> None:
    client.push_execution_graph(graph())
    good = gateway.adjustment(gateway.state.graphs[TENANT][0])
    stranger = {**good, "tenant_id": OTHER_TENANT}
    scripted_query(gateway, gateway.signed(TENANT, [good, stranger]))
    feedback = client.query_feedback(TENANT)
    assert len(feedback.adjustments) == 1
    assert [(d.index, d.check) for d in feedback.dropped] == [(1, FeedbackCheck.TENANT)]


def test_a_replay_is_refused_across_restarts_with_a_nonce_file(
    gateway: CognitiveGateway, clock: FakeClock, tmp_path: Path
) -> None:
    nonce_file = str(tmp_path / "nonces.sqlite3")
    scripted_query(gateway, gateway.signed(TENANT, []))  # the same answer, captured
    with client_for(gateway, clock, feedback_nonce_file=nonce_file) as first:
        first.query_feedback(TENANT)
    with (
        client_for(gateway, clock, feedback_nonce_file=nonce_file) as restarted,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        restarted.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.REPLAY


def test_rotated_keyring_old_and_new_kid_verify(
    gateway: CognitiveGateway, clock: FakeClock, tmp_path: Path
) -> None:
    new_key = Ed25519PrivateKey.generate()
    keyring = json.loads(Path(gateway.keyring_file).read_text())
    (tmp_path / "new.pub.pem").write_bytes(
        new_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    rotated = tmp_path / "keyring.json"
    rotated.write_text(json.dumps({**keyring, "2027-01": "new.pub.pem"}))
    answers = iter(
        [gateway.signed(TENANT, []), gateway.signed(TENANT, [], kid="2027-01", key=new_key)]
    )
    gateway.script = lambda seen: next(answers) if seen.path == QUERY else None
    with client_for(gateway, clock, feedback_keyring_file=str(rotated)) as client:
        assert client.query_feedback(TENANT).kid == "default"
        assert client.query_feedback(TENANT).kid == "2027-01"
    removed = tmp_path / "removed.json"
    removed.write_text(json.dumps({"2027-01": "new.pub.pem"}))
    gateway.script = lambda seen: gateway.signed(TENANT, []) if seen.path == QUERY else None
    with (
        client_for(gateway, clock, feedback_keyring_file=str(removed)) as client,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.KID


def test_the_integration_profile_says_the_loop_is_the_gateways() -> None:
    config = VectorVueConfig(base_url="https://vectorvue.test")
    with Container(config=config).client() as client:
        for call in (
            lambda: client.push_execution_graph(graph()),
            lambda: client.query_feedback(TENANT),
        ):
            with pytest.raises(VectorVueConfigError) as caught:
                call()
            assert caught.value.field == "profile"
            assert "telemetry-gateway" in caught.value.rule


def test_no_keyring_is_a_config_error_naming_the_setting(
    gateway: CognitiveGateway, clock: FakeClock
) -> None:
    with (
        client_for(gateway, clock, feedback_keyring_file=None) as client,
        pytest.raises(VectorVueConfigError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.field == "feedback_keyring_file"
    assert gateway.seen == []
