"""verify_federation_bundle against LocalVectorVue (real mutual TLS on 127.0.0.1), wired by
the container as in production (issue 15, point 4). The receiver checks what the contract
says the gateway checks: identity headers only, the closed body, the Ed25519 signature over
operator_id|campaign_id|execution_hash|timestamp|nonce with the identity's key, and answers
its SHA-256 as bundle_hash. The accepted bundle: test_cognitive_end_to_end.py; a hash that
is not of the bundle (LocalVectorVue never sends one): tests/hostile/test_forged_bundle_hash.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import (
    VectorVueAPIError,
    VectorVueConfig,
    VectorVueConfigError,
    VectorVueSerializationError,
)
from vectorvue_client.container import Container
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .local_gateway import Gateway, start_gateway

BUNDLE = {
    "operator_id": "op-\u00fc-1",
    "campaign_id": "camp-7",
    "execution_hash": "AB" * 32,
    "timestamp": 1771754400,
    "nonce": "nonce-000000001",
}


@pytest.fixture
def gateway(local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path) -> Gateway:
    return start_gateway(local_vectorvue_factory, tmp_path)


def test_a_key_the_gateway_does_not_know_is_refused(gateway: Gateway, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    client = gateway.client(signing_key_file=str(other))
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
    gateway: Gateway, change: dict[str, Any], field: str
) -> None:
    client = gateway.client()
    with client, pytest.raises(VectorVueSerializationError) as caught:
        client.verify_federation_bundle({**BUNDLE, **change})
    assert caught.value.field == field
    if field == "signature":  # the client signs: a signature given is not "unknown"
        assert "producer key" in caught.value.rule
    assert gateway.vv.requests == []


def test_the_limits_themselves_pass(gateway: Gateway) -> None:
    edge = {**BUNDLE, "operator_id": "o" * 128, "nonce": "n" * 12, "execution_hash": "ab" * 32}
    with gateway.client() as client:
        assert client.verify_federation_bundle(edge).success
    edge = {**BUNDLE, "campaign_id": "c" * 128, "nonce": "n" * 128}
    with gateway.client() as client:
        assert client.verify_federation_bundle(edge).success


def test_the_integration_api_has_no_federation() -> None:
    config = VectorVueConfig(base_url="https://127.0.0.1:9")
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": "k"})
    with container.client() as client, pytest.raises(VectorVueConfigError, match="profile"):
        client.verify_federation_bundle(BUNDLE)
