"""Attacks on how a TLS refusal is reported, against both backends.

With TLS 1.3 a server judges the client certificate only after the client's side of the
handshake is done: the client is already writing its request when the alert ("certificate
required", "unknown CA") arrives, and the server hangs up without reading what was
written, so the kernel answers with a reset. Depending on timing the client met a reset,
an EOF or a broken pipe (a lost connection, which the retry policy retries) instead of the
alert (TLS, which it does not: a resend cannot fix a certificate, and the operator must be
sent to client_cert). Each case is sent many times, to a server in a process of its own
(mtls_refuser.py, as a real one is): every send must say TLS, with the message that names
the setting. Before the fix, most of them said connection_lost.

A server that resets a connection after a good handshake must still be a lost connection.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator

import pytest
import trustme

from vectorvue_client import VectorVueConfig, VectorVueTransportError
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.config import HttpBackend
from vectorvue_client.container import build_client
from vectorvue_client.domain.http import HttpRequest, Timeouts, TransportFailure

from .hostile_peers import HostilePeer, PeerCertificates, PeerProcess, abort

type Backend = type[RequestsTransport] | type[Urllib3Transport]

REPEATS = 30
TIMEOUTS = Timeouts(connect=5.0, read=5.0)
# No body: the request head alone races the alert. 16 MiB: more than the socket buffers
# hold, so the client is still writing when the reset comes.
BODIES = {"no-body": b"", "16MiB-body": b"v" * (16 << 20)}
FINDING = {"title": "abc", "description": "d", "severity": "low", "first_seen": 0}
NO_CERTIFICATE = "set client_cert and client_key"
FOREIGN_CERTIFICATE = "does not trust our client certificate's issuer"


@pytest.fixture(params=[Urllib3Transport, RequestsTransport], ids=["urllib3", "requests"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn."""
    cls: Backend = request.param
    return cls


@pytest.fixture
def refuser() -> Iterator[tuple[PeerCertificates, str]]:
    """(its certificates, its URL): mtls_refuser.py in a process of its own."""
    with (
        PeerCertificates() as certificates,
        PeerProcess("mtls_refuser.py", certificates.server_pem, certificates.ca_path) as peer,
    ):
        yield certificates, peer.url


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(
    ("foreign", "message"),
    [(False, NO_CERTIFICATE), (True, FOREIGN_CERTIFICATE)],
    ids=["no-certificate", "certificate-from-another-ca"],
)
def test_a_refused_client_certificate_is_tls_every_time(
    backend: Backend,
    refuser: tuple[PeerCertificates, str],
    body: bytes,
    foreign: bool,
    message: str,
) -> None:
    certificates, url = refuser
    cert = certificates.issue_client_cert(ca=trustme.CA()) if foreign else None
    details: list[str] = []
    kinds: Counter[str] = Counter()
    for _ in range(REPEATS):
        transport = backend(url, verify=certificates.ca_path, client_cert=cert)
        result = transport.send(HttpRequest("POST", "/x", (), body), TIMEOUTS)
        transport.close()
        assert isinstance(result, TransportFailure)
        kinds[result.kind.value] += 1
        details.append(result.detail)

    assert kinds == {"tls": REPEATS}
    assert all(message in detail for detail in details), details[0]


@pytest.mark.parametrize("http_backend", ["urllib3", "requests"])
def test_the_client_reports_a_refusal_after_one_attempt_not_after_retries(
    http_backend: HttpBackend,
    refuser: tuple[PeerCertificates, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the production wiring, with retries allowed: the first attempt already says
    TLS, so none is retried."""
    certificates, url = refuser
    monkeypatch.setenv("VECTORVUE_API_KEY", "hostile-peer-token-5d1c")
    config = VectorVueConfig(
        base_url=url,
        ca_bundle=certificates.ca_path,
        http_backend=http_backend,
        max_retries=3,
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.01,
    )
    with build_client(config) as client:
        for _ in range(REPEATS):
            with pytest.raises(VectorVueTransportError) as refused:
                client.send_finding(FINDING)
            assert (refused.value.kind.value, refused.value.attempts) == ("tls", 1)
            assert NO_CERTIFICATE in refused.value.detail


def reset_after_a_good_handshake(conn: socket.socket, peer: HostilePeer) -> None:
    """Shake hands (no client certificate asked for), then reset the connection."""
    abort(peer.tls(conn))


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_reset_after_a_good_handshake_is_still_a_lost_connection(
    backend: Backend, body: bytes
) -> None:
    """A guard on the other side of the fix: a hang-up with no alert before it stays
    CONNECTION_LOST (it passes on the code before the fix, too)."""
    with HostilePeer(reset_after_a_good_handshake) as peer:
        kinds: Counter[str] = Counter()
        for _ in range(REPEATS // 3):
            transport = backend(peer.url, verify=peer.ca_path)
            result = transport.send(HttpRequest("POST", "/x", (), body), TIMEOUTS)
            transport.close()
            assert isinstance(result, TransportFailure)
            kinds[result.kind.value] += 1

    assert kinds == {"connection_lost": REPEATS // 3}
