"""Security properties of the transport over real TLS on 127.0.0.1: pinning inside the
handshake, proxies only when configured, the configured CA over the environment's."""

from __future__ import annotations

import hashlib
import ssl
from urllib.parse import urlsplit

import pytest
import trustme

from vectorvue_client import TransportErrorKind, VectorVueTransportError
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.domain.http import HttpRequest, HttpResponse, Timeouts, TransportFailure
from vectorvue_client.testing.receiver import LocalVectorVue

from .proxy import ConnectProxy

TIMEOUTS = Timeouts(connect=3.0, read=3.0)
OTHER_PIN = "0" * 64


def server_pin(vv: LocalVectorVue) -> str:
    """SHA-256 of the receiver's leaf certificate, read off the wire independently."""
    parts = urlsplit(vv.url)
    assert parts.hostname is not None and parts.port is not None
    pem = ssl.get_server_certificate((parts.hostname, parts.port))
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def health() -> HttpRequest:
    return HttpRequest("GET", "/healthz", (("Authorization", "Bearer pin-test-token-123"),))


def test_a_pin_mismatch_fails_before_any_byte_of_the_request_leaves(
    vectorvue: LocalVectorVue,
) -> None:
    """A certificate that is valid (our CA) but not pinned: PIN_MISMATCH, and the server
    never receives a request line, so it never sees the bearer token either."""
    transport = RequestsTransport(vectorvue.url, verify=vectorvue.ca_pem_path, pins=(OTHER_PIN,))
    result = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.PIN_MISMATCH
    assert server_pin(vectorvue) in result.detail  # tells the operator what the server has
    assert "pin-test-token-123" not in result.detail
    assert vectorvue.requests == []


def test_a_matching_pin_among_several_lets_the_request_through(vectorvue: LocalVectorVue) -> None:
    """Rotation: the old and the new pin together; the connection is reused afterwards."""
    pins = (OTHER_PIN, server_pin(vectorvue).upper())
    transport = RequestsTransport(vectorvue.url, verify=vectorvue.ca_pem_path, pins=pins)
    first = transport.send(health(), TIMEOUTS)
    second = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(first, HttpResponse) and first.status == 200
    assert isinstance(second, HttpResponse) and second.status == 200
    peers = {r.peer for r in vectorvue.requests}
    assert len(peers) == 1  # one pinned connection, kept alive


def test_a_pin_alone_authenticates_a_server_the_ca_store_does_not_know(
    vectorvue: LocalVectorVue,
) -> None:
    """verify_tls off but a pin set: the pin is still enforced (a wrong pin still fails)."""
    good = RequestsTransport(vectorvue.url, verify=False, pins=(server_pin(vectorvue),))
    bad = RequestsTransport(vectorvue.url, verify=False, pins=(OTHER_PIN,))
    ok = good.send(health(), TIMEOUTS)
    refused = bad.send(health(), TIMEOUTS)
    good.close()
    bad.close()
    assert isinstance(ok, HttpResponse) and ok.status == 200
    assert isinstance(refused, TransportFailure)
    assert refused.kind is TransportErrorKind.PIN_MISMATCH


def test_the_client_never_retries_a_pin_mismatch(
    vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch, api_token: str
) -> None:
    """Through the production wiring: one attempt, a transport error of kind pin_mismatch,
    zero requests at the server."""
    from vectorvue_client import VectorVueClient, VectorVueConfig

    monkeypatch.setenv("VECTORVUE_API_KEY", api_token)
    config = VectorVueConfig(
        base_url=vectorvue.url, ca_bundle=vectorvue.ca_pem_path, pinned_cert_sha256=(OTHER_PIN,)
    )
    with (
        VectorVueClient.from_config(config) as client,
        pytest.raises(VectorVueTransportError) as caught,
    ):
        client.send_finding(
            {"title": "abc", "description": "d", "severity": "low", "first_seen": 0}
        )
    assert caught.value.kind is TransportErrorKind.PIN_MISMATCH
    assert caught.value.attempts == 1
    assert vectorvue.requests == []


def test_requests_go_through_the_configured_proxy_with_pins_intact(
    vectorvue: LocalVectorVue,
) -> None:
    """A CONNECT proxy tunnels TLS end to end: the server's certificate is still verified
    and pinned at the far end of the tunnel."""
    parts = urlsplit(vectorvue.url)
    with ConnectProxy() as proxy:
        pinned = RequestsTransport(
            vectorvue.url,
            verify=vectorvue.ca_pem_path,
            proxy=proxy.url,
            pins=(server_pin(vectorvue),),
        )
        wrong = RequestsTransport(
            vectorvue.url, verify=vectorvue.ca_pem_path, proxy=proxy.url, pins=(OTHER_PIN,)
        )
        ok = pinned.send(health(), TIMEOUTS)
        refused = wrong.send(health(), TIMEOUTS)
        pinned.close()
        wrong.close()
        targets = proxy.targets
    assert isinstance(ok, HttpResponse) and ok.status == 200
    assert isinstance(refused, TransportFailure)
    assert refused.kind is TransportErrorKind.PIN_MISMATCH
    assert targets == [f"{parts.hostname}:{parts.port}"] * 2
    assert len(vectorvue.requests) == 1


def test_proxy_variables_in_the_environment_are_ignored_unless_asked_for(
    vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY pointing at a dead port changes nothing for a transport without a proxy."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    transport = RequestsTransport(vectorvue.url, verify=vectorvue.ca_pem_path)
    result = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(result, HttpResponse) and result.status == 200


def test_the_configured_ca_wins_over_requests_ca_bundle(
    vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """REQUESTS_CA_BUNDLE names another CA: the configured one is still the one used (the
    request succeeds), and the other one cannot vouch for the server (it fails)."""
    other = trustme.CA()
    other_path = f"{vectorvue.ca_pem_path}.other.pem"
    other.cert_pem.write_to_path(other_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", other_path)
    trusted = RequestsTransport(vectorvue.url, verify=vectorvue.ca_pem_path)
    ok = trusted.send(health(), TIMEOUTS)
    trusted.close()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vectorvue.ca_pem_path)
    untrusted = RequestsTransport(vectorvue.url, verify=other_path)
    refused = untrusted.send(health(), TIMEOUTS)
    untrusted.close()
    assert isinstance(ok, HttpResponse) and ok.status == 200
    assert isinstance(refused, TransportFailure)
    assert refused.kind is TransportErrorKind.TLS


def test_the_user_agent_names_the_package_and_version(vectorvue: LocalVectorVue) -> None:
    """User-Agent: vectorvue-client/<version>, as the container configures it."""
    from vectorvue_client.version import USER_AGENT, __version__

    transport = RequestsTransport(
        vectorvue.url, verify=vectorvue.ca_pem_path, user_agent=USER_AGENT
    )
    transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)
    transport.close()
    (request,) = vectorvue.requests
    assert request.headers["user-agent"] == f"vectorvue-client/{__version__}"
    assert __version__ != "0.0.0+source"
