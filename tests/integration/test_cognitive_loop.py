"""push_execution_graph and query_feedback through the public API and the default wiring:
the client's own behaviour (local refusals, retries, pacing, settings), against
LocalVectorVue (real mutual TLS on 127.0.0.1) on a FakeClock shared by both sides, so
signatures, windows and pacing are exact and nothing waits on the wall clock. The loop
itself is in test_cognitive_end_to_end.py; answers LocalVectorVue never gives (forged,
replayed, stale) are in tests/hostile/test_forged_feedback.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueSerializationError,
)
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .local_gateway import TENANT, Gateway, start_gateway

GRAPH = "/internal/v1/cognitive/execution-graph"
QUERY = "/internal/v1/cognitive/feedback/adjustments/query"
TELEMETRY = "/internal/v1/telemetry"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gateway(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, clock: FakeClock
) -> Gateway:
    return start_gateway(local_vectorvue_factory, tmp_path, clock, graph_limit_per_minute=2)


def graph(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "execution_fingerprint": "CD" * 32,
        "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(8))},
    }
    document.update(changes)
    return document


def test_a_bad_field_is_refused_before_sending(gateway: Gateway) -> None:
    with gateway.client() as client:
        with pytest.raises(VectorVueSerializationError) as caught:
            client.push_execution_graph(graph(execution_fingerprint="cd"))
        assert caught.value.field == "execution_fingerprint"
        with pytest.raises(VectorVueSerializationError) as limit:
            client.query_feedback(TENANT, limit=1001)
        assert limit.value.field == "limit"
    assert gateway.vv.requests == []


@pytest.mark.parametrize("path", [GRAPH, QUERY])
def test_a_500_is_never_retried(gateway: Gateway, path: str) -> None:
    gateway.vv.fail_next_text(1, 500)  # the gateway's own: plain text
    with gateway.client() as client:
        call = (
            (lambda: client.push_execution_graph(graph()))
            if path == GRAPH
            else (lambda: client.query_feedback(TENANT))
        )
        with pytest.raises(VectorVueAPIError) as caught:
            call()
    assert caught.value.status_code == 500
    assert [r.path for r in gateway.vv.requests] == [path]


def test_a_409_replay_is_retried_with_a_fresh_timestamp_and_nonce(gateway: Gateway) -> None:
    gateway.vv.fail_next(1, 409, b'{"detail":"Replay detected: nonce already used"}')
    with gateway.client() as client:
        assert client.push_execution_graph(graph()).success
    first, second = gateway.vv.requests
    assert first.headers["x-telemetry-nonce"] != second.headers["x-telemetry-nonce"]
    for seen in (first, second):  # the body carries the attempt's own, as the headers
        body = json.loads(seen.body)
        assert body["nonce"] == seen.headers["x-telemetry-nonce"]
        assert str(body["timestamp"]) == seen.headers["x-telemetry-timestamp"]
    assert len(gateway.vv.stored_graphs(TENANT)) == 1


def test_graphs_are_paced_per_operator_on_their_own_counter(
    gateway: Gateway, clock: FakeClock
) -> None:
    settings = {"gateway_rate_per_minute": 2, "campaign_id": "c-1"}
    with gateway.client(**settings) as client:
        # Telemetry's counter is another: a telemetry request spends none of the graphs'.
        client.send_event(
            {
                "event_id": "e-1",
                "event_type": "scan",
                "source_system": "spectrastrike",
                "occurred_at": "2026-11-25T00:00:00Z",
                "severity": "info",
                "asset_ref": "10.0.0.1",
                "message": "m",
                "mitre_techniques": ["T1046"],
            }
        )
        started = clock.time()
        for _ in range(2):
            client.push_execution_graph(graph())
        assert clock.time() == started  # no wait for the first two
        client.push_execution_graph(graph())  # the receiver allows 2 a minute: a 429 unpaced
        assert clock.time() >= started + 60  # the third waited for the window
    assert len(gateway.vv.stored_graphs(TENANT)) == 3
    paths = [r.path for r in gateway.vv.requests]
    assert (paths.count(GRAPH), paths.count(TELEMETRY)) == (3, 1)  # no 429 retried


def test_the_integration_profile_says_the_loop_is_the_gateways() -> None:
    config = VectorVueConfig(base_url="https://vectorvue.test")
    with Container(config=config).client() as client:
        for call in (
            lambda: client.push_execution_graph(graph()),
            lambda: client.query_feedback(TENANT),
        ):
            with pytest.raises(VectorVueConfigError) as caught:
                call()
            assert caught.value.field == "profile"
            assert "telemetry-gateway" in caught.value.rule


def test_no_keyring_is_a_config_error_naming_the_setting(gateway: Gateway) -> None:
    with (
        gateway.client(feedback_keyring_file=None) as client,
        pytest.raises(VectorVueConfigError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.field == "feedback_keyring_file"
    assert gateway.vv.requests == []
