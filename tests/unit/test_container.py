"""The container picks the adapter each configuration asks for."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import VectorVueConfig, VectorVueConfigError
from vectorvue_client.adapters.signer_ed25519 import Ed25519Signer, certificate_sha256
from vectorvue_client.adapters.signer_hmac import HmacSigner
from vectorvue_client.adapters.signer_none import UnsignedSigner
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.container import Container

SEED = bytes(range(32))
URL = "https://vectorvue.test"


@pytest.fixture
def client_cert(tmp_path: Path) -> tuple[str, str]:
    """A client certificate and key on disk."""
    issued = trustme.CA().issue_cert("spectrastrike-producer")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


def gateway(client_cert: tuple[str, str], **overrides: object) -> VectorVueConfig:
    values: dict[str, object] = {
        "base_url": URL,
        "profile": "telemetry-gateway",
        "client_cert": client_cert[0],
        "client_key": client_cert[1],
        "service_identity": "spectrastrike-producer",
        "signing_key_env": "VV_GATEWAY_KEY",
    }
    values.update(overrides)
    return VectorVueConfig(**values)  # type: ignore[arg-type]


def test_the_gateway_profile_gets_the_ed25519_signer(client_cert: tuple[str, str]) -> None:
    """Ed25519 with the configured identity and the client certificate's fingerprint; the
    key may come from an environment variable as base64 text."""
    container = Container(config=gateway(client_cert))
    container.environ.override({"VV_GATEWAY_KEY": base64.b64encode(SEED).decode()})
    signer = container.signer()
    assert isinstance(signer, Ed25519Signer)
    headers = dict(signer.sign(b"{}", timestamp=1, nonce="nonce-123"))
    assert headers["X-Service-Identity"] == "spectrastrike-producer"
    assert headers["X-Client-Cert-Sha256"] == certificate_sha256(client_cert[0])
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    public.verify(base64.b64decode(headers["X-Telemetry-Signature"]), b"1.nonce-123.{}")


def test_the_gateway_key_may_be_a_file(client_cert: tuple[str, str], tmp_path: Path) -> None:
    """signing_key_file: a raw 32-byte seed file."""
    seed = tmp_path / "seed"
    seed.write_bytes(SEED)
    config = gateway(client_cert, signing_key_env=None, signing_key_file=str(seed))
    assert isinstance(Container(config=config).signer(), Ed25519Signer)


def test_a_missing_gateway_key_is_named(client_cert: tuple[str, str]) -> None:
    """An unset key variable is a config error naming signing_key_env."""
    container = Container(config=gateway(client_cert))
    container.environ.override({})
    with pytest.raises(VectorVueConfigError) as caught:
        container.signer()
    assert caught.value.field == "signing_key_env"


def test_the_integration_api_signs_with_hmac_only_when_a_secret_is_configured() -> None:
    """signing_secret_env -> HmacSigner; none -> no signature headers at all."""
    signed = Container(config=VectorVueConfig(base_url=URL, signing_secret_env="VV_HMAC"))
    assert isinstance(signed.signer(), HmacSigner)
    unsigned = Container(config=VectorVueConfig(base_url=URL))
    assert isinstance(unsigned.signer(), UnsignedSigner)
    assert unsigned.signer().sign(b"{}", timestamp=1, nonce="n" * 8) == ()


@pytest.mark.parametrize(
    ("backend", "kind"), [("urllib3", Urllib3Transport), ("requests", RequestsTransport)]
)
def test_http_backend_picks_the_transport(
    backend: Literal["urllib3", "requests"],
    kind: type[Urllib3Transport] | type[RequestsTransport],
) -> None:
    """The transport is the backend http_backend names."""
    transport = Container(config=VectorVueConfig(base_url=URL, http_backend=backend)).transport()
    assert isinstance(transport, kind)
    transport.close()


def test_credential_sources_are_chained_in_their_order(tmp_path: Path) -> None:
    """file then env: the file's key wins while it has one; only the named kinds are built
    (no Vault is configured, and none is asked for)."""
    key_file = tmp_path / "key"
    key_file.write_text("from-the-file")
    key_file.chmod(0o600)
    config = VectorVueConfig(
        base_url=URL, credential_sources=("file", "env"), api_key_file=str(key_file)
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": "from-the-environment"})
    assert container.credentials().get().reveal() == "from-the-file"
    only_env = Container(config=VectorVueConfig(base_url=URL))
    only_env.environ.override({"VECTORVUE_API_KEY": "from-the-environment"})
    assert only_env.credentials().get().reveal() == "from-the-environment"
