"""verify_federation_bundle against a test gateway on 127.0.0.1 (real mutual TLS), wired by
the container as in production (issue 15, point 4). The server checks what the contract
says the gateway checks: identity headers only, the closed body, the Ed25519 signature
(cryptography's, with the producer's public key) over operator_id|campaign_id|
execution_hash|timestamp|nonce, and answers its SHA-256 as bundle_hash."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hostile.echo_server import EchoServer, Reply, Seen
from vectorvue_client import (
    VectorVueAPIError,
    VectorVueClient,
    VectorVueConfig,
    VectorVueConfigError,
    VectorVueSerializationError,
)
from vectorvue_client.container import Container

PATH = "/internal/v1/federation/verify"
IDENTITY = "spectrastrike-producer"
BUNDLE = {
    "operator_id": "op-ü-1",
    "campaign_id": "camp-7",
    "execution_hash": "AB" * 32,
    "timestamp": 1771754400,
    "nonce": "nonce-000000001",
}
SIGNED = "op-ü-1|camp-7|" + "AB" * 32 + "|1771754400|nonce-000000001"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def gateway(key: Ed25519PrivateKey) -> Iterator[EchoServer]:
    public = key.public_key()

    def script(seen: Seen) -> Reply:
        assert seen.path == PATH
        if not {"x-service-identity", "x-client-cert-sha256"} <= set(seen.headers):
            return Reply.json(401, {"detail": "missing identity"})
        body = json.loads(seen.body)
        bundle = body["bundle"]
        assert set(body) == {"bundle"}
        assert set(bundle) == {*BUNDLE, "signature"}
        message = "|".join(
            str(bundle[k])
            for k in ("operator_id", "campaign_id", "execution_hash", "timestamp", "nonce")
        ).encode()
        try:
            public.verify(base64.b64decode(bundle["signature"], validate=True), message)
        except InvalidSignature:
            return Reply.json(401, {"detail": "Invalid federation bundle signature"})
        digest = hashlib.sha256(message).hexdigest()
        return Reply.json(200, {"accepted": True, "bundle_hash": digest})

    with EchoServer(script) as running:
        yield running


def build(server: EchoServer, tmp_path: Path, key: Ed25519PrivateKey) -> VectorVueClient:
    cert, client_key = server.issue_client_cert(IDENTITY)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    config = VectorVueConfig(
        base_url=server.url,
        ca_bundle=server.ca_pem_path,
        profile="telemetry-gateway",
        client_cert=cert,
        client_key=client_key,
        service_identity=IDENTITY,
        attestation_measurement_hash="5e" * 32,
        signing_key_env="VV_SIGNING_KEY",
        audit_file=str(tmp_path / "audit.jsonl"),
        max_retries=0,
        timeout_seconds=5.0,
    )
    container = Container(config=config)
    container.environ.override({"VV_SIGNING_KEY": pem})
    client: VectorVueClient = container.client()
    return client


def test_the_client_signs_the_bundle_and_checks_the_hash(
    gateway: EchoServer, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    with build(gateway, tmp_path, key) as client:
        envelope = client.verify_federation_bundle(BUNDLE)
    assert envelope.success
    assert envelope.data["bundle_hash"] == hashlib.sha256(SIGNED.encode()).hexdigest()
    seen = gateway.requests[0]
    assert seen.headers["x-service-identity"] == IDENTITY
    # Identity headers only: no request signature on this route.
    assert not any(name.startswith("x-telemetry-") for name in seen.headers)


def test_a_hash_that_is_not_of_this_bundle_is_an_error(
    gateway: EchoServer, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    gateway.script = lambda seen: Reply.json(200, {"accepted": True, "bundle_hash": "0" * 64})
    with build(gateway, tmp_path, key) as client, pytest.raises(VectorVueAPIError) as caught:
        client.verify_federation_bundle(BUNDLE)
    assert caught.value.error_code == "bundle_hash_mismatch"


def test_a_key_the_gateway_does_not_know_is_refused(gateway: EchoServer, tmp_path: Path) -> None:
    client = build(gateway, tmp_path, Ed25519PrivateKey.generate())
    with client, pytest.raises(VectorVueAPIError) as caught:
        client.verify_federation_bundle(BUNDLE)
    assert caught.value.status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator_id": ""}, "operator_id"),
        ({"campaign_id": "c" * 129}, "campaign_id"),
        ({"execution_hash": "ab" * 31}, "execution_hash"),
        ({"execution_hash": "zz" * 32}, "execution_hash"),
        ({"timestamp": "1771754400"}, "timestamp"),
        ({"timestamp": True}, "timestamp"),
        ({"nonce": "n" * 11}, "nonce"),
        ({"nonce": "n" * 129}, "nonce"),
        ({"extra": 1}, "extra"),
        ({"signature": "c2lnbmF0dXJlLWdpdmVu"}, "signature"),
    ],
)
def test_a_bad_bundle_is_refused_locally(
    gateway: EchoServer, tmp_path: Path, key: Ed25519PrivateKey, change: dict[str, Any], field: str
) -> None:
    client = build(gateway, tmp_path, key)
    with client, pytest.raises(VectorVueSerializationError) as caught:
        client.verify_federation_bundle({**BUNDLE, **change})
    assert caught.value.field == field
    if field == "signature":  # the client signs: a signature given is not "unknown"
        assert "producer key" in caught.value.rule
    assert gateway.requests == []


def test_the_limits_themselves_pass(
    gateway: EchoServer, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    edge = {**BUNDLE, "operator_id": "o" * 128, "nonce": "n" * 12, "execution_hash": "ab" * 32}
    with build(gateway, tmp_path, key) as client:
        assert client.verify_federation_bundle(edge).success


def test_the_integration_api_has_no_federation(tmp_path: Path) -> None:
    config = VectorVueConfig(base_url="https://127.0.0.1:9")
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": "k"})
    with container.client() as client, pytest.raises(VectorVueConfigError, match="profile"):
        client.verify_federation_bundle(BUNDLE)
