"""send_client_event against a test server on 127.0.0.1 (real TLS), wired by the container as
in production (issue 15, point 4): the body sent, the 202 read, the local refusals (nothing
sent), the client's own pacing of 120 per sliding minute per (tenant, user), and no signature
check on a route VectorVue does not sign."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostile.echo_server import EchoServer, Reply, Seen
from vectorvue_client import (
    VectorVueAPIError,
    VectorVueClient,
    VectorVueConfig,
    VectorVueSerializationError,
)
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock

from .signed_server import make_jwt, tenant_of

PATH = "/api/v1/client/events"
TENANT = "10000000-0000-4000-8000-000000000001"


@pytest.fixture
def server() -> Iterator[EchoServer]:
    def script(seen: Seen) -> Reply:
        assert seen.path == PATH
        return Reply.json(202, {"accepted": True})

    with EchoServer(script) as running:
        yield running


def build(
    server: EchoServer, tmp_path: Path, clock: FakeClock | None = None, **settings: Any
) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=server.url,
        ca_bundle=server.ca_pem_path,
        audit_file=str(tmp_path / "audit.jsonl"),
        max_retries=0,
        timeout_seconds=5.0,
        **settings,
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": make_jwt(TENANT), "VV_CMP": "k" * 32})
    if clock is not None:
        container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


def test_a_client_event_is_posted_and_its_202_read(server: EchoServer, tmp_path: Path) -> None:
    with build(server, tmp_path) as client:
        envelope = client.send_client_event(
            "finding_viewed",
            "Finding",
            object_id="f-1",
            severity="high",
            timestamp=1771754400,
            metadata={"view": "table"},
        )
    assert envelope.success
    assert envelope.status_code == 202
    assert envelope.status == "accepted"
    seen = server.requests[0]
    assert seen.method == "POST"
    assert seen.headers["authorization"] == f"Bearer {make_jwt(TENANT)}"
    assert json.loads(seen.body) == {
        "event_type": "finding_viewed",
        "object_type": "Finding",
        "object_id": "f-1",
        "severity": "high",
        "timestamp": "2026-02-22T10:00:00Z",
        "metadata_json": {"view": "table"},
    }


def test_a_bad_event_is_refused_locally(server: EchoServer, tmp_path: Path) -> None:
    with build(server, tmp_path) as client:
        with pytest.raises(VectorVueSerializationError, match="event_type"):
            client.send_client_event("FINDING_DELETED", "finding")
        with pytest.raises(VectorVueSerializationError, match="object_type"):
            client.send_client_event("FINDING_VIEWED", "asset")
    assert server.requests == []


def test_the_servers_refusal_is_an_api_error(server: EchoServer, tmp_path: Path) -> None:
    server.script = lambda seen: Reply.json(422, {"detail": "Unsupported event_type: X"})
    with build(server, tmp_path) as client, pytest.raises(VectorVueAPIError) as caught:
        client.send_client_event("FINDING_VIEWED", "finding")
    assert caught.value.status_code == 422


def test_the_121st_event_in_a_minute_waits_for_room(server: EchoServer, tmp_path: Path) -> None:
    clock = FakeClock()
    # The gateway's budget is another one: set low here, it must not apply.
    with build(server, tmp_path, clock, gateway_rate_per_minute=30) as client:
        for _ in range(120):
            client.send_client_event("DASHBOARD_VIEWED", "dashboard")
        assert clock.sleeps == []
        clock.advance(10.0)
        client.send_client_event("DASHBOARD_VIEWED", "dashboard")
    # The first of the 120 leaves the sliding window 60 s after it was sent.
    assert len(clock.sleeps) == 1
    assert 49.9 < clock.sleeps[0] < 50.1
    assert len(server.requests) == 121
    assert {tenant_of(seen) for seen in server.requests} == {TENANT}


def test_client_events_are_never_signature_checked(server: EchoServer, tmp_path: Path) -> None:
    settings: dict[str, Any] = {"compliance_key_env": "VV_CMP", "compliance_signatures": "enforce"}
    with build(server, tmp_path, **settings) as client:
        envelope = client.send_client_event("REPORT_DOWNLOADED", "report")
    assert envelope.signature_status == "not_checked"
