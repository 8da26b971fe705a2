"""Both HTTP transports, Urllib3Transport and RequestsTransport, against a real HTTPS
server on 127.0.0.1 (LocalVectorVue): every test runs once per backend.

Nothing is mocked: every outcome below comes from a real socket, a real TLS handshake or
a real HTTP exchange, and must come back as a value (never an exception).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests
import trustme

from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.domain.errors import TransportErrorKind
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
)
from vectorvue_client.testing.receiver import LocalVectorVue
from vectorvue_client.testing.receiver_faults import Framing

EVENTS = "/api/v1/integrations/spectrastrike/events"
TIMEOUTS = Timeouts(connect=2.0, read=2.0)

type AnyTransport = RequestsTransport | Urllib3Transport
type Backend = type[RequestsTransport] | type[Urllib3Transport]


def event_body(event_id: str) -> bytes:
    return msgspec.json.encode(
        {
            "event_id": event_id,
            "source_system": "spectrastrike",
            "event_type": "scan.completed",
            "occurred_at": "2026-11-25T00:00:00Z",
            "severity": "low",
            "asset_ref": "host-1",
            "message": "scan completed",
            "metadata": {},
        }
    )


def post_event(token: str, event_id: str = "evt-1") -> HttpRequest:
    headers = (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))
    return HttpRequest("POST", EVENTS, headers, event_body(event_id))


def failure(result: HttpResult) -> TransportFailure:
    assert isinstance(result, TransportFailure), f"expected a failure, got {result!r}"
    return result


def response(result: HttpResult) -> HttpResponse:
    assert isinstance(result, HttpResponse), f"expected a response, got {result!r}"
    return result


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def other_ca_pem(tmp_path: Path) -> str:
    """The PEM of a CA that signed nothing the receiver presents."""
    path = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(params=[RequestsTransport, Urllib3Transport], ids=["requests", "urllib3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn: every rule below must hold for both."""
    cls: Backend = request.param
    return cls


@pytest.fixture
def transport(vectorvue: LocalVectorVue, backend: Backend) -> Iterator[AnyTransport]:
    """A transport of `backend` that trusts the receiver's CA; closed after the test."""
    t = backend(vectorvue.url, verify=vectorvue.ca_pem_path)
    yield t
    t.close()


@pytest.fixture
def make_transport(backend: Backend) -> Iterator[Callable[..., AnyTransport]]:
    """Builds transports of `backend` and closes them all after the test."""
    made: list[AnyTransport] = []

    def make(base_url: str, **kwargs: Any) -> AnyTransport:
        t = backend(base_url, **kwargs)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


# -- answers -------------------------------------------------------------------------------
def test_a_valid_event_gets_202_and_the_envelope(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    result = response(transport.send(post_event(api_token, "evt-1"), TIMEOUTS))

    assert result.status == 202
    assert all(name == name.lower() for name in result.headers)
    assert result.header("Content-Type") == "application/json"
    envelope = msgspec.json.decode(result.body)
    assert envelope["status"] == "accepted"
    assert envelope["errors"] == []
    assert envelope["signature"] is None
    assert result.header("x-request-id") == envelope["request_id"]
    assert vectorvue.receipts("evt-1") == 1
    sent = vectorvue.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {api_token}"
    assert sent.headers["user-agent"] == "vectorvue-client"
    assert sent.body == event_body("evt-1")


def test_a_request_user_agent_is_kept(vectorvue: LocalVectorVue, transport: AnyTransport) -> None:
    request = HttpRequest("GET", "/healthz", (("User-Agent", "embedder/2.0"),))

    assert response(transport.send(request, TIMEOUTS)).status == 200
    assert vectorvue.requests[-1].headers["user-agent"] == "embedder/2.0"


def test_keep_alive_reuses_one_connection_across_sends(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    response(transport.send(post_event(api_token, "evt-1"), TIMEOUTS))
    response(transport.send(post_event(api_token, "evt-2"), TIMEOUTS))

    first, second = vectorvue.requests
    assert first.peer == second.peer  # same client port: the same TCP connection


def test_a_4xx_is_a_response_not_a_failure(transport: AnyTransport) -> None:
    result = response(transport.send(post_event("wrong-token-123"), TIMEOUTS))

    assert result.status == 401
    assert msgspec.json.decode(result.body) == {"detail": "Invalid token"}


# -- redirects and body size ----------------------------------------------------------------
def test_a_redirect_is_refused_and_names_the_location(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    vectorvue.redirect_next(1, "https://elsewhere.invalid/landing")

    result = failure(transport.send(post_event(api_token), TIMEOUTS))

    assert result.kind is TransportErrorKind.REDIRECT
    assert "307" in result.detail
    assert "https://elsewhere.invalid/landing" in result.detail
    assert len(vectorvue.requests) == 1  # not followed


def test_the_servers_trailing_slash_307_is_not_followed(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    request = post_event(api_token)
    slashed = HttpRequest(request.method, EVENTS + "/", request.headers, request.body)

    result = failure(transport.send(slashed, TIMEOUTS))

    assert result.kind is TransportErrorKind.REDIRECT
    assert f"{vectorvue.url}{EVENTS} " in result.detail
    assert len(vectorvue.requests) == 1
    assert vectorvue.receipts("evt-1") == 0


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_the_cap_is_refused_and_one_at_the_cap_is_not(
    vectorvue: LocalVectorVue,
    make_transport: Callable[..., AnyTransport],
    framing: Framing,
) -> None:
    cap = 100_000  # more than one 64 KiB read
    transport = make_transport(vectorvue.url, verify=vectorvue.ca_pem_path, max_response_bytes=cap)
    vectorvue.huge_body_next(1, cap + 1, framing=framing)
    vectorvue.huge_body_next(1, cap, framing=framing)

    too_large = failure(transport.send(HttpRequest("GET", "/anything"), TIMEOUTS))
    at_cap = response(transport.send(HttpRequest("GET", "/anything"), TIMEOUTS))
    after = response(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS))

    assert too_large.kind is TransportErrorKind.RESPONSE_TOO_LARGE
    assert str(cap) in too_large.detail
    assert len(at_cap.body) == cap
    assert after.status == 200  # the abandoned connection was not reused dirty


def test_a_body_is_read_up_to_the_cap_and_no_further(
    vectorvue: LocalVectorVue, make_transport: Callable[..., AnyTransport]
) -> None:
    # The body never ends: a transport that read to the end would wait for its read
    # timeout (TIMEOUT); one that stops after cap + 1 bytes answers at once.
    cap = 100_000
    transport = make_transport(vectorvue.url, verify=vectorvue.ca_pem_path, max_response_bytes=cap)
    vectorvue.huge_body_next(1, cap + 1, framing="endless")

    result = failure(transport.send(HttpRequest("GET", "/anything"), Timeouts(2.0, 5.0)))

    assert result.kind is TransportErrorKind.RESPONSE_TOO_LARGE
    assert response(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)).status == 200


# -- network failures ----------------------------------------------------------------------
def test_a_stall_past_the_read_timeout_is_timeout_and_the_server_still_processes_it(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    # A first send with other timeouts: each send's own timeouts apply, whatever came before.
    assert response(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)).status == 200
    vectorvue.stall_next(1, 0.3)

    result = failure(transport.send(post_event(api_token), Timeouts(connect=2.0, read=0.1)))

    assert result.kind is TransportErrorKind.TIMEOUT
    assert "0.1 s" in result.detail
    # Why a timeout must be retried with the same id: the server may have the event anyway.
    assert wait_for(lambda: vectorvue.receipts("evt-1") == 1)


def test_a_reset_is_connection_lost(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    vectorvue.reset_next(1)

    result = failure(transport.send(post_event(api_token), TIMEOUTS))

    assert result.kind is TransportErrorKind.CONNECTION_LOST
    assert response(transport.send(post_event(api_token), TIMEOUTS)).status == 202


def test_a_closed_port_is_connect(make_transport: Callable[..., AnyTransport]) -> None:
    transport = make_transport(f"https://127.0.0.1:{closed_port()}")

    result = failure(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS))

    assert result.kind is TransportErrorKind.CONNECT


def test_the_plain_text_500_then_closed_connection_does_not_break_the_next_send(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    # Repeated, because whether the client notices the close before reusing the
    # connection is a race between two threads.
    for n in range(20):
        vectorvue.fail_next_text(1)
        text = response(transport.send(post_event(api_token, f"evt-{n}"), TIMEOUTS))
        assert (text.status, text.body) == (500, b"Internal Server Error")

        result = transport.send(post_event(api_token, f"evt-{n}"), TIMEOUTS)
        if isinstance(result, TransportFailure):  # the dead pooled connection was reused
            assert result.kind is TransportErrorKind.CONNECTION_LOST
            result = transport.send(post_event(api_token, f"evt-{n}"), TIMEOUTS)
        assert response(result).status == 202
        assert vectorvue.receipts(f"evt-{n}") == 1


def test_a_request_on_a_pooled_connection_the_server_closed_is_connection_lost(
    vectorvue: LocalVectorVue, transport: AnyTransport, api_token: str
) -> None:
    vectorvue.fail_next_text(1, late_close=True)
    assert response(transport.send(post_event(api_token), TIMEOUTS)).status == 500

    lost = failure(transport.send(post_event(api_token), TIMEOUTS))
    retried = response(transport.send(post_event(api_token), TIMEOUTS))

    assert lost.kind is TransportErrorKind.CONNECTION_LOST
    assert retried.status == 202
    assert vectorvue.receipts("evt-1") == 1  # the lost request never reached the server
    first, second = vectorvue.requests
    assert first.peer != second.peer  # the retry went out on a fresh connection


# -- TLS -----------------------------------------------------------------------------------
def test_a_server_signed_by_an_untrusted_ca_is_tls(
    vectorvue: LocalVectorVue, make_transport: Callable[..., AnyTransport], other_ca_pem: str
) -> None:
    for verify in (other_ca_pem, True):
        transport = make_transport(vectorvue.url, verify=verify)

        result = failure(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS))

        assert result.kind is TransportErrorKind.TLS
        assert "certificate verify failed" in result.detail
    assert vectorvue.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_certificate_for_another_name_is_tls(
    api_token: str, make_transport: Callable[..., AnyTransport], host: str
) -> None:
    with LocalVectorVue(api_token=api_token, server_names=("example.invalid",)) as vv:
        url = vv.url.replace("127.0.0.1", host)
        transport = make_transport(url, verify=vv.ca_pem_path)

        result = failure(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS))

        assert vv.requests == []
    assert result.kind is TransportErrorKind.TLS
    assert "mismatch" in result.detail


def test_requests_ca_bundle_in_the_environment_is_ignored(
    vectorvue: LocalVectorVue,
    make_transport: Callable[..., AnyTransport],
    other_ca_pem: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", vectorvue.ca_pem_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", vectorvue.ca_pem_path)
    monkeypatch.setenv("SSL_CERT_FILE", vectorvue.ca_pem_path)
    health = vectorvue.url + "/healthz"

    # The premise: a default requests session would trust the server through the variable,
    # with verify=True and even with a session-level CA (requests issue 3829).
    with requests.Session() as plain:
        assert plain.get(health, verify=True, timeout=2).status_code == 200
        plain.verify = other_ca_pem
        assert plain.get(health, timeout=2).status_code == 200
    # ... and OpenSSL's default trust store (load_default_certs) through SSL_CERT_FILE.
    host, port = vectorvue.url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=2) as sock,
        ssl.create_default_context().wrap_socket(sock, server_hostname=host),
    ):
        pass

    for verify in (other_ca_pem, True):
        transport = make_transport(vectorvue.url, verify=verify)
        result = failure(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS))
        assert result.kind is TransportErrorKind.TLS


def test_proxy_variables_in_the_environment_are_ignored(
    vectorvue: LocalVectorVue, transport: AnyTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert response(transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)).status == 200


# -- lifecycle and guards ------------------------------------------------------------------
def test_send_after_close_raises(transport: AnyTransport) -> None:
    transport.close()

    with pytest.raises(RuntimeError, match="the transport is closed"):
        transport.send(HttpRequest("GET", "/healthz"), TIMEOUTS)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:1", "127.0.0.1:443", "https://"])
def test_a_base_url_that_is_not_https_is_refused(backend: Backend, base_url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        backend(base_url)


@pytest.mark.parametrize(
    "base_url", ["https://user:pw@127.0.0.1:443", "https://token@127.0.0.1", "https://:pw@h"]
)
def test_a_base_url_with_credentials_is_refused_by_both(backend: Backend, base_url: str) -> None:
    """requests would turn userinfo into a Basic header sent with every request."""
    with pytest.raises(ValueError, match="must not carry credentials"):
        backend(base_url)


@pytest.mark.parametrize("cap", [-1, -(1 << 20)])
def test_a_negative_response_cap_is_refused(backend: Backend, cap: int) -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        backend("https://127.0.0.1:443", max_response_bytes=cap)


def test_a_path_without_a_leading_slash_is_refused(transport: AnyTransport) -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        transport.send(HttpRequest("GET", "@elsewhere.invalid/x"), TIMEOUTS)


# -- secrets -------------------------------------------------------------------------------
TOKEN = "tok-9d1c0b7e4a2f"
BEARER = (("Authorization", f"Bearer {TOKEN}"),)


def _connect(vv: LocalVectorVue, make: Callable[..., AnyTransport], _: str) -> HttpResult:
    return make(f"https://127.0.0.1:{closed_port()}").send(
        HttpRequest("GET", "/x", BEARER), TIMEOUTS
    )


def _tls(vv: LocalVectorVue, make: Callable[..., AnyTransport], other: str) -> HttpResult:
    return make(vv.url, verify=other).send(HttpRequest("GET", "/x", BEARER), TIMEOUTS)


def _timeout(vv: LocalVectorVue, make: Callable[..., AnyTransport], _: str) -> HttpResult:
    vv.stall_next(1, 0.5)
    return make(vv.url, verify=vv.ca_pem_path).send(
        HttpRequest("GET", "/x", BEARER), Timeouts(2.0, 0.1)
    )


def _reset(vv: LocalVectorVue, make: Callable[..., AnyTransport], _: str) -> HttpResult:
    vv.reset_next(1)
    return make(vv.url, verify=vv.ca_pem_path).send(HttpRequest("GET", "/x", BEARER), TIMEOUTS)


def _redirect(vv: LocalVectorVue, make: Callable[..., AnyTransport], _: str) -> HttpResult:
    vv.redirect_next(1, f"https://elsewhere.invalid/?access_token={TOKEN}&t={TOKEN}")
    return make(vv.url, verify=vv.ca_pem_path).send(HttpRequest("GET", "/x", BEARER), TIMEOUTS)


def _bad_header(vv: LocalVectorVue, make: Callable[..., AnyTransport], _: str) -> HttpResult:
    # requests quotes an invalid header value in its exception message.
    request = HttpRequest("GET", "/x", (("Authorization", f"Bearer {TOKEN}\n"),))
    return make(vv.url, verify=vv.ca_pem_path).send(request, TIMEOUTS)


@pytest.mark.parametrize(
    ("provoke", "kind"),
    [
        pytest.param(_connect, TransportErrorKind.CONNECT, id="connect"),
        pytest.param(_tls, TransportErrorKind.TLS, id="tls"),
        pytest.param(_timeout, TransportErrorKind.TIMEOUT, id="timeout"),
        pytest.param(_reset, TransportErrorKind.CONNECTION_LOST, id="reset"),
        pytest.param(_redirect, TransportErrorKind.REDIRECT, id="redirect"),
        pytest.param(_bad_header, TransportErrorKind.PROTOCOL, id="bad-header"),
    ],
)
def test_a_failure_detail_never_contains_the_bearer_token(
    vectorvue: LocalVectorVue,
    make_transport: Callable[..., AnyTransport],
    other_ca_pem: str,
    provoke: Callable[[LocalVectorVue, Callable[..., AnyTransport], str], HttpResult],
    kind: TransportErrorKind,
) -> None:
    result = failure(provoke(vectorvue, make_transport, other_ca_pem))

    assert result.kind is kind
    assert TOKEN not in result.detail
    assert TOKEN[:8] not in result.detail
