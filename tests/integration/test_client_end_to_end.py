"""The production wiring (container, requests transport, env credentials, HMAC signer)
against LocalVectorVue over real TLS on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vectorvue_client import (
    VectorVueAPIError,
    VectorVueClient,
    VectorVueConfig,
    VectorVueConfigError,
    VectorVueTransportError,
)
from vectorvue_client.container import Container, build_client
from vectorvue_client.testing import FakeTransport, json_response
from vectorvue_client.testing.receiver import LocalVectorVue

TOKEN = "vvk_e2e-token-8c1d4f7a2b"
SIGNING = "vvs_e2e-signing-3e9b6a"
FINDING = {
    "title": "SSH allows password authentication",
    "description": "sshd on 192.0.2.10 accepts passwords for all users.",
    "severity": "med",
    "first_seen": "2026-11-25T09:14:03.512204+00:00",
    "asset_ref": "192.0.2.10",
}


@pytest.fixture
def signed_vectorvue() -> Iterator[LocalVectorVue]:
    """A receiver that requires bearer auth and HMAC request signatures."""
    with LocalVectorVue(api_token=TOKEN, signing_secret=SIGNING) as vv:
        yield vv


@pytest.fixture
def client(
    signed_vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VectorVueClient]:
    """build_client, with the key and signing secret in the environment."""
    monkeypatch.setenv("VECTORVUE_API_KEY", TOKEN)
    monkeypatch.setenv("VECTORVUE_SIGNING_SECRET", SIGNING)
    config = VectorVueConfig(
        base_url=signed_vectorvue.url,
        ca_bundle=signed_vectorvue.ca_pem_path,
        signing_secret_env="VECTORVUE_SIGNING_SECRET",
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.05,
        deadline_seconds=10.0,
        timeout_seconds=2.0,
    )
    with build_client(config) as c:
        yield c


def test_a_finding_is_accepted_signed_and_stored_once(
    client: VectorVueClient, signed_vectorvue: LocalVectorVue
) -> None:
    """The server verified the bearer token and the HMAC over the exact bytes it received."""
    envelope = client.send_finding(FINDING)
    assert envelope.success
    assert envelope.status == "accepted"
    (stored_id,) = signed_vectorvue.accepted_findings()
    assert signed_vectorvue.receipts(stored_id) == 1
    assert signed_vectorvue.accepted_findings()[stored_id]["severity"] == "medium"


def test_an_outage_is_ridden_out_with_one_key_and_fresh_signatures(
    client: VectorVueClient, signed_vectorvue: LocalVectorVue
) -> None:
    """Two 503s then success: three requests, one Idempotency-Key, one body, stored once."""
    signed_vectorvue.fail_next(2, 503, b'{"detail":"Service Unavailable"}')
    envelope = client.send_event(
        {
            "source_system": "spectrastrike",
            "event_type": "PORT_SCAN",
            "occurred_at": 1795564800,
            "asset_ref": "192.0.2.10",
            "message": "22/tcp open",
        }
    )
    assert envelope.success
    assert envelope.attempts == 3
    posts = [r for r in signed_vectorvue.requests if r.method == "POST"]
    assert len(posts) == 3
    assert len({r.headers["idempotency-key"] for r in posts}) == 1
    assert len({r.body for r in posts}) == 1
    (event_id,) = signed_vectorvue.accepted_events()
    assert signed_vectorvue.receipts(event_id) == 1


def test_a_batch_is_split_and_every_item_stored_once(
    client: VectorVueClient, signed_vectorvue: LocalVectorVue
) -> None:
    """More findings than batch_size: several requests, each item exactly once."""
    findings = [{**FINDING, "title": f"Finding number {i}"} for i in range(600)]
    envelope = client.send_findings(findings)
    assert envelope.success
    assert len(envelope.items) == 600
    batches = [r for r in signed_vectorvue.requests if r.path.endswith("/findings/batch")]
    assert len(batches) == 3  # 250 + 250 + 100
    stored = signed_vectorvue.accepted_findings()
    assert len(stored) == 600
    assert all(signed_vectorvue.receipts(i) == 1 for i in stored)


def test_a_wrong_signing_secret_is_a_401_that_is_not_retried(
    signed_vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server refuses the signature; the client raises at once, without the secret."""
    monkeypatch.setenv("VECTORVUE_API_KEY", TOKEN)
    monkeypatch.setenv("WRONG_SECRET", "vvs_not-the-right-one")
    config = VectorVueConfig(
        base_url=signed_vectorvue.url,
        ca_bundle=signed_vectorvue.ca_pem_path,
        signing_secret_env="WRONG_SECRET",
    )
    with build_client(config) as client, pytest.raises(VectorVueAPIError) as caught:
        client.send_finding(FINDING)
    assert caught.value.status_code == 401
    assert len(signed_vectorvue.requests) == 1
    assert "vvs_not-the-right-one" not in str(caught.value)


def test_an_untrusted_server_is_a_tls_error_even_with_requests_ca_bundle_set(
    signed_vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the system store (no ca_bundle) the receiver's private CA is not trusted, even
    when REQUESTS_CA_BUNDLE names it; no request, and so no token, reaches the server."""
    monkeypatch.setenv("VECTORVUE_API_KEY", TOKEN)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", signed_vectorvue.ca_pem_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", signed_vectorvue.ca_pem_path)
    with build_client(VectorVueConfig(base_url=signed_vectorvue.url)) as client:
        with pytest.raises(VectorVueTransportError) as caught:
            client.send_finding(FINDING)
        assert caught.value.kind == "tls"
        assert caught.value.attempts == 1
        assert client.health_check() is False
    assert signed_vectorvue.requests == []


def test_the_container_lets_a_fake_replace_one_adapter() -> None:
    """Override the transport provider: the rest of the default wiring stays."""
    config = VectorVueConfig(base_url="https://vectorvue.test", api_key_env="VV_KEY_FOR_TEST")
    container = Container(config=config)
    fake = FakeTransport(
        [json_response(202, b'{"request_id":"r","status":"accepted","data":{},"errors":[]}')]
    )
    container.transport.override(fake)
    container.environ.override({"VV_KEY_FOR_TEST": TOKEN})
    client: VectorVueClient = container.client()
    assert client.send_finding(FINDING).success
    (request,) = fake.requests
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.header("X-Signature") is None  # no signing secret configured


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
        ({"client_cert": "/nonexistent/c.pem", "client_key": "/nonexistent/c.key"}, "client_cert"),
    ],
)
def test_build_client_refuses_what_it_cannot_honour(
    overrides: dict[str, object], field: str
) -> None:
    """Missing files are config errors when the client is built, not at the first send."""
    config = VectorVueConfig(base_url="https://vectorvue.test", **overrides)  # type: ignore[arg-type]
    with pytest.raises(VectorVueConfigError) as caught:
        build_client(config)
    assert caught.value.field == field
