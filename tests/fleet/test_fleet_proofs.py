"""Issue 14's proofs against a real RabbitMQ node and LocalVectorVue, with the bridge run
as real `vectorvue-client bridge` processes: 10 000 envelopes through 503s, 429s and
resets; a bridge killed with SIGKILL mid-batch ten times beside another; the broker
restarted mid-run; poison messages. Each ends with the same facts: every valid item
accepted (and stored once) by id, every refusal in the dead letters with its reason, the
main and delay queues empty."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vectorvue_client.domain.bridge import HEADER_FIELD, HEADER_REASON, HEADER_RULE
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode
from vectorvue_client.testing.receiver_faults import Chaos

from .fleet_support import body_of, counts, declare_as_spectrastrike, drain_queue, envelope, text
from .proof_support import (
    Answers,
    BridgeProcess,
    assert_resends_identical,
    bridge_env,
    publish_confirmed,
    queue_counts,
    wait_for,
)

BOUND_SECONDS = 300.0  # the bound of the long waits: reached only when something is broken


@pytest.fixture
def bridges() -> Iterator[Callable[[dict[str, str]], BridgeProcess]]:
    started: list[BridgeProcess] = []

    def start(env: dict[str, str]) -> BridgeProcess:
        bridge = BridgeProcess(env)
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        if bridge.alive():
            bridge.kill()


def refusables(queue: str) -> list[bytes]:
    """Envelopes that VectorVue's rules refuse (the bridge's decoders say which field)."""
    out = []
    for n in range(3):
        base = envelope(f"{queue}/refused", n)
        out += [
            body_of({**base, "attributes": {**base["attributes"], "note": "a\u0000b"}}),
            body_of({**base, "event_type": "x" * 300}),
            body_of({**base, "event_id": f"bad id {n}", "idempotency_key": f"bad id {n}"}),
        ]
    return out


def assert_queues_empty(node: RabbitMQNode, queue: str, dead: int) -> None:
    """The main queue and its delay queues hold nothing; the dead letters `dead` messages."""
    listed = queue_counts(node, queue)
    assert listed.pop(f"{queue}.dlq") == (dead, 0)
    assert listed.pop(queue) == (0, 0)
    assert listed, "the bridge declared its delay queues"
    assert all(c == (0, 0) for c in listed.values()), listed


def test_ten_thousand_envelopes_through_503s_429s_and_resets(
    rabbitmq: RabbitMQNode,
    local_vectorvue_factory: Callable[..., LocalVectorVue],
    queue_name: str,
    bridges: Callable[[dict[str, str]], BridgeProcess],
) -> None:
    vv = local_vectorvue_factory(rate_limit_per_minute=10**9)
    vv.chaos(Chaos(unavailable=0.1, rate_limited=0.1, retry_after=1, reset=0.1), seed=14)
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    valid = [envelope(queue_name, n) for n in range(10_000)]
    refused = refusables(queue_name)
    bodies = [body_of(d) for d in valid]
    for i, body in enumerate(refused):  # spread through the stream
        bodies.insert(1 + i * 1000, body)
    publish_confirmed(rabbitmq.url, queue_name, bodies)
    env = bridge_env(
        vv,
        rabbitmq,
        queue_name,
        batch_size="100",
        bridge_linger_seconds="0.05",
        bridge_max_attempts="1000",  # a run of faults never gives a valid item up
    )
    running = [bridges(env), bridges(env)]
    ids = {d["event_id"] for d in valid}
    wait_for(lambda: set(vv.accepted_events()) == ids, "10 000 events stored", BOUND_SECONDS)
    dlq = f"{queue_name}.dlq"
    wait_for(lambda: counts(rabbitmq.url, dlq) == len(refused), "the refusals", BOUND_SECONDS)
    summaries = []
    for bridge in running:
        status, summary = bridge.stop()
        assert status == 0
        summaries.append(summary)
    assert sum(s["acked"] for s in summaries) == len(valid)
    assert sum(s["items_accepted"] for s in summaries) == len(valid)
    assert sum(s["dead_lettered"] for s in summaries) == len(refused)
    assert sum(s["retried"] for s in summaries) > 0
    # Every fault came before VectorVue processed the request: each item stored once.
    assert all(vv.receipts(i) == 1 for i in ids)
    assert {"503", "429", "Reset"} <= set(vv.faults.chaos_counts)
    assert_queues_empty(rabbitmq, queue_name, dead=len(refused))
    dead = drain_queue(rabbitmq.url, dlq)
    assert sorted(body for body, _ in dead) == sorted(refused)
    for _, headers in dead:
        assert text(headers[HEADER_REASON]) and text(headers[HEADER_RULE])
    fields = {text(h[HEADER_FIELD]) for _, h in dead}
    assert fields == {"attributes.note", "event_type", "event_id"}


def test_kill_9_mid_batch_ten_times_beside_another_bridge_loses_nothing(
    rabbitmq: RabbitMQNode,
    local_vectorvue_factory: Callable[..., LocalVectorVue],
    queue_name: str,
    bridges: Callable[[dict[str, str]], BridgeProcess],
) -> None:
    answers = Answers()
    vv = local_vectorvue_factory(rate_limit_per_minute=10**9, log=answers)
    vv.chaos(Chaos(latency=0.3))  # each request held a while: a batch is in flight long enough
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    env = bridge_env(vv, rabbitmq, queue_name, batch_size="20", bridge_linger_seconds="0.05")
    running = [bridges(env), bridges(env)]
    everything: list[dict[str, Any]] = []
    for kill in range(10):
        documents = [envelope(queue_name, n) for n in range(kill * 200, (kill + 1) * 200)]
        publish_confirmed(rabbitmq.url, queue_name, [body_of(d) for d in documents])
        everything += documents
        victim = running[kill % 2]
        wait_for(
            functools.partial(answers.in_flight_from, vv, victim.pid),
            f"bridge {victim.pid} in the middle of a batch",
            BOUND_SECONDS,
        )
        victim.kill()
        running[kill % 2] = bridges(env)
    ids = {d["event_id"] for d in everything}
    wait_for(lambda: set(vv.accepted_events()) == ids, "the 2000 events stored", BOUND_SECONDS)
    for bridge in running:
        assert bridge.stop()[0] == 0
    assert_queues_empty(rabbitmq, queue_name, dead=0)
    # The killed bridges' batches reached VectorVue (it processes a request whose sender
    # died) and were redelivered: sent again, as the same items, under the same keys.
    assert assert_resends_identical(vv) > 0
    assert len(vv.accepted_events()) == len(ids)


@pytest.mark.restarts_broker
def test_the_broker_restarted_mid_run_loses_nothing(
    rabbitmq: RabbitMQNode,
    local_vectorvue_factory: Callable[..., LocalVectorVue],
    queue_name: str,
    bridges: Callable[[dict[str, str]], BridgeProcess],
) -> None:
    vv = local_vectorvue_factory(rate_limit_per_minute=10**9)
    vv.chaos(Chaos(latency=0.2))
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    first = [envelope(queue_name, n) for n in range(2000)]
    publish_confirmed(rabbitmq.url, queue_name, [body_of(d) for d in first])
    env = bridge_env(vv, rabbitmq, queue_name, batch_size="20", bridge_linger_seconds="0.05")
    running = [bridges(env), bridges(env)]
    wait_for(lambda: len(vv.accepted_events()) >= 40, "deliveries under way", BOUND_SECONDS)
    delivered_before = len(vv.accepted_events())
    rabbitmq.restart()
    # Published with confirms while the bridges reconnect: none is lost on the way in.
    second = [envelope(queue_name, n) for n in range(2000, 2200)]
    publish_confirmed(rabbitmq.url, queue_name, [body_of(d) for d in second])
    ids = {d["event_id"] for d in first + second}
    wait_for(lambda: set(vv.accepted_events()) == ids, "the 2200 events stored", BOUND_SECONDS)
    assert delivered_before < len(first)  # the restart came mid-run
    assert all(b.readiness() >= 2 for b in running)  # each connected again
    summaries = [bridge.stop() for bridge in running]
    assert all(status == 0 for status, _ in summaries)
    assert all(summary["reconnects"] >= 1 for _, summary in summaries)
    assert_queues_empty(rabbitmq, queue_name, dead=0)
    assert_resends_identical(vv)


def test_poison_is_dead_lettered_with_reasons_and_the_consumer_goes_on(
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    queue_name: str,
    bridges: Callable[[dict[str, str]], BridgeProcess],
) -> None:
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    good = [envelope(queue_name, n) for n in range(30)]
    poison = [
        b"not json at all",
        b"\xff\xfe not utf-8",
        b'{"event_id": ',  # cut short
        json.dumps([good[0]]).encode(),  # an array, not an envelope
        body_of({"hello": "world"}),  # an object of the wrong shape
        body_of({**good[0], "timestamp": "yesterday"}),
        b'{"pad": "' + b"x" * (2 << 20) + b'"}',  # 2 MiB
    ]
    bodies = [body_of(d) for d in good[:10]]
    for i, body in enumerate(poison):
        bodies.insert(i + 1, body)
    publish_confirmed(rabbitmq.url, queue_name, bodies)
    env = bridge_env(local_vectorvue, rabbitmq, queue_name, batch_size="5")
    bridge = bridges(env)
    first = {d["event_id"] for d in good[:10]}
    wait_for(lambda: set(local_vectorvue.accepted_events()) == first, "the first ten", 60)
    dlq = f"{queue_name}.dlq"
    wait_for(lambda: counts(rabbitmq.url, dlq) == len(poison), "the poison", 60)
    assert bridge.alive()
    publish_confirmed(rabbitmq.url, queue_name, [body_of(d) for d in good[10:]])
    ids = {d["event_id"] for d in good}
    wait_for(lambda: set(local_vectorvue.accepted_events()) == ids, "the rest", 60)
    status, summary = bridge.stop()
    assert status == 0
    assert summary["dead_lettered"] == len(poison)
    assert summary["acked"] == len(good)
    assert_queues_empty(rabbitmq, queue_name, dead=len(poison))
    dead = drain_queue(rabbitmq.url, dlq)
    assert [body for body, _ in dead] == poison
    reasons = [text(h[HEADER_REASON]) for _, h in dead]
    rules = [text(h[HEADER_RULE]) for _, h in dead]
    fields = [text(h[HEADER_FIELD]) for _, h in dead]
    assert all(r.startswith("not JSON") for r in reasons[:3])
    assert rules[3] == "must be a JSON object, not list"
    assert fields[4] != "(body)" and rules[4]
    assert "timestamp" in fields[5]
    assert "more than the 1048576" in rules[6]
