"""`vectorvue-client bridge` through the real console script, against a real RabbitMQ
node and LocalVectorVue: it says when it is ready, stops cleanly on SIGTERM (finishing
the batch in delivery, acking nothing undelivered, exit 0, a --json summary), a bridge
killed with SIGKILL mid-batch loses nothing (the next one gets the same messages and
sends the same bytes under the same key), and --declare quorum creates a quorum queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

from .fleet_support import (
    body_of,
    counts,
    declare_as_spectrastrike,
    envelope,
    publish,
    until,
)
from .proof_support import BridgeProcess

BATCH = 5


@pytest.fixture
def env(local_vectorvue: LocalVectorVue, rabbitmq: RabbitMQNode, queue_name: str) -> dict[str, str]:
    return {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_BROKER_URL": rabbitmq.url,
        "VECTORVUE_BROKER_QUEUE": queue_name,
        "VECTORVUE_BROKER_DEAD_LETTER_QUEUE": f"{queue_name}.dlq",
        "VECTORVUE_BATCH_SIZE": str(BATCH),
        "VECTORVUE_MAX_RETRIES": "0",
        "VECTORVUE_BRIDGE_LINGER_SECONDS": "2",  # a batch is the BATCH messages published
        "VECTORVUE_BRIDGE_BACKOFF_BASE_SECONDS": "0.05",
        "VECTORVUE_BRIDGE_BACKOFF_MAX_SECONDS": "0.2",
    }


@pytest.fixture
def bridges(env: dict[str, str]) -> Iterator[Any]:
    started: list[BridgeProcess] = []

    def start(*args: str) -> BridgeProcess:
        bridge = BridgeProcess(env, *args)
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        if bridge.process.poll() is None:
            bridge.kill()


def posts(vv: LocalVectorVue) -> list[Any]:
    return [r for r in vv.requests if r.method == "POST"]


def test_sigterm_finishes_the_batch_in_delivery_and_exits_0_with_a_summary(
    rabbitmq: RabbitMQNode, local_vectorvue: LocalVectorVue, queue_name: str, bridges: Any
) -> None:
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    documents = [envelope(queue_name, n) for n in range(BATCH)]
    publish(rabbitmq.url, queue_name, [body_of(d) for d in documents])
    local_vectorvue.stall_next(1, 2.0)  # VectorVue holds the batch when SIGTERM comes
    bridge = bridges()
    until(bridge.ready, "the readiness line")
    until(lambda: len(posts(local_vectorvue)) == 1, "the batch in delivery")
    code, summary = bridge.stop()
    assert code == 0, bridge.lines
    assert summary["acked"] == BATCH and summary["received"] == BATCH
    assert summary["returned"] == 0 and summary["dead_lettered"] == 0
    assert set(local_vectorvue.accepted_events()) == {d["event_id"] for d in documents}
    assert counts(rabbitmq.url, queue_name) == 0
    assert "bridge: stopping" in bridge.lines


def test_a_bridge_killed_mid_batch_loses_nothing_and_the_next_resends_the_same(
    rabbitmq: RabbitMQNode, local_vectorvue: LocalVectorVue, queue_name: str, bridges: Any
) -> None:
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    documents = [envelope(queue_name, n) for n in range(BATCH)]
    publish(rabbitmq.url, queue_name, [body_of(d) for d in documents])
    local_vectorvue.stall_next(1, 3.0)
    first = bridges()
    until(lambda: len(posts(local_vectorvue)) == 1, "the first bridge's batch in delivery")
    first.kill()  # SIGKILL: no ack was sent, the broker gives the messages back
    second = bridges()
    until(
        lambda: set(local_vectorvue.accepted_events()) == {d["event_id"] for d in documents},
        "every event stored",
    )
    code, summary = second.stop()
    assert code == 0
    assert summary["acked"] == BATCH
    sent = posts(local_vectorvue)
    assert len(sent) == 2
    assert sent[0].body == sent[1].body  # the same items, ids and bytes
    assert sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]
    assert counts(rabbitmq.url, queue_name) == 0
    assert counts(rabbitmq.url, f"{queue_name}.dlq") == 0


def test_declare_quorum_creates_a_quorum_queue_and_delivers_from_it(
    rabbitmq: RabbitMQNode, local_vectorvue: LocalVectorVue, queue_name: str, bridges: Any
) -> None:
    bridge = bridges("--declare", "quorum")
    until(bridge.ready, "the readiness line")
    listed = rabbitmq.ctl("list_queues", "name", "type", "--quiet")
    kinds = dict(line.split("\t") for line in listed.splitlines() if "\t" in line)
    assert kinds[queue_name] == "quorum"
    document = envelope(queue_name, 0)
    publish(rabbitmq.url, queue_name, [body_of(document)])
    until(lambda: document["event_id"] in local_vectorvue.accepted_events(), "the event stored")
    code, summary = bridge.stop()
    assert code == 0 and summary["acked"] == 1


def test_without_declare_a_missing_queue_is_reported_not_created(
    rabbitmq: RabbitMQNode, queue_name: str, bridges: Any
) -> None:
    bridge = bridges()
    until(lambda: any("NOT_FOUND" in line for line in bridge.lines), "the broker's refusal")
    code, summary = bridge.stop()
    assert code == 0 and summary["received"] == 0
    assert queue_name not in rabbitmq.ctl("list_queues", "name", "--quiet").split()


def test_the_broker_password_is_never_written(
    rabbitmq: RabbitMQNode, queue_name: str, env: dict[str, str]
) -> None:
    # A broker that refuses the login: pika's error, the health line and the summary are
    # all written, and the password in the URL appears in none of them.
    password = "broker-pass-7f3c9a"
    url = rabbitmq.url.replace("guest:guest", f"guest:{password}")
    bridge = BridgeProcess({**env, "VECTORVUE_BROKER_URL": url}, "--debug")
    try:
        until(lambda: any("reconnecting" in line for line in bridge.lines), "the failure line")
        code, summary = bridge.stop()
    finally:
        if bridge.process.poll() is None:
            bridge.kill()
    assert code == 0
    assert password not in "\n".join(bridge.lines) + json.dumps(summary)
    assert summary["last_error"]
