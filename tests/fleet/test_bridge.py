"""The bridge against a real RabbitMQ node and LocalVectorVue, through the public API
(container.build_bridge): every verdict of VectorVue ends in the right place, nothing is
acked before VectorVue has it, poison is dead-lettered with its reason, a redelivery
resends the same ids under the same key, and a broker restart loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import build_bridge
from vectorvue_client.domain.bridge import (
    HEADER_ATTEMPT,
    HEADER_CODE,
    HEADER_FIELD,
    HEADER_HISTORY,
    HEADER_REASON,
    HEADER_RULE,
)
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

from .fleet_support import (
    Running,
    body_of,
    counts,
    declare_as_spectrastrike,
    drain_queue,
    envelope,
    publish,
    text,
    until,
)

BATCH = 10


@pytest.fixture
def config(
    local_vectorvue: LocalVectorVue,
    rabbitmq: RabbitMQNode,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> VectorVueConfig:
    monkeypatch.setenv("VECTORVUE_API_KEY", local_vectorvue.api_token)
    monkeypatch.setenv("VECTORVUE_BROKER_URL", rabbitmq.url)
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    return VectorVueConfig(
        base_url=local_vectorvue.url,
        ca_bundle=local_vectorvue.ca_pem_path,
        batch_size=BATCH,
        max_retries=0,  # a transient failure goes through the delay queue at once
        broker_queue=queue_name,
        broker_dead_letter_queue=f"{queue_name}.dlq",
        bridge_linger_seconds=0.05,
        bridge_backoff_base_seconds=0.05,  # delay queues of 50, 100 and 200 ms
        bridge_backoff_max_seconds=0.2,
        bridge_max_attempts=4,
    )


@pytest.fixture
def run_bridge(config: VectorVueConfig) -> Iterator[Any]:
    started: list[Running] = []

    def start(**changes: Any) -> Running:
        import msgspec

        running = Running(build_bridge(msgspec.structs.replace(config, **changes)))
        started.append(running)
        return running

    yield start
    for running in started:
        if running.report is None:
            running.finish()


def events(queue: str, count: int) -> list[dict[str, Any]]:
    return [envelope(queue, n) for n in range(count)]


def test_accepted_messages_are_acked_and_stored_once(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    documents = events(config.broker_queue, 35)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge()
    until(lambda: len(local_vectorvue.accepted_events()) == 35, "35 events stored")
    until(lambda: running.bridge.report.acked == 35, "35 acks")
    report = running.finish()
    assert counts(rabbitmq.url, config.broker_queue) == 0
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0
    assert {d["event_id"] for d in documents} == set(local_vectorvue.accepted_events())
    assert all(local_vectorvue.receipts(d["event_id"]) == 1 for d in documents)
    assert (report.received, report.acked, report.dead_lettered, report.retried) == (35, 35, 0, 0)
    assert report.items_accepted == 35


def test_nothing_is_acked_before_vectorvue_answers(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    # VectorVue holds the request: the message is received, and stays unacknowledged.
    local_vectorvue.stall_next(1, 3.0)
    publish(rabbitmq.url, config.broker_queue, [body_of(envelope(config.broker_queue, 0))])
    running = run_bridge()
    until(lambda: any(r.method == "POST" for r in local_vectorvue.requests), "the POST")
    assert running.bridge.report.acked == 0
    listed = rabbitmq.ctl("list_queues", "name", "messages_unacknowledged", "--quiet")
    unacked = dict(line.split("\t") for line in listed.splitlines() if "\t" in line)
    assert unacked[config.broker_queue] == "1"
    until(lambda: running.bridge.report.acked == 1, "the ack after the answer")
    running.finish()


def test_a_refusal_is_dead_lettered_with_the_reason(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    refusal = b'{"status":"failed","errors":[{"code":"validation_failed","message":"bad"}]}'
    local_vectorvue.fail_next(1, 422, refusal)
    documents = events(config.broker_queue, 3)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge(bridge_linger_seconds=2.0)  # the three go in one request
    until(lambda: running.bridge.report.dead_lettered == 3, "three dead letters")
    report = running.finish()
    dead = drain_queue(rabbitmq.url, config.broker_dead_letter_queue)
    assert [body for body, _ in dead] == [body_of(d) for d in documents]  # the same bytes
    for _, headers in dead:
        assert "422" in text(headers[HEADER_REASON]) or "bad" in text(headers[HEADER_REASON])
        assert text(headers[HEADER_CODE]) in ("validation_failed", "http_422")
    assert local_vectorvue.accepted_events() == {}
    assert counts(rabbitmq.url, config.broker_queue) == 0
    assert report.acked == 0 and report.retried == 0


@pytest.mark.parametrize("status", [503, 429])
def test_a_transient_failure_is_retried_through_the_delay_queue_and_stored_once(
    status: int,
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    local_vectorvue.fail_next(2, status)
    documents = events(config.broker_queue, 5)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge(bridge_linger_seconds=0.5)  # one request for the five, every time
    until(lambda: len(local_vectorvue.accepted_events()) == 5, "the five stored")
    until(lambda: running.bridge.report.acked == 5, "the five acked")
    report = running.finish()
    assert report.retried == 10  # twice each, through .retry.50ms then .retry.100ms
    assert all(local_vectorvue.receipts(d["event_id"]) == 1 for d in documents)
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0
    assert counts(rabbitmq.url, f"{config.broker_queue}.retry.50ms") == 0
    # Every attempt carried the same bytes under the same key: ids and keys come from
    # the message's content, not from its delivery.
    posts = [r for r in local_vectorvue.requests if r.method == "POST"]
    assert len(posts) == 3
    assert len({r.body for r in posts}) == 1
    assert len({r.headers["idempotency-key"] for r in posts}) == 1


def test_a_message_that_keeps_failing_ends_in_the_dead_letters_with_its_history(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    local_vectorvue.fail_next(50, 503)
    document = envelope(config.broker_queue, 0)
    publish(rabbitmq.url, config.broker_queue, [body_of(document)])
    running = run_bridge()
    until(lambda: running.bridge.report.dead_lettered == 1, "the dead letter")
    report = running.finish()
    [(body, headers)] = drain_queue(rabbitmq.url, config.broker_dead_letter_queue)
    assert body == body_of(document)
    assert headers[HEADER_ATTEMPT] == 4  # bridge_max_attempts
    assert text(headers[HEADER_REASON]).startswith("gave up after 4 attempts")
    history = [text(line) for line in headers[HEADER_HISTORY]]
    assert [line.split(":")[0] for line in history] == [f"attempt {n}" for n in (1, 2, 3, 4)]
    assert report.retried == 3
    assert local_vectorvue.accepted_events() == {}


def test_poison_messages_are_dead_lettered_with_reasons_and_the_rest_flows(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    good = envelope(config.broker_queue, 0)
    wrong_shape = {**good, "event_id": ""}  # an envelope whose id breaks a rule
    poison = [
        b"not json at all",
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        body_of({"hello": "world"}),
        body_of(wrong_shape),
        b'{"pad": "' + b"x" * (2 << 20) + b'"}',  # 2 MiB
    ]
    publish(rabbitmq.url, config.broker_queue, [*poison, body_of(good)])
    running = run_bridge()
    until(lambda: running.bridge.report.acked == 1, "the good message delivered")
    until(lambda: running.bridge.report.dead_lettered == len(poison), "the poison dead-lettered")
    running.finish()
    dead = drain_queue(rabbitmq.url, config.broker_dead_letter_queue)
    assert [body for body, _ in dead] == poison
    reasons = [text(h[HEADER_REASON]) for _, h in dead]
    fields = [text(h[HEADER_FIELD]) for _, h in dead]
    rules = [text(h[HEADER_RULE]) for _, h in dead]
    assert reasons[0].startswith("not JSON") and reasons[1].startswith("not JSON")
    assert rules[2] == "must be a JSON object, not list"
    assert fields[3] != "(body)" and rules[3]  # the decoders say what is missing
    assert "event_id" in fields[4]
    assert "more than the 1048576" in rules[5]
    assert set(local_vectorvue.accepted_events()) == {good["event_id"]}
    assert counts(rabbitmq.url, config.broker_queue) == 0


def test_a_lost_answer_resends_the_same_ids_under_the_same_key(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    # The delivery reaches VectorVue, which stores it and loses its answer (the connection
    # is reset): the bridge cannot know, and sends the messages again, as the same bytes
    # under the same key. VectorVue's batch route upserts by id (it keeps no key), so the
    # items are stored once, and each was accepted twice.
    local_vectorvue.lose_reply_next(1)
    documents = events(config.broker_queue, 4)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge(bridge_linger_seconds=0.5)
    until(lambda: running.bridge.report.acked == 4, "the four acked")
    running.finish()
    posts = [r for r in local_vectorvue.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].body == posts[1].body
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert set(local_vectorvue.accepted_events()) == {d["event_id"] for d in documents}
    assert all(local_vectorvue.receipts(d["event_id"]) == 2 for d in documents)


@pytest.mark.restarts_broker
def test_the_broker_restarted_mid_run_loses_nothing(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    first = events(config.broker_queue, 100)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in first])
    local_vectorvue.stall_next(1, 1.0)  # a batch in flight when the broker goes
    running = run_bridge()
    until(lambda: any(r.method == "POST" for r in local_vectorvue.requests), "a delivery")
    rabbitmq.restart()
    second = [envelope(config.broker_queue, n) for n in range(100, 150)]
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in second])
    everything = {d["event_id"] for d in first + second}
    until(lambda: set(local_vectorvue.accepted_events()) == everything, "all 150 stored")
    until(lambda: running.bridge.ready.is_set(), "the bridge connected again")
    report = running.finish()
    assert report.reconnects >= 1
    assert counts(rabbitmq.url, config.broker_queue) == 0
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0


def test_competing_bridges_share_the_queue_and_deliver_each_message_once(
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    run_bridge: Any,
) -> None:
    first, second = run_bridge(), run_bridge()
    until(lambda: first.bridge.ready.is_set() and second.bridge.ready.is_set(), "both ready")
    documents = events(config.broker_queue, 150)
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    until(lambda: len(local_vectorvue.accepted_events()) == 150, "the 150 stored")
    until(lambda: first.bridge.report.acked + second.bridge.report.acked == 150, "150 acks")
    reports = [first.finish(), second.finish()]
    assert all(report.acked > 0 for report in reports)  # the broker shared the messages
    assert sum(report.received for report in reports) == 150  # each message once
    assert all(local_vectorvue.receipts(d["event_id"]) == 1 for d in documents)
    assert counts(rabbitmq.url, config.broker_queue) == 0
