"""Both VectorVue profiles end to end: SpectraStrike outputs in, LocalVectorVue (real TLS,
mTLS for the gateway, real signatures) out, every item accepted exactly once.

The client's Clock is a FakeClock that also drives the receiver, so pacing, signature
windows and token lifetimes are exact and the tests do not wait in real time."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import (
    VectorVueAPIError,
    VectorVueClient,
    VectorVueConfig,
    VectorVueSerializationError,
)
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock, LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .mixed import ENVELOPES, mixed_outputs, sample_documents

TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"
ATTESTATION = "5e" * 32


@dataclass
class Gateway:
    """A receiver with the gateway profile, and a client configured for it."""

    receiver: LocalVectorVue
    client: VectorVueClient
    clock: FakeClock


def _key_file(tmp_path: Path, key: Ed25519PrivateKey) -> str:
    path = tmp_path / "ed25519.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def _client(config: VectorVueConfig, clock: FakeClock, environ: dict[str, str]) -> VectorVueClient:
    container = Container(config=config)
    container.clock.override(clock)
    container.environ.override(environ)
    client: VectorVueClient = container.client()
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def gateway(
    factory: LocalVectorVueFactory,
    clock: FakeClock,
    tmp_path: Path,
    *,
    server_key: Ed25519PrivateKey | None = None,
    schema_versions: tuple[str, ...] = ("1.0",),
    **config: Any,
) -> Gateway:
    key = Ed25519PrivateKey.generate()
    receiver = factory(
        gateway_schema_versions=schema_versions,
        require_client_cert=True,
        gateway_identities={IDENTITY: (server_key or key).public_key()},
        operator_tenants={"op-001": [TENANT], "op-002": [TENANT]},
        now=clock.time,
    )
    cert = receiver.issue_client_cert(IDENTITY)
    settings = VectorVueConfig(
        base_url=receiver.url,
        profile="telemetry-gateway",
        ca_bundle=receiver.ca_pem_path,
        client_cert=cert.cert_path,
        client_key=cert.key_path,
        service_identity=IDENTITY,
        signing_key_file=_key_file(tmp_path, key),
        attestation_measurement_hash=ATTESTATION,
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.05,
        **config,
    )
    return Gateway(receiver, _client(settings, clock, {}), clock)


@pytest.fixture
def gw(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock, tmp_path: Path
) -> Iterator[Gateway]:
    setup = gateway(local_vectorvue_factory, clock, tmp_path)
    yield setup
    setup.client.close()


def test_500_mixed_outputs_reach_the_gateway_exactly_once(gw: Gateway) -> None:
    """500 documents of every shape (800 events): one signed request each, paced under 120
    per operator per minute (no 429), every event stored once."""
    envelope = gw.client.send_outputs(mixed_outputs(500))
    assert envelope.success, envelope.error
    assert len(envelope.items) == 800
    assert all(item.accepted for item in envelope.items)
    stored = gw.receiver.accepted_telemetry()
    assert len(stored) == 800
    assert all(gw.receiver.gateway_receipts(tenant, eid) == 1 for tenant, eid in stored)
    posts = [r for r in gw.receiver.requests if r.path == "/internal/v1/telemetry"]
    assert len(posts) == 800  # no 429, no retry
    nonces = [r.headers["x-telemetry-nonce"] for r in posts]
    assert len(set(nonces)) == 800
    per_minute = Counter(int(int(r.headers["x-telemetry-timestamp"]) // 60) for r in posts)
    assert max(per_minute.values()) <= 120 * 2  # two operators, 120 each
    assert gw.clock.sleeps, "pacing never waited: the budget was not exercised"


def test_a_forced_replay_is_answered_with_a_fresh_nonce(gw: Gateway) -> None:
    """The gateway says 409 replay once: the client tries again with a new timestamp and
    nonce (never the same nonce), and the event is stored once."""
    gw.receiver.fail_next(1, 409, b'{"detail":"replay detected"}')
    envelope = gw.client.send_outputs(mixed_outputs(1))
    assert envelope.success
    first, second = (r for r in gw.receiver.requests if r.method == "POST")
    assert first.headers["x-telemetry-nonce"] != second.headers["x-telemetry-nonce"]
    assert first.body != second.body
    ((tenant, event_id),) = gw.receiver.accepted_telemetry()
    assert gw.receiver.gateway_receipts(tenant, event_id) == 1


def test_a_wrong_signing_key_is_a_401_that_is_not_retried(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock, tmp_path: Path
) -> None:
    """The gateway knows another public key: one request, a 401, nothing stored."""
    setup = gateway(
        local_vectorvue_factory, clock, tmp_path, server_key=Ed25519PrivateKey.generate()
    )
    with setup.client, pytest.raises(VectorVueAPIError) as caught:
        setup.client.send_event(mixed_outputs(1)[0])
    assert caught.value.status_code == 401
    assert len([r for r in setup.receiver.requests if r.method == "POST"]) == 1
    assert setup.receiver.accepted_telemetry() == {}


def test_gateway_refusals_are_local_and_name_the_field(gw: Gateway) -> None:
    """The SQL-injection finding would be a 422 at the gateway: it is refused here, naming
    the field and the rule, and nothing of the batch is sent."""
    sql_finding = next(d for d in sample_documents("findings.jsonl") if "SQL" in d["title"])
    with pytest.raises(VectorVueSerializationError) as caught:
        gw.client.send_outputs([*mixed_outputs(3), sql_finding])
    problem = next(p for p in caught.value.problems if "SQL" in p.rule)
    assert problem.index == 3
    assert problem.field == "payload.description"
    assert gw.receiver.requests == []


def test_what_the_gateway_accepts_is_sent_even_if_it_quotes_sql(gw: Gateway) -> None:
    """Text near the gateway's six SQL patterns but matching none ("union all select",
    "update my-table set", "or 1=10"), a lower-case technique and a padded severity are
    accepted by the gateway: the client sends them (normalized where the gateway
    normalizes) instead of losing the finding."""
    envelope = copy.deepcopy(ENVELOPES[0])
    envelope["attributes"].update(
        {
            "severity": " HIGH ",
            "mitre_techniques": ["t1190"],
            "query": "' union all select name from users; update my-table set x=1 or 1=10",
        }
    )
    assert gw.client.send_outputs([envelope]).success
    ((_, request),) = [(r.path, r) for r in gw.receiver.requests if r.method == "POST"]
    payload = json.loads(request.body)["payload"]
    assert payload["attributes"]["query"] == envelope["attributes"]["query"]
    assert payload["mitre_techniques"] == ["T1190"]
    assert payload["severity"] == "high"


def test_the_configured_schema_version_is_the_one_sent(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock, tmp_path: Path
) -> None:
    """Server: attributes.schema_version, "converted to a string and trimmed, must be
    non-empty and in the allowed list (default ["1.0"], configurable)". A gateway whose list
    holds another version is served by configuring `gateway_schema_version`; an event that
    states its own version keeps it."""
    setup = gateway(
        local_vectorvue_factory,
        clock,
        tmp_path,
        schema_versions=("1.1", "1.2"),
        gateway_schema_version="1.1",
    )
    own = copy.deepcopy(ENVELOPES[0])
    own["attributes"]["schema_version"] = "1.2"
    own["event_id"] = "evt-states-its-own-schema-version"
    with setup.client:
        assert setup.client.send_outputs([ENVELOPES[0], own]).success
    stored = sorted(
        e["payload"]["attributes"]["schema_version"]
        for e in setup.receiver.accepted_telemetry().values()
    )
    assert stored == ["1.1", "1.2"]


def test_gateway_bodies_are_plain_json_with_the_attempts_timestamp_and_nonce(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock, tmp_path: Path
) -> None:
    """Server: Content-Type must contain application/json (415); "Nothing decompresses
    request bodies ... Never send Content-Encoding: gzip"; "the body's values must equal
    the headers' (401 otherwise); the body nonce is 8-128 characters". Even for a large
    body."""
    setup = gateway(local_vectorvue_factory, clock, tmp_path)
    big = copy.deepcopy(ENVELOPES[0])
    big["attributes"]["output"] = "open port " * 10_000
    with setup.client:
        envelope = setup.client.send_outputs([big, *mixed_outputs(4)])
    assert envelope.success
    posts = [r for r in setup.receiver.requests if r.method == "POST"]
    assert len(posts) == len(envelope.items) > 1
    assert len(posts[0].body) > 100_000
    for post in posts:
        assert "application/json" in post.headers["content-type"]
        assert "content-encoding" not in post.headers
        body = json.loads(post.body.decode("utf-8"))
        assert str(body["timestamp"]) == post.headers["x-telemetry-timestamp"]
        assert body["nonce"] == post.headers["x-telemetry-nonce"]
        assert 8 <= len(body["nonce"]) <= 128


@pytest.fixture
def api(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock
) -> Iterator[tuple[LocalVectorVue, VectorVueClient]]:
    receiver = local_vectorvue_factory(signing_secret="vvs_e2e-hmac-secret", now=clock.time)
    config = VectorVueConfig(
        base_url=receiver.url,
        ca_bundle=receiver.ca_pem_path,
        signing_secret_env="VV_HMAC",
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.05,
    )
    environ = {"VECTORVUE_API_KEY": receiver.api_token, "VV_HMAC": "vvs_e2e-hmac-secret"}
    client = _client(config, clock, environ)
    yield receiver, client
    client.close()


def test_500_mixed_outputs_reach_the_integration_api_exactly_once(
    api: tuple[LocalVectorVue, VectorVueClient],
) -> None:
    """The same 500 documents: events and findings in batches of at most 250, signed with
    HMAC, every item accepted and stored once; resending all of it stores nothing new."""
    receiver, client = api
    documents = mixed_outputs(500)
    envelope = client.send_outputs(documents)
    assert envelope.success, envelope.error
    assert len(envelope.items) == 800
    events, findings = receiver.accepted_events(), receiver.accepted_findings()
    assert len(events) + len(findings) == 800
    assert len(findings) == 100
    batches = [r for r in receiver.requests if r.path.endswith("/batch")]
    assert len(batches) == 4  # 700 events in 250+250+200, 100 findings in one
    assert client.send_outputs(documents).success  # a resend: same ids, upserted
    assert len(receiver.accepted_events()) + len(receiver.accepted_findings()) == 800
    assert all(receiver.receipts(i) == 2 for i in [*events, *findings])


def test_ingest_status_reports_a_batch(api: tuple[LocalVectorVue, VectorVueClient]) -> None:
    """The request id of a batch gives its record: counts of accepted and failed items."""
    _, client = api
    envelope = client.send_outputs(mixed_outputs(5))
    assert envelope.request_id is not None
    status = client.ingest_status(envelope.request_id)
    assert status.success
    assert status.data["counts"]["accepted"] >= 1
    with pytest.raises(VectorVueAPIError) as caught:
        client.ingest_status("00000000-0000-0000-0000-000000000000")
    assert caught.value.status_code == 404


def test_login_auth_logs_in_once_and_again_before_expiry(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock
) -> None:
    """auth = login: one login for many sends; past exp - margin, one more login; the
    server's wrong expires_in is ignored."""
    receiver = local_vectorvue_factory(
        users={"alice": ("pw-alice-123", TENANT, "operator")},
        jwt_ttl_seconds=600,
        advertised_expires_in=43200,
        now=clock.time,
    )
    config = VectorVueConfig(
        base_url=receiver.url,
        ca_bundle=receiver.ca_pem_path,
        auth="login",
        login_username="alice",
        login_tenant_id=TENANT,
    )
    with _client(config, clock, {"VECTORVUE_PASSWORD": "pw-alice-123"}) as client:
        assert client.send_outputs(mixed_outputs(3)).success
        assert client.send_outputs(mixed_outputs(4)[3:]).success
        assert receiver.logins == 1
        clock.advance(600 - 60 + 1)
        assert client.send_outputs(mixed_outputs(5)[4:]).success
        assert receiver.logins == 2
