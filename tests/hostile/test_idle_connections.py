"""Attacks on connection reuse: a server that closes idle keep-alive connections, against
both backends.

A server closes a keep-alive connection after a few seconds of idleness (uvicorn after 5).
When the client writes its next request at that moment, the request crosses the close and
meets a reset: an attempt lost, and with max_retries 0 a failed send. urllib3 drops a
pooled connection only once the close has arrived, so it cannot avoid that race; the
transports' `max_idle_seconds` (the setting `pool_max_idle_seconds`) does, by never
reusing a connection idle for longer.

The peer here makes the race certain: it gives up on a connection idle for SERVER_IDLE
seconds and resets it when the next request arrives, as a close crossing that request
would (and as a middlebox that forgot the connection does).
"""

from __future__ import annotations

import select
import socket
import threading

import pytest

from vectorvue_client import VectorVueConfig
from vectorvue_client.adapters.transport_requests import RequestsTransport
from vectorvue_client.adapters.transport_urllib3 import Urllib3Transport
from vectorvue_client.config import HttpBackend
from vectorvue_client.container import build_client
from vectorvue_client.domain.http import HttpRequest, HttpResponse, HttpResult, Timeouts

from .hostile_peers import FOR_EVER_SECONDS, HostilePeer, abort, read_request, respond

type Backend = type[RequestsTransport] | type[Urllib3Transport]

SERVER_IDLE = 0.6  # the server's keep-alive timeout
CLIENT_IDLE = 0.3  # the client's limit, below it as the default (4 s) is below uvicorn's 5 s
TIMEOUTS = Timeouts(connect=5.0, read=5.0)
FINDING = {"title": "abc", "description": "d", "severity": "low", "first_seen": 0}


@pytest.fixture(params=[Urllib3Transport, RequestsTransport], ids=["urllib3", "requests"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each transport class in turn."""
    cls: Backend = request.param
    return cls


class IdleCloser:
    """The peer's behaviour: answer 202 to each request on a connection kept alive, until
    one stays idle for SERVER_IDLE; then set `gave_up`, and reset the connection when the
    next request arrives, without reading it."""

    def __init__(self) -> None:
        self.gave_up = threading.Event()

    def __call__(self, conn: socket.socket, peer: HostilePeer) -> None:
        tls = peer.tls(conn)
        while read_request(tls):
            respond(tls, b"202 Accepted")
            readable, _, _ = select.select([tls], [], [], SERVER_IDLE)
            if not readable:
                self.gave_up.set()
                select.select([tls], [], [], FOR_EVER_SECONDS)
                abort(tls)
                return


def status(result: HttpResult) -> int | str:
    return result.status if isinstance(result, HttpResponse) else f"{result.kind}: {result.detail}"


def test_a_connection_idle_past_the_limit_is_replaced_and_one_within_it_reused(
    backend: Backend,
) -> None:
    closer = IdleCloser()
    with HostilePeer(closer) as peer:
        transport = backend(peer.url, verify=peer.ca_path, max_idle_seconds=CLIENT_IDLE)
        try:
            first = transport.send(HttpRequest("GET", "/a"), TIMEOUTS)
            soon_after = transport.send(HttpRequest("GET", "/b"), TIMEOUTS)
            connections_before_the_gap = peer.connections
            assert closer.gave_up.wait(FOR_EVER_SECONDS)  # SERVER_IDLE > CLIENT_IDLE passed
            after_the_gap = transport.send(HttpRequest("GET", "/c"), TIMEOUTS)
        finally:
            transport.close()
        connections = peer.connections

    assert [status(first), status(soon_after), status(after_the_gap)] == [202, 202, 202]
    assert connections_before_the_gap == 1  # used within the limit: reused
    assert connections == 2  # idle past it: replaced, not written on


@pytest.mark.parametrize("http_backend", ["urllib3", "requests"])
def test_pool_max_idle_seconds_reaches_the_transport(
    http_backend: HttpBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the production wiring, with max_retries 0 (no attempt to spare): the send
    after the idle gap succeeds."""
    monkeypatch.setenv("VECTORVUE_API_KEY", "hostile-peer-token-5d1c")
    closer = IdleCloser()
    with HostilePeer(closer) as peer:
        config = VectorVueConfig(
            base_url=peer.url,
            ca_bundle=peer.ca_path,
            http_backend=http_backend,
            max_retries=0,
            pool_max_idle_seconds=CLIENT_IDLE,
        )
        with build_client(config) as client:
            before = client.send_finding(FINDING)
            assert closer.gave_up.wait(FOR_EVER_SECONDS)
            after = client.send_finding(FINDING)

    assert (before.success, before.attempts) == (True, 1)
    assert (after.success, after.attempts) == (True, 1)
