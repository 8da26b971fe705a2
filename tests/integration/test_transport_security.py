"""Security properties of both transports (urllib3 and requests; every test runs once per
backend) over real TLS on 127.0.0.1: pinning inside the handshake, proxies only when
configured, the configured CA over the environment's, no TLS secret written anywhere."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import msgspec
import pytest
import trustme

from vectorvue_client import (
    TransportErrorKind,
    VectorVueConfig,
    VectorVueTransportError,
)
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.config import HttpBackend
from vectorvue_client.container import build_client
from vectorvue_client.domain.http import HttpRequest, HttpResponse, Timeouts, TransportFailure
from vectorvue_client.testing.receiver import LocalVectorVue

from .proxy import ConnectProxy

TIMEOUTS = Timeouts(connect=3.0, read=3.0)
OTHER_PIN = "0" * 64

type Backend = type[RequestsTransport] | type[Urllib3Transport]


@pytest.fixture(params=[RequestsTransport, Urllib3Transport], ids=["requests", "urllib3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn: every property below must hold for both."""
    cls: Backend = request.param
    return cls


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
    backend: Backend,
) -> None:
    """A certificate that is valid (our CA) but not pinned: PIN_MISMATCH, and the server
    never receives a request line, so it never sees the bearer token either."""
    transport = backend(vectorvue.url, verify=vectorvue.ca_pem_path, pins=(OTHER_PIN,))
    result = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.PIN_MISMATCH
    assert server_pin(vectorvue) in result.detail  # tells the operator what the server has
    assert "pin-test-token-123" not in result.detail
    assert vectorvue.requests == []


def test_a_matching_pin_among_several_lets_the_request_through(
    vectorvue: LocalVectorVue, backend: Backend
) -> None:
    """Rotation: the old and the new pin together; the connection is reused afterwards."""
    pins = (OTHER_PIN, server_pin(vectorvue).upper())
    transport = backend(vectorvue.url, verify=vectorvue.ca_pem_path, pins=pins)
    first = transport.send(health(), TIMEOUTS)
    second = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(first, HttpResponse) and first.status == 200
    assert isinstance(second, HttpResponse) and second.status == 200
    peers = {r.peer for r in vectorvue.requests}
    assert len(peers) == 1  # one pinned connection, kept alive


def test_a_pin_alone_authenticates_a_server_the_ca_store_does_not_know(
    vectorvue: LocalVectorVue,
    backend: Backend,
) -> None:
    """verify_tls off but a pin set: the pin is still enforced (a wrong pin still fails)."""
    good = backend(vectorvue.url, verify=False, pins=(server_pin(vectorvue),))
    bad = backend(vectorvue.url, verify=False, pins=(OTHER_PIN,))
    ok = good.send(health(), TIMEOUTS)
    refused = bad.send(health(), TIMEOUTS)
    good.close()
    bad.close()
    assert isinstance(ok, HttpResponse) and ok.status == 200
    assert isinstance(refused, TransportFailure)
    assert refused.kind is TransportErrorKind.PIN_MISMATCH


@pytest.mark.parametrize("http_backend", ["urllib3", "requests"])
def test_the_client_never_retries_a_pin_mismatch(
    vectorvue: LocalVectorVue,
    monkeypatch: pytest.MonkeyPatch,
    api_token: str,
    http_backend: HttpBackend,
) -> None:
    """Through the production wiring, with either backend: one attempt, a transport error
    of kind pin_mismatch, zero requests at the server."""
    monkeypatch.setenv("VECTORVUE_API_KEY", api_token)
    config = VectorVueConfig(
        base_url=vectorvue.url,
        ca_bundle=vectorvue.ca_pem_path,
        pinned_cert_sha256=(OTHER_PIN,),
        http_backend=http_backend,
    )
    with (
        build_client(config) as client,
        pytest.raises(VectorVueTransportError) as caught,
    ):
        client.send_finding(
            {"title": "abc", "description": "d", "severity": "low", "first_seen": 0}
        )
    assert caught.value.kind is TransportErrorKind.PIN_MISMATCH
    assert caught.value.attempts == 1
    assert vectorvue.requests == []


@pytest.mark.parametrize(
    ("http_backend", "expected"),
    [(None, Urllib3Transport), ("urllib3", Urllib3Transport), ("requests", RequestsTransport)],
    ids=["default", "urllib3", "requests"],
)
def test_http_backend_picks_the_transport(
    vectorvue: LocalVectorVue, http_backend: HttpBackend | None, expected: Backend
) -> None:
    """urllib3 unless http_backend says requests: the tests above prove both by the same
    rules, this that the setting reaches the wiring."""
    from vectorvue_client.container import Container

    config = VectorVueConfig(base_url=vectorvue.url, ca_bundle=vectorvue.ca_pem_path)
    if http_backend is not None:
        config = msgspec.structs.replace(config, http_backend=http_backend)
    transport = Container(config=config).transport()
    assert type(transport) is expected
    transport.close()


def test_requests_go_through_the_configured_proxy_with_pins_intact(
    vectorvue: LocalVectorVue,
    backend: Backend,
) -> None:
    """A CONNECT proxy tunnels TLS end to end: the server's certificate is still verified
    and pinned at the far end of the tunnel."""
    parts = urlsplit(vectorvue.url)
    with ConnectProxy() as proxy:
        pinned = backend(
            vectorvue.url,
            verify=vectorvue.ca_pem_path,
            proxy=proxy.url,
            pins=(server_pin(vectorvue),),
        )
        wrong = backend(
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
    vectorvue: LocalVectorVue, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY pointing at a dead port changes nothing for a transport without a proxy."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    transport = backend(vectorvue.url, verify=vectorvue.ca_pem_path)
    result = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(result, HttpResponse) and result.status == 200


def test_the_configured_ca_wins_over_requests_ca_bundle(
    vectorvue: LocalVectorVue, backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """REQUESTS_CA_BUNDLE names another CA: the configured one is still the one used (the
    request succeeds), and the other one cannot vouch for the server (it fails)."""
    other = trustme.CA()
    other_path = f"{vectorvue.ca_pem_path}.other.pem"
    other.cert_pem.write_to_path(other_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", other_path)
    trusted = backend(vectorvue.url, verify=vectorvue.ca_pem_path)
    ok = trusted.send(health(), TIMEOUTS)
    trusted.close()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vectorvue.ca_pem_path)
    untrusted = backend(vectorvue.url, verify=other_path)
    refused = untrusted.send(health(), TIMEOUTS)
    untrusted.close()
    assert isinstance(ok, HttpResponse) and ok.status == 200
    assert isinstance(refused, TransportFailure)
    assert refused.kind is TransportErrorKind.TLS


def test_the_user_agent_names_the_package_and_version(
    vectorvue: LocalVectorVue, backend: Backend
) -> None:
    """User-Agent: vectorvue-client/<version>, as the container configures it."""
    from vectorvue_client.version import USER_AGENT, __version__

    transport = backend(vectorvue.url, verify=vectorvue.ca_pem_path, user_agent=USER_AGENT)
    transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)
    transport.close()
    (request,) = vectorvue.requests
    assert request.headers["user-agent"] == f"vectorvue-client/{__version__}"
    assert __version__ != "0.0.0+source"


def test_no_tls_session_key_is_logged_where_sslkeylogfile_says(
    vectorvue: LocalVectorVue, backend: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SSLKEYLOGFILE would make OpenSSL write every session's keys to a file (anyone who
    reads it can decrypt the captured traffic, bearer token included). Configuration comes
    from config.py alone: the variable is ignored."""
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    transport = backend(vectorvue.url, verify=vectorvue.ca_pem_path)
    result = transport.send(health(), TIMEOUTS)
    transport.close()
    assert isinstance(result, HttpResponse) and result.status == 200
    assert not keylog.exists()


def test_the_tls_context_has_urllib3s_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Both transports build their context themselves (so that no environment variable
    reaches it): its settings must stay those of urllib3's create_urllib3_context, upgrades
    included."""
    from urllib3.util.ssl_ import create_urllib3_context

    keylog = str(tmp_path / "keys.log")
    monkeypatch.setenv("SSLKEYLOGFILE", keylog)
    from vectorvue_client.adapters.transport_sockets import tls_context

    cases: list[tuple[str | None, ssl.VerifyMode]] = [
        (certifi.where(), ssl.CERT_REQUIRED),
        (None, ssl.CERT_NONE),
    ]
    for ca, cert_reqs in cases:
        ours, theirs = tls_context(ca, None), create_urllib3_context(cert_reqs=cert_reqs)
        for setting in (
            "options",
            "minimum_version",
            "maximum_version",
            "verify_flags",
            "verify_mode",
            "check_hostname",
            "hostname_checks_common_name",
            "post_handshake_auth",
            "protocol",
        ):
            assert getattr(ours, setting) == getattr(theirs, setting), setting
        assert ours.get_ciphers() == theirs.get_ciphers()
        assert theirs.keylog_filename == keylog  # the premise
        assert not ours.keylog_filename
        # Trust anchors: certifi's alone, or none at all (never the OS default store).
        assert (ours.get_ca_certs() == []) is (ca is None)
