"""Mutual TLS and the audit file, through the production adapters (each test
once per HTTP backend, urllib3 and requests), against LocalVectorVue over real TLS on
127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from vectorvue_client import (
    TransportErrorKind,
    VectorVueConfig,
    VectorVueConfigError,
    verify_audit_chain,
)
from vectorvue_client.adapters.signer_ed25519 import certificate_sha256
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.config import HttpBackend
from vectorvue_client.container import build_client
from vectorvue_client.domain.http import HttpRequest, HttpResponse, Timeouts, TransportFailure
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

TIMEOUTS = Timeouts(connect=3.0, read=3.0)
type Backend = type[RequestsTransport] | type[Urllib3Transport]
FINDING = {
    "title": "Exposed admin console",
    "description": "The Jenkins console on 192.0.2.14 needs no login. " * 40,
    "severity": 9.1,
    "first_seen": "2026-11-25T09:00:00Z",
    "asset_ref": "192.0.2.14",
}


@pytest.fixture(params=[RequestsTransport, Urllib3Transport], ids=["requests", "urllib3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn."""
    cls: Backend = request.param
    return cls


@pytest.fixture(params=["urllib3", "requests"])
def http_backend(request: pytest.FixtureRequest) -> HttpBackend:
    """Each value of the http_backend setting in turn."""
    name: HttpBackend = request.param
    return name


def test_a_missing_client_certificate_is_a_clear_tls_error(
    local_vectorvue_factory: LocalVectorVueFactory,
    backend: Backend,
) -> None:
    """The server requires mTLS and we present nothing: a TLS failure that tells the operator
    to set client_cert and client_key; the server records no request."""
    vv = local_vectorvue_factory(require_client_cert=True)
    transport = backend(vv.url, verify=vv.ca_pem_path)
    result = transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)
    transport.close()
    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.TLS
    assert "set client_cert and client_key" in result.detail
    assert vv.requests == []


def test_the_configured_client_certificate_is_presented(
    local_vectorvue_factory: LocalVectorVueFactory,
    backend: Backend,
) -> None:
    """With client_cert and client_key the handshake succeeds and the server sees exactly
    that certificate (the same fingerprint the gateway signer states)."""
    vv = local_vectorvue_factory(require_client_cert=True)
    cert = vv.issue_client_cert()
    transport = backend(vv.url, verify=vv.ca_pem_path, client_cert=(cert.cert_path, cert.key_path))
    result = transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)
    transport.close()
    assert isinstance(result, HttpResponse)
    assert result.status == 200
    (request,) = vv.requests
    assert request.client_cert_sha256 == cert.sha256 == certificate_sha256(cert.cert_path)


def test_a_client_certificate_from_a_foreign_ca_is_refused_clearly(
    local_vectorvue_factory: LocalVectorVueFactory, backend: Backend, tmp_path: Path
) -> None:
    """The server does not trust our certificate's issuer: a TLS failure that says so."""
    vv = local_vectorvue_factory(require_client_cert=True)
    foreign = trustme.CA().issue_cert("spectrastrike-producer")
    cert_path, key_path = tmp_path / "c.pem", tmp_path / "c.key"
    foreign.cert_chain_pems[0].write_to_path(str(cert_path))
    foreign.private_key_pem.write_to_path(str(key_path))
    transport = backend(vv.url, verify=vv.ca_pem_path, client_cert=(str(cert_path), str(key_path)))
    result = transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)
    transport.close()
    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.TLS
    assert "client certificate" in result.detail
    assert vv.requests == []


@pytest.mark.parametrize("broken", ["ca_bundle", "client_cert"])
def test_a_tls_file_that_cannot_be_loaded_is_refused_before_anything_is_sent(
    local_vectorvue_factory: LocalVectorVueFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    http_backend: HttpBackend,
    broken: str,
) -> None:
    """A CA bundle that holds no certificate, or a client key under a passphrase (none can be
    configured, and OpenSSL would otherwise ask for it on the terminal). Both backends load
    the files once, into their own TLS context, so building the client is a configuration
    error naming the setting."""
    vv = local_vectorvue_factory(require_client_cert=True)
    monkeypatch.setenv("VECTORVUE_API_KEY", vv.api_token)
    cert = vv.issue_client_cert()
    ca_bundle, key_path = vv.ca_pem_path, cert.key_path
    if broken == "ca_bundle":
        ca_bundle = str(tmp_path / "not-a-ca.pem")
        Path(ca_bundle).write_text("not a certificate\n")
    else:
        key = serialization.load_pem_private_key(Path(cert.key_path).read_bytes(), None)
        key_path = str(tmp_path / "encrypted.key")
        Path(key_path).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
        )
    config = VectorVueConfig(
        base_url=vv.url,
        ca_bundle=ca_bundle,
        client_cert=cert.cert_path,
        client_key=key_path,
        max_retries=0,
        http_backend=http_backend,
    )
    with pytest.raises(VectorVueConfigError) as refused:
        build_client(config)
    assert refused.value.field == broken
    assert vv.requests == []


@pytest.fixture
def signed(
    local_vectorvue_factory: LocalVectorVueFactory, monkeypatch: pytest.MonkeyPatch
) -> LocalVectorVue:
    """A receiver that verifies HMAC signatures; key and secret in the environment."""
    vv = local_vectorvue_factory(signing_secret="vvs_gzip-signing-secret")
    monkeypatch.setenv("VECTORVUE_API_KEY", vv.api_token)
    monkeypatch.setenv("VV_SIGNING", "vvs_gzip-signing-secret")
    return vv


def test_the_audit_file_records_every_send_and_reveals_tampering(
    signed: LocalVectorVue, tmp_path: Path, http_backend: HttpBackend
) -> None:
    """With audit_file set, each operation is one chained line (no secret in it); editing a
    line afterwards is reported by verify_audit_chain at that line."""
    audit = tmp_path / "audit.jsonl"
    config = VectorVueConfig(
        base_url=signed.url,
        ca_bundle=signed.ca_pem_path,
        signing_secret_env="VV_SIGNING",
        audit_file=str(audit),
        http_backend=http_backend,
    )
    signed.fail_next(1, 503)
    with build_client(config) as client:
        client.send_finding(FINDING)
        client.health_check()
        client.send_finding({**FINDING, "title": "Second finding"})
    report = verify_audit_chain(audit)
    assert report.ok
    assert report.records == 3
    text = audit.read_text()
    assert signed.api_token not in text
    assert "vvs_gzip-signing-secret" not in text
    lines = text.splitlines()
    first = json.loads(lines[0])
    assert (first["action"], first["attempts"], first["outcome"]) == ("send_finding", 2, "success")
    lines[1] = lines[1].replace('"success"', '"unhealthy"')
    audit.write_text("\n".join(lines) + "\n")
    tampered = verify_audit_chain(audit)
    assert not tampered.ok
    assert tampered.first_bad_line == 2


def test_the_api_key_can_come_from_vault_through_a_chain(
    local_vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch, http_backend: HttpBackend
) -> None:
    """credential_sources = env, vault: the env variable is unset, so the key is read from
    Vault (AppRole login) and the finding is delivered with it; closing the client closes
    the Vault session."""
    from .vault_fake import FakeVault

    monkeypatch.delenv("VECTORVUE_API_KEY", raising=False)
    with FakeVault() as vault:
        vault.secrets[("secret", "vectorvue/prod")] = {"api_key": local_vectorvue.api_token}
        vault.approles["role-1"] = "secret-id-1"
        monkeypatch.setenv("VAULT_ROLE_ID", "role-1")
        monkeypatch.setenv("VAULT_SECRET_ID", "secret-id-1")
        config = VectorVueConfig(
            base_url=local_vectorvue.url,
            ca_bundle=local_vectorvue.ca_pem_path,
            credential_sources=("env", "vault"),
            vault_url=vault.url,
            vault_path="vectorvue/prod",
            vault_auth="approle",
            vault_ca_bundle=vault.ca_pem_path,
            http_backend=http_backend,
        )
        with build_client(config) as client:
            assert client.send_finding(FINDING).success
            assert client.send_finding({**FINDING, "title": "Another finding"}).success
        assert vault.logins == 1
        assert vault.reads == 1  # the second send was served from the TTL cache
    assert len(local_vectorvue.accepted_findings()) == 2
