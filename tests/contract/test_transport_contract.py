"""One suite, three Transports: FakeTransport, Urllib3Transport and RequestsTransport (both
against LocalVectorVue) must turn the same server answer into the same value, so the fake
cannot drift from the adapters that the client really uses, nor one backend from the
other. The last tests prove that both backends put the same request on the wire."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

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
from vectorvue_client.ports import Transport
from vectorvue_client.testing.fakes import FakeTransport
from vectorvue_client.testing.receiver import LocalVectorVue

CAP = 4096
TOKEN = "contract-token-5e8b2d"
EVENTS = "/api/v1/integrations/spectrastrike/events"
TIMEOUTS = Timeouts(connect=2.0, read=2.0)
NOT_FOUND = HttpResponse(404, {"content-type": "application/json"}, b'{"detail":"Not Found"}')

type Script = Callable[[HttpResponse], None]


def emulated_server(request: HttpRequest) -> HttpResult:
    """What LocalVectorVue answers to the unscripted requests of this suite."""
    return NOT_FOUND


@pytest.fixture(params=["fake", "requests", "urllib3"])
def harness(request: pytest.FixtureRequest) -> Iterator[tuple[Transport, Script]]:
    """(transport, script): `script(answer)` makes the server's next answer be `answer`."""
    if request.param == "fake":
        fake = FakeTransport(handler=emulated_server, max_response_bytes=CAP)
        yield fake, fake.push
        return
    with LocalVectorVue(api_token=TOKEN) as vv:

        def script(answer: HttpResponse) -> None:
            vv.fail_next(1, answer.status, answer.body, dict(answer.headers), content_type=None)

        backend = RequestsTransport if request.param == "requests" else Urllib3Transport
        transport = backend(vv.url, verify=vv.ca_pem_path, max_response_bytes=CAP)
        yield transport, script
        transport.close()


def post(path: str = EVENTS) -> HttpRequest:
    headers = (("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"))
    return HttpRequest("POST", path, headers, b'{"event_id":"evt-1"}')


def test_a_202_json_answer_comes_back_exactly(harness: tuple[Transport, Script]) -> None:
    transport, script = harness
    body = msgspec.json.encode(
        {
            "request_id": "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20",
            "status": "accepted",
            "data": {"event_id": "evt-1"},
            "errors": [],
            "signature": None,
        }
    )
    headers = {
        "Content-Type": "application/json",
        "X-Request-ID": "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20",
        "X-Idempotent-Replay": "true",
    }
    script(HttpResponse(202, headers, body))

    result = transport.send(post(), TIMEOUTS)

    assert isinstance(result, HttpResponse)
    assert result.status == 202
    assert result.body == body
    assert all(name == name.lower() for name in result.headers)
    for name, value in headers.items():
        assert result.headers[name.lower()] == value
        assert result.header(name) == value


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"detail":"Invalid token"}'),
        (
            409,
            b'{"request_id":"r","status":"failed","data":null,'
            b'"errors":[{"code":"idempotency_conflict","message":"m"}],"signature":null}',
        ),
        (429, b'{"detail":"Rate limit exceeded"}'),
    ],
)
def test_a_4xx_json_answer_is_a_response_not_a_failure(
    harness: tuple[Transport, Script], status: int, body: bytes
) -> None:
    transport, script = harness
    script(HttpResponse(status, {"Content-Type": "application/json"}, body))

    result = transport.send(post(), TIMEOUTS)

    assert isinstance(result, HttpResponse)
    assert (result.status, result.body) == (status, body)
    assert result.header("content-type") == "application/json"


def test_an_unscripted_unknown_path_is_the_servers_404(harness: tuple[Transport, Script]) -> None:
    transport, _ = harness

    result = transport.send(post("/api/v1/nowhere"), TIMEOUTS)

    assert isinstance(result, HttpResponse)
    assert (result.status, result.body) == (NOT_FOUND.status, NOT_FOUND.body)


@pytest.mark.parametrize(
    ("status", "location"),
    [(301, "https://elsewhere.invalid/a"), (307, "/api/v1/moved"), (308, None)],
)
def test_a_3xx_is_a_redirect_failure_naming_the_location(
    harness: tuple[Transport, Script], status: int, location: str | None
) -> None:
    transport, script = harness
    script(HttpResponse(status, {"Location": location} if location else {}, b""))

    result = transport.send(post(), TIMEOUTS)

    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.REDIRECT
    assert f"HTTP {status} redirect to {location or '(none)'} " in result.detail


@pytest.mark.parametrize(("size", "too_large"), [(CAP, False), (CAP + 1, True)])
def test_a_body_over_max_response_bytes_is_response_too_large(
    harness: tuple[Transport, Script], size: int, too_large: bool
) -> None:
    transport, script = harness
    script(HttpResponse(202, {"Content-Type": "application/json"}, b"x" * size))

    result = transport.send(post(), TIMEOUTS)

    if too_large:
        assert isinstance(result, TransportFailure)
        assert result.kind is TransportErrorKind.RESPONSE_TOO_LARGE
        assert str(CAP) in result.detail
    else:
        assert isinstance(result, HttpResponse)
        assert len(result.body) == CAP


@pytest.mark.parametrize("total", [None, 30.0], ids=["no-total", "total-to-spare"])
def test_a_total_with_time_to_spare_changes_nothing(
    harness: tuple[Transport, Script], total: float | None
) -> None:
    """`total` bounds the exchange; one that is not reached leaves the answer as it is."""
    transport, script = harness
    script(HttpResponse(202, {"Content-Type": "application/json"}, b'{"status":"accepted"}'))

    result = transport.send(post(), Timeouts(connect=2.0, read=2.0, total=total))

    assert isinstance(result, HttpResponse)
    assert (result.status, result.body) == (202, b'{"status":"accepted"}')


def test_send_after_close_raises(harness: tuple[Transport, Script]) -> None:
    transport, _ = harness
    transport.close()

    with pytest.raises(RuntimeError, match="the transport is closed"):
        transport.send(post(), TIMEOUTS)


@pytest.mark.parametrize(
    ("request_", "timeouts"),
    [
        (HttpRequest("POST", "@evil.example/x"), TIMEOUTS),
        (post(), Timeouts(connect=0.0, read=2.0)),
        (post(), Timeouts(connect=2.0, read=-1.0)),
        (post(), Timeouts(connect=2.0, read=2.0, total=0.0)),
        (post(), Timeouts(connect=2.0, read=2.0, total=-1.0)),
        (post(), Timeouts(connect=2.0, read=2.0, total=float("nan"))),
    ],
    ids=[
        "path-without-slash",
        "zero-connect-timeout",
        "negative-read-timeout",
        "zero-total",
        "negative-total",
        "nan-total",
    ],
)
def test_programming_errors_raise_value_error(
    harness: tuple[Transport, Script], request_: HttpRequest, timeouts: Timeouts
) -> None:
    """A path that could name another host, or a spent timeout, is the caller's bug: both
    transports refuse it before anything leaves."""
    transport, _ = harness
    with pytest.raises(ValueError, match=r"path|timeouts"):
        transport.send(request_, timeouts)


# -- the same request on the wire from both backends ---------------------------------------
# Each: method, path, headers, body.
WIRE_CASES = [
    ("POST", EVENTS, (("Authorization", f"Bearer {TOKEN}"),), b'{"event_id":"evt-1"}'),
    ("GET", "/healthz", (), b""),
    ("POST", "/healthz", (), b""),  # an empty POST still says Content-Length: 0
    ("GET", "/healthz", (("user-agent", "embedder/2.0"), ("Accept", "application/json")), b""),
    ("POST", EVENTS, (("x-a", "1"), ("X-A", "2"), ("Content-Length", "99")), b"abc"),
    ("get", "/a/./b/../healthz", (), b""),
    ("GET", "/x y/%7e/\u00e9?q=1 2&r=%zz#fragment", (), b""),
    ("GET", "//evil.example/x", (), b""),
]


def _wire(backend: type[RequestsTransport] | type[Urllib3Transport]) -> list[Any]:
    with LocalVectorVue(api_token=TOKEN) as vv:
        transport = backend(vv.url, verify=vv.ca_pem_path, user_agent="vectorvue-client/1")
        for method, path, headers, body in WIRE_CASES:
            transport.send(HttpRequest(method, path, headers, body), TIMEOUTS)
        transport.close()
        host = vv.url.removeprefix("https://")
        # Header lines in the order they were sent; the two servers' ports differ.
        return [
            (
                r.method,
                r.path,
                [(k, v == host if k == "host" else v) for k, v in r.headers.items()],
                r.body,
            )
            for r in vv.requests
        ]


def test_both_backends_put_the_same_requests_on_the_wire() -> None:
    """Method, request target (dot segments, percent-encoding, no fragment), every header
    (requests' defaults, case-insensitive overrides, User-Agent) and the framing (our
    Content-Length, never the caller's) are byte for byte those requests sends."""
    sent_by_requests = _wire(RequestsTransport)
    sent_by_urllib3 = _wire(Urllib3Transport)

    assert len(sent_by_urllib3) == len(WIRE_CASES)
    assert sent_by_urllib3 == sent_by_requests
    method, _, headers, _ = sent_by_urllib3[0]
    assert method == "POST"
    assert [name for name, _ in headers] == [
        "host",
        "user-agent",
        "accept-encoding",
        "accept",
        "connection",
        "authorization",
        "content-length",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        (("Authorization", f"Bearer {TOKEN}\r\nX-Injected: 1"),),
        (("X-Folded", "a\r\n b"),),  # obs-fold: http.client alone would send it
        (("X-A", " leading"),),
        (("X:A", "v"),),
        (("", "v"),),
    ],
    ids=["crlf-injection", "obs-fold", "leading-space", "colon-in-name", "empty-name"],
)
@pytest.mark.parametrize(
    "backend", [RequestsTransport, Urllib3Transport], ids=["requests", "urllib3"]
)
def test_a_header_that_could_split_or_fold_is_refused_before_anything_is_sent(
    backend: type[RequestsTransport] | type[Urllib3Transport], headers: tuple[tuple[str, str]]
) -> None:
    with LocalVectorVue(api_token=TOKEN) as vv:
        transport = backend(vv.url, verify=vv.ca_pem_path)
        result = transport.send(HttpRequest("POST", EVENTS, headers, b"{}"), TIMEOUTS)
        transport.close()
        assert vv.requests == []
    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.PROTOCOL
    assert TOKEN not in result.detail
