"""Feedback answers LocalVectorVue never gives, from EchoServer (real TLS on 127.0.0.1,
the client's certificate presented): forged, replayed, stale, signed for another tenant,
with items that are not the tenant's. Each is signed here from the contract's rules
(forged_answers.py); the client is wired by the container as in production on a FakeClock
the forger shares."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hostile.cli_run import run_cli
from hostile.echo_server import EchoServer, Reply, Seen
from hostile.forged_answers import (
    OTHER_TENANT,
    QUERY,
    TENANT,
    FeedbackForger,
    gateway_settings,
)
from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.feedback import FeedbackCheck, FeedbackVerificationError
from vectorvue_client.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer(lambda seen: Reply.json(500, {"detail": "unscripted"})) as running:
        yield running


@pytest.fixture
def forger(tmp_path: Path, clock: FakeClock) -> FeedbackForger:
    return FeedbackForger(tmp_path, clock.time)


def client_for(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock, **more: Any
) -> VectorVueClient:
    config = VectorVueConfig(**{**gateway_settings(server, tmp_path, forger), **more})
    container = Container(config=config)
    container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


def answering(server: EchoServer, *replies: Reply) -> None:
    """The query is answered with `replies` in turn (the last one again and again)."""
    queue = list(replies)

    def script(seen: Seen) -> Reply:
        assert seen.path == QUERY
        return queue.pop(0) if len(queue) > 1 else queue[0]

    server.script = script


def test_a_forged_answer_does_not_burn_the_genuine_ones_nonce(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock
) -> None:
    data = [forger.adjustment()]
    genuine = forger.signed(TENANT, data, nonce="shared-nonce-0000000001")
    tampered = [{**data[0], "action": "observe"}]
    forged = forger.signed(TENANT, tampered, nonce="shared-nonce-0000000001", signed_data=data)
    answering(server, forged, genuine)
    with client_for(server, tmp_path, forger, clock) as client:
        with pytest.raises(FeedbackVerificationError) as caught:
            client.query_feedback(TENANT)
        assert caught.value.check is FeedbackCheck.SIGNATURE
        assert client.query_feedback(TENANT).adjustments[0].action == "tighten"


def test_an_old_answer_is_refused(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock
) -> None:
    answering(server, forger.signed(TENANT, [], signed_at=int(clock.time()) - 301))
    with (
        client_for(server, tmp_path, forger, clock) as client,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.FRESHNESS


def test_an_answer_signed_for_another_tenant_is_refused(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock
) -> None:
    answering(server, forger.signed(TENANT, [], signed_tenant=OTHER_TENANT))
    with (
        client_for(server, tmp_path, forger, clock) as client,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        client.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.SIGNATURE


def test_bad_items_are_dropped_and_reported(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock
) -> None:
    good = forger.adjustment()
    answering(server, forger.signed(TENANT, [good, forger.adjustment(OTHER_TENANT)]))
    with client_for(server, tmp_path, forger, clock) as client:
        feedback = client.query_feedback(TENANT)
    assert [a.tenant_id for a in feedback.adjustments] == [TENANT]
    assert [(d.index, d.check) for d in feedback.dropped] == [(1, FeedbackCheck.TENANT)]


def test_a_replay_is_refused_across_restarts_with_a_nonce_file(
    server: EchoServer, tmp_path: Path, forger: FeedbackForger, clock: FakeClock
) -> None:
    nonce_file = str(tmp_path / "nonces.sqlite3")
    answering(server, forger.signed(TENANT, []))  # the same answer, captured
    with client_for(server, tmp_path, forger, clock, feedback_nonce_file=nonce_file) as first:
        first.query_feedback(TENANT)
    with (
        client_for(server, tmp_path, forger, clock, feedback_nonce_file=nonce_file) as again,
        pytest.raises(FeedbackVerificationError) as caught,
    ):
        again.query_feedback(TENANT)
    assert caught.value.check is FeedbackCheck.REPLAY


def test_the_cli_shows_dropped_items_and_exits_1(server: EchoServer, tmp_path: Path) -> None:
    forger = FeedbackForger(tmp_path, time.time)  # the console script's clock is the real one
    good = forger.adjustment()
    server.script = lambda seen: forger.signed(TENANT, [good, {**good, "tenant_id": OTHER_TENANT}])
    settings = gateway_settings(server, tmp_path, forger)
    env = {f"VECTORVUE_{k.upper()}": str(v) for k, v in settings.items()}
    ran = run_cli("feedback", TENANT, env=env)
    assert ran.returncode == 1
    assert "1 verified adjustment(s)" in ran.stdout
    assert "dropped item 1 (tenant)" in ran.stdout
    json_run = run_cli("feedback", TENANT, "--json", env=env)
    assert json_run.returncode == 1
    assert json.loads(json_run.stdout)["dropped"][0]["check"] == "tenant"
