"""Attacks on `Timeouts.total`, the wall-clock bound of one exchange, against both backends.

Per-operation timeouts (connect, read) cannot stop a server that keeps each operation
short: one that trickles its answer a byte at a time, reads our body slowly, or stalls a
handshake or a connect (with connect and read far above the budget), or a proxy that
trickles its CONNECT answer. Each such peer here would go on for FOR_EVER_SECONDS; the
send must come back as a TIMEOUT naming the budget within TOTAL + MARGIN (the client's
promise; the overshoot measured is a few milliseconds), and the connection it was on must
never be reused.

These tests measure time because the promise is about time; the budget is small so that
the suite stays fast.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

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

from .hostile_peers import HostilePeer, read_head, read_request, respond

type Backend = type[RequestsTransport] | type[Urllib3Transport]
type Transport = RequestsTransport | Urllib3Transport

TOTAL = 0.3  # small, to keep the suite fast: the waits below are the budget itself
MARGIN = 0.5
EVERY = 0.05  # the trickle: one byte every EVERY seconds, for ever
# Connect and read far above TOTAL: only the budget can end these exchanges in time.
TIMEOUTS = Timeouts(connect=5.0, read=5.0, total=TOTAL)
CALM = Timeouts(connect=5.0, read=5.0)  # for the exchanges that are not attacked
PADDING = b"X-Padding: never-ending\r\n" * 100_000
HEAD = b"HTTP/1.1 200 OK\r\n" + PADDING
ENDLESS_CHUNKS = b"1\r\nx\r\n" * 100_000


@pytest.fixture(params=[Urllib3Transport, RequestsTransport], ids=["urllib3", "requests"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn: every attack must fail against both."""
    cls: Backend = request.param
    return cls


@pytest.fixture
def made() -> Iterator[list[Transport]]:
    """Transports a test makes, closed after it."""
    transports: list[Transport] = []
    yield transports
    for transport in transports:
        transport.close()


def timed(transport: Transport, request: HttpRequest) -> tuple[HttpResult, float]:
    """The result of one send within TIMEOUTS, and how long it took."""
    started = time.monotonic()
    result = transport.send(request, TIMEOUTS)
    return result, time.monotonic() - started


def assert_cut_off_by_the_budget(result: HttpResult, elapsed: float) -> None:
    assert isinstance(result, TransportFailure), result
    assert result.kind is TransportErrorKind.TIMEOUT
    assert f"the wall-clock budget of {TOTAL:g} s for the exchange ran out" in result.detail
    assert elapsed <= TOTAL + MARGIN, f"the send took {elapsed:.3f} s"


def get() -> HttpRequest:
    return HttpRequest("GET", "/healthz")


# -- the answer --------------------------------------------------------------------------
def answer_once_then_trickle(conn: socket.socket, peer: HostilePeer) -> None:
    """A good first answer on each connection; the second is a status line and headers
    trickled for ever."""
    tls = peer.tls(conn)
    read_request(tls)
    respond(tls)
    read_request(tls)
    peer.trickle(tls, HEAD, every=EVERY)


def test_a_trickled_status_line_and_headers_are_cut_off_and_the_connection_dropped(
    backend: Backend, made: list[Transport]
) -> None:
    """The trickle comes on a pooled connection, made before the exchange began: its
    socket honours the budget all the same. The next send goes out on a new connection."""
    with HostilePeer(answer_once_then_trickle) as peer:
        transport = backend(peer.url, verify=peer.ca_path)
        made.append(transport)
        first = transport.send(get(), CALM)
        trickled, elapsed = timed(transport, get())
        after = transport.send(get(), CALM)
        connections = peer.connections

    assert isinstance(first, HttpResponse) and first.status == 200
    assert_cut_off_by_the_budget(trickled, elapsed)
    assert isinstance(after, HttpResponse) and after.status == 200
    assert connections == 2  # the trickled connection was closed, not put back


def trickle_an_endless_body(conn: socket.socket, peer: HostilePeer) -> None:
    """A prompt head, then a chunked body that never ends, one byte at a time."""
    tls = peer.tls(conn)
    read_request(tls)
    tls.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    peer.trickle(tls, ENDLESS_CHUNKS, every=EVERY)


def test_an_endless_trickled_body_is_cut_off(backend: Backend, made: list[Transport]) -> None:
    with HostilePeer(trickle_an_endless_body) as peer:
        transport = backend(peer.url, verify=peer.ca_path)
        made.append(transport)
        result, elapsed = timed(transport, get())

    assert_cut_off_by_the_budget(result, elapsed)


# -- the request ---------------------------------------------------------------------------
def read_the_body_slowly(conn: socket.socket, peer: HostilePeer) -> None:
    """Take the head, then a few KiB of the body every EVERY seconds."""
    tls = peer.tls(conn)
    read_head(tls)
    for _ in peer.ticks(EVERY):
        if not tls.recv(4096):
            return


def test_a_server_that_reads_the_body_slowly_is_cut_off(
    backend: Backend, made: list[Transport]
) -> None:
    """Each write makes progress, so no write timeout fires: 16 MiB at this pace would take
    minutes."""
    with HostilePeer(read_the_body_slowly) as peer:
        transport = backend(peer.url, verify=peer.ca_path)
        made.append(transport)
        result, elapsed = timed(transport, HttpRequest("POST", "/x", (), b"v" * (16 << 20)))

    assert_cut_off_by_the_budget(result, elapsed)


# -- the connection ------------------------------------------------------------------------
def stall_the_handshake(conn: socket.socket, peer: HostilePeer) -> None:
    """Read the ClientHello, answer nothing."""
    conn.recv(4096)
    peer.hold()


def test_a_stalled_tls_handshake_is_cut_off(backend: Backend, made: list[Transport]) -> None:
    with HostilePeer(stall_the_handshake) as peer:
        transport = backend(peer.url, verify=peer.ca_path)
        made.append(transport)
        result, elapsed = timed(transport, get())

    assert_cut_off_by_the_budget(result, elapsed)


def fill_the_backlog(peer: HostilePeer) -> list[socket.socket]:
    """Connections that fill a never-accepting peer's accept queue: after them, a connect
    is not answered (or, on another kernel, its handshake is not: a stall all the same)."""
    port = int(peer.url.rsplit(":", 1)[1])
    fillers: list[socket.socket] = []
    for _ in range(8):
        filler = socket.socket()
        filler.settimeout(0.1)  # loopback answers a SYN in microseconds, or never
        try:
            filler.connect(("127.0.0.1", port))
        except OSError:
            filler.close()
            break
        fillers.append(filler)
    return fillers


def test_a_server_that_never_accepts_is_cut_off(backend: Backend, made: list[Transport]) -> None:
    with HostilePeer(stall_the_handshake, accept=False, backlog=0) as peer:
        fillers = fill_the_backlog(peer)
        try:
            transport = backend(peer.url, verify=peer.ca_path)
            made.append(transport)
            result, elapsed = timed(transport, get())
        finally:
            for filler in fillers:
                filler.close()

    assert_cut_off_by_the_budget(result, elapsed)


def trickle_the_connect_answer(conn: socket.socket, peer: HostilePeer) -> None:
    """A proxy that takes the CONNECT request, then trickles its answer for ever."""
    read_head(conn)
    peer.trickle(conn, b"HTTP/1.1 200 Connection established\r\n" + PADDING, every=EVERY)


def test_a_proxy_that_trickles_its_connect_answer_is_cut_off(
    backend: Backend, made: list[Transport]
) -> None:
    """The plain socket of a CONNECT tunnel, before TLS to the origin begins, keeps to the
    budget too."""
    with HostilePeer(trickle_the_connect_answer) as proxy:
        transport = backend(
            "https://127.0.0.1:9", verify=proxy.ca_path, proxy=proxy.url.replace("https", "http")
        )
        made.append(transport)
        result, elapsed = timed(transport, get())

    assert_cut_off_by_the_budget(result, elapsed)


# -- what the budget leaves alone ------------------------------------------------------------
def stall_the_answer(conn: socket.socket, peer: HostilePeer) -> None:
    tls = peer.tls(conn)
    read_request(tls)
    peer.hold()


def test_the_read_timeout_still_bounds_each_read_under_a_larger_budget(
    backend: Backend, made: list[Transport]
) -> None:
    """A guard: `read` stays the per-read timeout. A silent server is a read timeout when
    that comes first, reported as one (it passes on the code before the budget, too)."""
    with HostilePeer(stall_the_answer) as peer:
        transport = backend(peer.url, verify=peer.ca_path)
        made.append(transport)
        result = transport.send(get(), Timeouts(connect=5.0, read=0.2, total=5.0))

    assert isinstance(result, TransportFailure)
    assert result.kind is TransportErrorKind.TIMEOUT
    assert "read timeout of 0.2 s" in result.detail
