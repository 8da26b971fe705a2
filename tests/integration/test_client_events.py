"""send_client_event against LocalVectorVue (real TLS on 127.0.0.1; its own schema, allow-
lists and rate limit, written from the contract), wired by the container as in production
(issue 15, point 4): the body sent, the server's refusal, and the client's own pacing of
120 per sliding minute per (tenant, user) on a FakeClock both sides share. The event
stored, the local refusals and the absent signature check: test_signed_answers_end_to_end.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from vectorvue_client import VectorVueAPIError, VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_signed_answers_end_to_end import static_jwt

PATH = "/api/v1/client/events"
TENANT = "10000000-0000-4000-8000-000000000001"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock) -> LocalVectorVue:
    return local_vectorvue_factory(api_token=static_jwt(TENANT), now=clock.time)


def build(vv: LocalVectorVue, clock: FakeClock, **settings: Any) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=vv.url, ca_bundle=vv.ca_pem_path, max_retries=0, timeout_seconds=5.0, **settings
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": vv.api_token})
    container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


def test_a_client_event_is_posted_and_its_202_read(vv: LocalVectorVue, clock: FakeClock) -> None:
    with build(vv, clock) as client:
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
    (seen,) = vv.requests
    assert (seen.method, seen.path) == ("POST", PATH)
    assert seen.headers["authorization"] == f"Bearer {vv.api_token}"
    assert json.loads(seen.body) == {
        "event_type": "finding_viewed",
        "object_type": "Finding",
        "object_id": "f-1",
        "severity": "high",
        "timestamp": "2026-02-22T10:00:00Z",
        "metadata_json": {"view": "table"},
    }


def test_the_servers_refusal_is_an_api_error(vv: LocalVectorVue, clock: FakeClock) -> None:
    vv.fail_next(1, 422, b'{"detail":"Unsupported event_type: X"}')
    with build(vv, clock) as client, pytest.raises(VectorVueAPIError) as caught:
        client.send_client_event("FINDING_VIEWED", "finding")
    assert caught.value.status_code == 422
    assert vv.client_events() == []


def test_the_121st_event_in_a_minute_waits_for_room(vv: LocalVectorVue, clock: FakeClock) -> None:
    # The gateway's budget is another one: set low here, it must not apply.
    with build(vv, clock, gateway_rate_per_minute=30) as client:
        for _ in range(120):
            client.send_client_event("DASHBOARD_VIEWED", "dashboard")
        assert clock.sleeps == []
        clock.advance(10.0)
        client.send_client_event("DASHBOARD_VIEWED", "dashboard")
    # The first of the 120 leaves the sliding window 60 s after it was sent.
    assert len(clock.sleeps) == 1
    assert 49.9 < clock.sleeps[0] < 50.1
    # The receiver allows 120 per sliding minute too: unpaced, the 121st would be a 429.
    assert len(vv.client_events()) == 121
