"""LoginCredentialSource against LocalVectorVue over real HTTPS with RequestsTransport; its
clock (a FakeClock) is also the receiver's, so JWT lifetimes are exact. Then, with a
scripted FakeTransport, the answers LocalVectorVue does not give (other statuses,
malformed answers, tokens without exp, a clock ahead of the server's)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from vectorvue_client.adapters.credentials_login import LOGIN_PATH, LoginCredentialSource
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.domain.errors import (
    TransportErrorKind,
    VectorVueConfigError,
    VectorVueTransportError,
)
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts, TransportFailure
from vectorvue_client.domain.jwt import jwt_claims
from vectorvue_client.ports import Transport
from vectorvue_client.testing import FakeClock, FakeCredentialSource, FakeTransport, json_response
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue
from vectorvue_client.testing.receiver_auth import encode_jwt

TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
PASSWORD = "pw-Tr0ub4dor-and-3"
USERS = {"alice": (PASSWORD, TENANT, "operator")}
TTL = 3600
MARGIN = 60.0
# A step a float holds exactly at the fake epoch (a power of two above its spacing there),
# so that "just before" and "exactly at" a refresh time are what the clock reads.
EPS = 2.0**-10
FIELD = "vectorvue_login"
EVENTS = "/api/v1/integrations/spectrastrike/events"
OPAQUE = "opaque-token-0123"  # a bearer token that is not a JWT

type Make = Callable[..., LoginCredentialSource]


@pytest.fixture
def clock() -> FakeClock:
    """The time of the source and of the receiver alike."""
    return FakeClock()


@pytest.fixture
def start(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock
) -> LocalVectorVueFactory:
    """Starts a LocalVectorVue knowing alice, on `clock`; options override."""

    def started(**options: Any) -> LocalVectorVue:
        defaults: dict[str, Any] = {"users": USERS, "jwt_ttl_seconds": TTL, "now": clock.time}
        return local_vectorvue_factory(**(defaults | options))

    return started


@pytest.fixture
def closing() -> Iterator[list[Transport]]:
    """Transports made by a test, closed after it."""
    made: list[Transport] = []
    yield made
    for transport in made:
        transport.close()


@pytest.fixture
def make(clock: FakeClock, closing: list[Transport]) -> Make:
    """A source logging in as alice through a RequestsTransport to `vv` (or `transport`)."""

    def build(
        vv: LocalVectorVue | None = None,
        *,
        transport: Transport | None = None,
        password: FakeCredentialSource | None = None,
        **options: Any,
    ) -> LoginCredentialSource:
        if transport is None:
            assert vv is not None
            transport = RequestsTransport(vv.url, verify=vv.ca_pem_path)
            closing.append(transport)
        return LoginCredentialSource(
            transport,
            username=options.pop("username", "alice"),
            password=password or FakeCredentialSource(PASSWORD),
            tenant_id=options.pop("tenant_id", TENANT),
            clock=clock,
            refresh_margin_seconds=MARGIN,
            field=FIELD,
            **options,
        )

    return build


def shows(error: BaseException, *secrets: str) -> bool:
    """Whether any of `secrets` appears in the error's str, repr or args."""
    texts = (str(error), repr(error), *(str(a) for a in error.args))
    return any(secret in text for secret in secrets for text in texts)


# -- against LocalVectorVue -------------------------------------------------------------------
def test_one_login_serves_every_get_while_the_token_is_fresh(
    start: LocalVectorVueFactory, make: Make
) -> None:
    """Five gets, one login; the token is alice's JWT, living TTL seconds."""
    vv = start()
    source = make(vv)
    tokens = {source.get().reveal() for _ in range(5)}
    assert vv.logins == 1 and len(tokens) == 1
    claims = jwt_claims(tokens.pop())
    assert (claims["sub"], claims["tenant_id"]) == ("alice", TENANT)
    assert claims["exp"] - claims["iat"] == TTL


def test_the_login_request_is_the_contracts(start: LocalVectorVueFactory, make: Make) -> None:
    """POST, JSON in and out, exactly username, password and tenant_id; no bearer."""
    vv = start()
    make(vv).get()
    (login,) = vv.requests
    assert (login.method, login.path) == ("POST", LOGIN_PATH)
    assert login.headers["content-type"] == "application/json"
    assert login.headers["accept"] == "application/json"
    assert "authorization" not in login.headers
    body = msgspec.json.decode(login.body)
    assert body == {"username": "alice", "password": PASSWORD, "tenant_id": TENANT}


def test_the_token_works_as_a_bearer_on_the_ingest_api(
    start: LocalVectorVueFactory, make: Make
) -> None:
    """An event POSTed with `Authorization: Bearer <token>` is accepted (202)."""
    vv = start()
    transport = RequestsTransport(vv.url, verify=vv.ca_pem_path)
    try:
        token = make(transport=transport).get()
        event = {
            "event_id": "evt-login-1",
            "source_system": "spectrastrike",
            "event_type": "scan.completed",
            "occurred_at": "2026-11-25T00:00:00Z",
            "severity": "low",
            "asset_ref": "host-1",
            "message": "scan completed",
            "metadata": {},
        }
        headers = (
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {token.reveal()}"),
        )
        request = HttpRequest("POST", EVENTS, headers, msgspec.json.encode(event))
        answer = transport.send(request, Timeouts(5, 5))
    finally:
        transport.close()
    assert not isinstance(answer, TransportFailure) and answer.status == 202
    assert vv.receipts("evt-login-1") == 1


def test_it_logs_in_again_the_margin_before_exp(
    start: LocalVectorVueFactory, make: Make, clock: FakeClock
) -> None:
    """Kept until exp - margin (exclusive), then one new login and a new token."""
    vv = start()
    source = make(vv)
    first = source.get()
    clock.advance(TTL - MARGIN - EPS)
    assert source.get() == first and vv.logins == 1
    clock.advance(EPS)
    second = source.get()
    assert vv.logins == 2 and second != first
    assert jwt_claims(second.reveal())["exp"] == jwt_claims(first.reveal())["exp"] + TTL - MARGIN


@pytest.mark.parametrize("advertised", [10, 43200], ids=["too-short", "too-long"])
def test_it_follows_exp_not_a_wrong_expires_in(
    start: LocalVectorVueFactory, make: Make, clock: FakeClock, advertised: int
) -> None:
    """The JWT lives 600 s while the answer says 10 s, or 12 h: exp decides."""
    vv = start(jwt_ttl_seconds=600, advertised_expires_in=advertised)
    source = make(vv)
    source.get()
    for step in (11.0, 100.0, 600 - MARGIN - 111 - EPS):
        clock.advance(step)
        source.get()
    assert vv.logins == 1
    clock.advance(EPS)
    source.get()
    assert vv.logins == 2


@pytest.mark.parametrize(
    ("username", "password", "tenant"),
    [
        ("alice", "wrong-password-1", TENANT),
        ("alice", PASSWORD, "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20"),
        ("mallory", PASSWORD, TENANT),
    ],
    ids=["password", "tenant", "user"],
)
def test_a_refused_login_is_a_config_error_naming_the_field(
    start: LocalVectorVueFactory, make: Make, username: str, password: str, tenant: str
) -> None:
    """401: VectorVueConfigError on FIELD telling what to check, quoting no password;
    the password source is invalidated, and the next get tries once more (no loop, no
    failure kept)."""
    vv = start()
    secret = FakeCredentialSource(password)
    source = make(vv, password=secret, username=username, tenant_id=tenant)
    for attempt in (1, 2):
        with pytest.raises(VectorVueConfigError) as caught:
            source.get()
        assert vv.logins == attempt and secret.invalidations == attempt
    assert caught.value.field == FIELD
    assert "HTTP 401" in caught.value.rule and "password" in caught.value.rule
    assert not shows(caught.value, password, PASSWORD)


def test_invalidate_costs_exactly_one_more_login(start: LocalVectorVueFactory, make: Make) -> None:
    """After invalidate the next get logs in, the gets after it do not."""
    vv = start()
    password = FakeCredentialSource(PASSWORD)
    source = make(vv, password=password)
    source.get()
    source.invalidate()
    assert vv.logins == 1  # invalidate itself sends nothing
    for _ in range(3):
        source.get()
    assert vv.logins == 2 and password.invalidations == 1


def test_a_closed_port_is_a_connect_error(make: Make, closing: list[Transport]) -> None:
    """Nothing listens: VectorVueTransportError of kind CONNECT, quoting no password."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = RequestsTransport(f"https://127.0.0.1:{port}")
    closing.append(transport)
    with pytest.raises(VectorVueTransportError) as caught:
        make(transport=transport, timeout_seconds=2.0).get()
    assert caught.value.kind is TransportErrorKind.CONNECT
    assert not shows(caught.value, PASSWORD)


def test_many_threads_on_an_expired_token_make_one_login(
    start: LocalVectorVueFactory, make: Make, clock: FakeClock
) -> None:
    """16 threads find the token due at once: one login, and all get its token."""
    vv = start()
    source = make(vv)
    source.get()
    clock.advance(TTL)
    barrier = threading.Barrier(16)
    seen: list[str] = []

    def work() -> None:
        barrier.wait()
        seen.append(source.get().reveal())

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert vv.logins == 2 and len(seen) == 16 and len(set(seen)) == 1


# -- scripted answers -------------------------------------------------------------------------
def answer(token: str = OPAQUE, **fields: Any) -> HttpResult:
    """A 200 login answer; fields override (None removes one)."""
    document: dict[str, Any] = {"access_token": token, "token_type": "bearer", "expires_in": 300}
    document |= fields
    return json_response(
        200, msgspec.json.encode({k: v for k, v in document.items() if v is not None})
    )


def scripted(
    make: Make, *results: HttpResult, **options: Any
) -> tuple[LoginCredentialSource, FakeTransport]:
    transport = FakeTransport(results)
    return make(transport=transport, **options), transport


def test_the_timeouts_are_timeout_seconds(make: Make) -> None:
    """Connect and read timeouts both come from timeout_seconds."""
    source, transport = scripted(make, answer(), timeout_seconds=7.5)
    source.get()
    assert transport.sent[0].timeouts == Timeouts(connect=7.5, read=7.5)


@pytest.mark.parametrize("status", [401, 403, 400, 404, 405, 422])
def test_refusals_are_config_errors_quoting_nothing_of_the_server(make: Make, status: int) -> None:
    """The server's text (which may echo the password) is never quoted."""
    echo = json_response(status, msgspec.json.encode({"detail": f"bad password {PASSWORD}"}))
    source, _ = scripted(make, echo)
    with pytest.raises(VectorVueConfigError) as caught:
        source.get()
    assert caught.value.field == FIELD and f"HTTP {status}" in caught.value.rule
    assert not shows(caught.value, PASSWORD, "bad password")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 201, 204])
def test_other_statuses_are_protocol_errors(make: Make, status: int) -> None:
    """Anything but 200 and the refusals: PROTOCOL naming the status, not the body."""
    source, _ = scripted(make, json_response(status, f'{{"detail": "{PASSWORD}"}}'))
    with pytest.raises(VectorVueTransportError) as caught:
        source.get()
    assert caught.value.kind is TransportErrorKind.PROTOCOL
    assert f"HTTP {status}" in caught.value.detail and not shows(caught.value, PASSWORD)


@pytest.mark.parametrize(
    "kind", [TransportErrorKind.REDIRECT, TransportErrorKind.TLS, TransportErrorKind.TIMEOUT]
)
def test_a_transport_failure_keeps_its_kind(make: Make, kind: TransportErrorKind) -> None:
    """A redirect (never followed: it would carry the password), TLS, a timeout."""
    source, _ = scripted(make, TransportFailure(kind, f"it failed near {PASSWORD}"))
    with pytest.raises(VectorVueTransportError) as caught:
        source.get()
    assert caught.value.kind is kind and not shows(caught.value, PASSWORD)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>login</html>",
        b'["opaque-token-0123"]',
        msgspec.json.encode({"token_type": "bearer"}),
        msgspec.json.encode({"access_token": "", "token_type": "bearer"}),
        msgspec.json.encode({"access_token": 12345678, "token_type": "bearer"}),
        msgspec.json.encode({"access_token": "opaque-token-0123", "token_type": "mac"}),
        msgspec.json.encode({"access_token": "opaque-token-0123"}),
        msgspec.json.encode({"access_token": "opaque token-0123", "token_type": "bearer"}),
        msgspec.json.encode(
            {"access_token": "opaque-token-0123\r\nX-Evil: 1", "token_type": "bearer"}
        ),
    ],
    ids=["not-json", "array", "no-token", "empty", "number", "mac", "no-type", "space", "crlf"],
)
def test_a_malformed_answer_is_a_protocol_error_quoting_nothing(make: Make, body: bytes) -> None:
    """A 200 that is not a bearer token answer; nothing of it is quoted (it holds tokens)."""
    source, _ = scripted(make, json_response(200, body))
    with pytest.raises(VectorVueTransportError) as caught:
        source.get()
    assert caught.value.kind is TransportErrorKind.PROTOCOL
    assert not shows(caught.value, "opaque", "html", "12345678")


def test_token_type_is_case_insensitive(make: Make) -> None:
    """The token_type "Bearer" or "BEARER" is "bearer"."""
    source, _ = scripted(make, answer(token_type="Bearer"), answer(token_type="BEARER"))
    source.get()
    source.invalidate()
    assert source.get().reveal() == "opaque-token-0123"


@pytest.mark.parametrize("token", ["opaque-token-0123", encode_jwt({"sub": "alice"}, b"k" * 32)])
def test_without_exp_expires_in_counts_from_the_login(
    make: Make, clock: FakeClock, token: str
) -> None:
    """An opaque token, or a JWT without exp: refreshed at login + expires_in - margin."""
    source, transport = scripted(make, answer(token, expires_in=300), answer(token, expires_in=300))
    source.get()
    clock.advance(300 - MARGIN - EPS)
    source.get()
    assert len(transport.sent) == 1
    clock.advance(EPS)
    source.get()
    assert len(transport.sent) == 2


@pytest.mark.parametrize("expires_in", [None, "soon", True, 0, -5, 10**400])
def test_without_exp_nor_a_usable_expires_in_the_token_is_kept_until_invalidated(
    make: Make, clock: FakeClock, expires_in: object
) -> None:
    """Nothing tells when it expires: VectorVue's 401 will, and invalidate follows it."""
    source, transport = scripted(make, answer(expires_in=expires_in), answer())
    source.get()
    clock.advance(10 * 365 * 86400)
    source.get()
    assert len(transport.sent) == 1
    source.invalidate()
    source.get()
    assert len(transport.sent) == 2


def test_a_token_living_less_than_the_margin_is_used_to_its_exp(
    make: Make, clock: FakeClock
) -> None:
    """exp 30 s away with a 60 s margin: kept until exp, not a login at every get."""
    now = int(clock.time())
    short = encode_jwt({"sub": "alice", "exp": now + 30}, b"k" * 32)
    source, transport = scripted(make, answer(short), answer())
    source.get()
    clock.advance(30 - EPS)
    source.get()
    assert len(transport.sent) == 1
    clock.advance(EPS)
    source.get()
    assert len(transport.sent) == 2


def test_a_clock_ahead_of_the_servers_keeps_the_token_and_says_so(
    make: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A token expired by our clock when issued: kept until invalidated (no login per get),
    and a warning names the setting, not the token."""
    token = encode_jwt({"sub": "alice", "exp": int(clock.time()) - 100}, b"k" * 32)
    source, transport = scripted(make, answer(token))
    with caplog.at_level(logging.WARNING, logger="vectorvue_client.credentials"):
        source.get()
        source.get()
    assert len(transport.sent) == 1
    (record,) = caplog.records
    assert FIELD in record.getMessage() and token not in record.getMessage()


def test_an_unavailable_password_is_a_config_error_and_nothing_is_sent(make: Make) -> None:
    """The password source's own reason is quoted (it is secret-free by contract)."""
    source, transport = scripted(make, password=FakeCredentialSource(None, field="password_env"))
    with pytest.raises(VectorVueConfigError, match="password_env") as caught:
        source.get()
    assert caught.value.field == FIELD and transport.sent == []


def test_the_token_shows_nowhere(make: Make) -> None:
    """Neither the source's repr nor the Secret's."""
    source, _ = scripted(make, answer("opaque-token-0123"))
    secret = source.get()
    assert "opaque" not in repr(source) + repr(secret) + str(secret)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"username": " "}, VectorVueConfigError),
        ({"tenant_id": ""}, VectorVueConfigError),
        ({"refresh_margin_seconds": -1.0}, ValueError),
        ({"refresh_margin_seconds": float("nan")}, ValueError),
        ({"timeout_seconds": 0.0}, ValueError),
        ({"timeout_seconds": float("inf")}, ValueError),
    ],
)
def test_settings_are_checked_at_construction(
    clock: FakeClock, options: dict[str, Any], error: type[Exception]
) -> None:
    """Blank names are the operator's (config errors); bad numbers are the wiring's."""
    settings: dict[str, Any] = {"username": "alice", "tenant_id": TENANT} | options
    with pytest.raises(error):
        LoginCredentialSource(
            FakeTransport(), password=FakeCredentialSource(PASSWORD), clock=clock, **settings
        )
