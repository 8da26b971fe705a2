"""LocalVectorVue's mutual TLS: client certificates from its own CA, what a client without
one sees, and the X-Client-Cert-Sha256 header checked against the presented certificate."""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import IDENTITY, OPERATOR, TENANT, Clock, Producer


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_040)


@pytest.fixture
def mtls(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> LocalVectorVue:
    return local_vectorvue_factory(
        require_client_cert=True,
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=clock,
    )


@pytest.fixture
def producer(mtls: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> Iterator[Producer]:
    p = Producer(mtls, key, clock)
    yield p
    p.close()


def session_for(vv: LocalVectorVue) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE
    session.verify = vv.ca_pem_path
    return session


def tls_client(vv: LocalVectorVue, *, max_version: ssl.TLSVersion | None = None) -> ssl.SSLSocket:
    """A TLS connection to the receiver that presents no client certificate."""
    context = ssl.create_default_context(cafile=vv.ca_pem_path)
    if max_version is not None:
        context.maximum_version = max_version
    port = int(vv.url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_an_issued_client_cert_is_pem_files_and_its_der_fingerprint(mtls: LocalVectorVue) -> None:
    cert = mtls.issue_client_cert()

    loaded = x509.load_pem_x509_certificate(Path(cert.cert_path).read_bytes())
    assert cert.sha256 == hashlib.sha256(loaded.public_bytes(Encoding.DER)).hexdigest()
    assert cert.common_name == "spectrastrike-producer"
    assert loaded.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        "spectrastrike-producer"
    )
    assert b"PRIVATE KEY" in Path(cert.key_path).read_bytes()
    assert Path(cert.cert_path).parent == Path(mtls.ca_pem_path).parent
    assert mtls.issue_client_cert("other").cert_path != cert.cert_path


def test_a_client_with_an_issued_cert_gets_through_and_is_recorded(
    mtls: LocalVectorVue, producer: Producer
) -> None:
    cert = mtls.issue_client_cert()

    response = producer.send(cert=(cert.cert_path, cert.key_path), cert_sha256=cert.sha256)

    assert response.status_code == 202
    assert mtls.requests[-1].client_cert_sha256 == cert.sha256
    assert mtls.gateway_receipts(TENANT, "evt-1") == 1


def test_without_a_client_cert_requests_fails_and_nothing_is_received(
    mtls: LocalVectorVue,
) -> None:
    with session_for(mtls) as session, pytest.raises(requests.exceptions.ConnectionError) as err:
        session.get(mtls.url + "/healthz", timeout=5)

    # TLS 1.3: the client's handshake completes, then the server's alert arrives on the
    # first read: requests shows it as an SSLError (a ConnectionError) naming the alert.
    assert "certificate required" in str(err.value)
    assert mtls.requests == []


def test_without_a_client_cert_tls13_fails_on_the_first_read(mtls: LocalVectorVue) -> None:
    with tls_client(mtls) as tls:
        assert tls.version() == "TLSv1.3"  # the client thinks the handshake went well
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            tls.recv(1024)


def test_without_a_client_cert_tls12_fails_in_the_handshake(mtls: LocalVectorVue) -> None:
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        tls_client(mtls, max_version=ssl.TLSVersion.TLSv1_2)


def test_a_client_cert_from_another_ca_fails_the_handshake(
    mtls: LocalVectorVue, tmp_path: Path
) -> None:
    stranger = trustme.CA().issue_cert(common_name="spectrastrike-producer")
    stranger.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "stranger.pem"))

    with session_for(mtls) as session, pytest.raises(requests.exceptions.SSLError) as err:
        session.get(mtls.url + "/healthz", cert=str(tmp_path / "stranger.pem"), timeout=5)

    assert "unknown ca" in str(err.value).lower()
    assert mtls.requests == []


def test_a_wrong_stated_fingerprint_is_401(mtls: LocalVectorVue, producer: Producer) -> None:
    cert, other = mtls.issue_client_cert(), mtls.issue_client_cert()
    pair = (cert.cert_path, cert.key_path)

    wrong = producer.send(cert=pair, cert_sha256=other.sha256)  # valid, but another cert's
    right = producer.send(cert=pair, cert_sha256=cert.sha256)

    assert wrong.status_code == 401
    assert "does not match the client certificate" in wrong.json()["detail"]
    assert right.status_code == 202


def test_without_mtls_a_presented_cert_is_still_recorded_and_compared(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=clock,
    )
    cert = vv.issue_client_cert()
    producer = Producer(vv, key, clock)
    try:
        without = producer.send(event_id="evt-1")  # no certificate: only the format checked
        wrong = producer.send(cert=(cert.cert_path, cert.key_path), event_id="evt-2")
    finally:
        producer.close()

    assert without.status_code == 202
    assert wrong.status_code == 401
    assert [r.client_cert_sha256 for r in vv.requests] == [None, cert.sha256]


def test_issuing_a_cert_needs_a_started_receiver() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        LocalVectorVue(api_token="t0ken-unused").issue_client_cert()
