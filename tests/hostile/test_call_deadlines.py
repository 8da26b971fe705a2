"""Attack: a server that trickles its answer, one byte at a time, to hold a public call
past its deadline (issue 11, item 2). `deadline_seconds` is a wall-clock bound: every
public call returns or raises within it plus half a second, whatever the server does
(the login before a request included). The waits for the telemetry gateway's
per-operator budget are the one thing added to it (known in advance, not the server's).

The transport's own bound on one exchange is attacked in test_transport_deadline.py; here
the calls of the client, with several requests, retries and a login, are held. The
promise is about time: these tests run on the real clock, each for about its deadline.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import (
    VectorVueAPIError,
    VectorVueClient,
    VectorVueTransportError,
)
from vectorvue_client.container import inspect_outbox
from vectorvue_client.samples import sample_path

from .clients import events, wired_client
from .hostile_peers import HostilePeer, read_request

DEADLINE = 1.0
MARGIN = 0.5  # the margin the client promises (docs/security.md)
TENANT = "10000000-0000-0000-0000-000000000001"


def trickle_forever(conn: socket.socket, peer: HostilePeer) -> None:
    """Read each request on the connection, then answer a status line and headers that
    never end, one byte every 0.1 s (each read is well inside the read timeout)."""
    tls = peer.tls(conn)
    if not read_request(tls):
        return
    head = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
    peer.trickle(tls, head + b"X-Trickle: " + b"a" * 10**6, every=0.1)


@pytest.fixture
def peer() -> Iterator[HostilePeer]:
    with HostilePeer(trickle_forever) as hostile:
        yield hostile


def client_for(peer: HostilePeer, tmp_path: Path, **settings: Any) -> VectorVueClient:
    defaults: dict[str, Any] = {
        "deadline_seconds": DEADLINE,
        "timeout_seconds": 0.5,
        "max_retries": 3,
        "backoff_base_seconds": 0.05,
    }
    environ = {"VECTORVUE_API_KEY": "k" * 24, "VECTORVUE_PASSWORD": "p" * 16}
    return wired_client(peer.url, peer.ca_path, tmp_path, environ=environ, **(defaults | settings))


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        outcome = call()
    except (VectorVueTransportError, VectorVueAPIError) as exc:
        outcome = exc
    return time.monotonic() - started, outcome


BACKENDS = ["urllib3", "requests"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "call",
    ["send_event", "send_batch", "send_outputs", "ingest_status", "health", "drain"],
)
def test_every_call_ends_by_its_deadline(
    peer: HostilePeer, tmp_path: Path, backend: str, call: str
) -> None:
    """Against an answer that never ends: each call ends within deadline + 0.5 s, with a
    timeout (today: held for as long as the server trickles, 30 s here)."""
    client = client_for(peer, tmp_path, http_backend=backend, batch_size=10)
    with client:
        if call == "drain":
            client.enqueue_many(events(30, "dl"))
        calls: dict[str, Callable[[], object]] = {
            "send_event": lambda: client.send_event(events(1, "dl")[0]),
            "send_batch": lambda: client.send_batch(events(30, "dl")),
            "send_outputs": lambda: client.send_outputs(events(30, "dl")),
            "ingest_status": lambda: client.ingest_status("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "health": client.health,
            "drain": lambda: client.drain(DEADLINE),
        }
        elapsed, outcome = timed(calls[call])
    assert elapsed < DEADLINE + MARGIN, f"{call} took {elapsed:.2f} s"
    if call == "health":
        assert not outcome.healthy  # type: ignore[attr-defined]
    elif call == "drain":
        assert outcome.stopped_by == "unreachable"  # type: ignore[attr-defined]
        assert outcome.pending == 30  # type: ignore[attr-defined]
    else:
        assert isinstance(outcome, VectorVueTransportError), outcome


def test_a_login_that_trickles_ends_by_the_deadline_of_the_send(
    peer: HostilePeer, tmp_path: Path
) -> None:
    """With auth = "login", the login comes first: a login answer that never ends holds
    the send no longer than its deadline (today: the login had its own timeouts, and
    trickled past them)."""
    client = client_for(
        peer, tmp_path, auth="login", login_username="alice", login_tenant_id=TENANT
    )
    with client:
        elapsed, outcome = timed(lambda: client.send_event(events(1, "dl")[0]))
    assert elapsed < DEADLINE + MARGIN, f"took {elapsed:.2f} s"
    assert isinstance(outcome, VectorVueTransportError)
    assert peer.connections >= 1  # the login reached the server: it was held there


def test_close_ends_by_its_timeout_with_a_worker_inside_a_request(
    peer: HostilePeer, tmp_path: Path
) -> None:
    """The worker is held inside a request by a trickling server, with a deadline of a
    minute: close(0.5) returns within 0.5 + 0.25 s and the items stay in the outbox."""
    client = client_for(peer, tmp_path, deadline_seconds=60.0, worker_interval_seconds=0.05)
    client.enqueue_many(events(5, "dl"))
    client.start_worker()
    deadline = time.monotonic() + 10
    while peer.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the worker's request has reached the server
    started = time.monotonic()
    client.close(0.5)
    assert time.monotonic() - started < 0.5 + 0.25 + MARGIN
    reader = inspect_outbox(client.config)
    try:
        assert reader.stats().delivered == 0
    finally:
        reader.close()


def _gateway_client(peer: HostilePeer, tmp_path: Path) -> VectorVueClient:
    cert, key = peer.certificates.issue_client_cert()
    signing = tmp_path / "ed25519.pem"
    signing.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return client_for(
        peer,
        tmp_path,
        profile="telemetry-gateway",
        client_cert=cert,
        client_key=key,
        service_identity="spectrastrike-producer",
        signing_key_file=str(signing),
        attestation_measurement_hash="5e" * 32,
    )


def test_a_gateway_batch_is_one_call_under_one_deadline(peer: HostilePeer, tmp_path: Path) -> None:
    """The gateway takes one event per request: a batch of three trickled events ends by
    the call's deadline, not by three of them (today each event had a deadline of its
    own)."""
    documents = [
        json.loads(line)
        for line in sample_path("broker-envelope.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with _gateway_client(peer, tmp_path) as client:
        elapsed, outcome = timed(lambda: client.send_batch(documents))
    assert elapsed < DEADLINE + MARGIN, f"took {elapsed:.2f} s"
    assert isinstance(outcome, VectorVueTransportError)
