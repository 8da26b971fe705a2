"""`vectorvue-client bridge` through the real console script, against a real RabbitMQ
node and LocalVectorVue: it says when it is ready, stops cleanly on SIGTERM (finishing
the batch in delivery, acking nothing undelivered, exit 0, a --json summary), a bridge
killed with SIGKILL mid-batch loses nothing (the next one gets the same messages and
sends the same bytes under the same key), and --declare quorum creates a quorum queue.
`bridge retry` puts chosen dead letters back in line, where a bridge delivers them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

from .fleet_support import (
    WAIT_SECONDS,
    body_of,
    counts,
    declare_as_spectrastrike,
    drain_queue,
    envelope,
    publish,
    text,
    until,
)
from .proof_support import SCRIPT, BridgeProcess

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


def cli(
    env: dict[str, str], *args: str, hide: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script, run to its end with `env` as its only VECTORVUE_* settings;
    with `hide` (a directory), as if pika (the fleet extra) were not installed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    if hide is not None:
        # Every import of pika then raises the interpreter's own ModuleNotFoundError.
        (hide / "sitecustomize.py").write_text("import sys\nsys.modules['pika'] = None\n")
        clean["PYTHONPATH"] = os.pathsep.join(p for p in (str(hide), clean.get("PYTHONPATH")) if p)
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


def dead_letter_as_the_bridge(url: str, queue: str, letters: list[tuple[bytes, str]]) -> None:
    """Messages in `queue`'s dead letters as the bridge leaves them: out of attempts (5,
    with their history) or refused, the reason in x-vv-reason."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare(f"{queue}.dlq", durable=True)
        for body, reason in letters:
            headers: dict[str, Any] = {"x-vv-reason": reason}
            if reason.startswith("gave up"):
                history = [f"attempt {n}: http_503: unavailable" for n in range(1, 6)]
                headers |= {"x-vv-attempt": 5, "x-vv-history": history}
            properties = pika.BasicProperties(delivery_mode=2, headers=headers)
            channel.basic_publish("", f"{queue}.dlq", body, properties)


def test_retry_puts_the_chosen_dead_letters_back_and_a_bridge_delivers_them(
    rabbitmq: RabbitMQNode,
    local_vectorvue: LocalVectorVue,
    queue_name: str,
    env: dict[str, str],
) -> None:
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    documents = [envelope(queue_name, n) for n in range(3)]
    gave_up = "gave up after 5 attempts: http_503: unavailable"
    letters = [
        (body_of(documents[0]), gave_up),
        (b"not json 0", "not JSON: malformed"),
        (body_of(documents[1]), gave_up),
        (b"not json 1", "not JSON: malformed"),
        (body_of(documents[2]), gave_up),
    ]
    dead_letter_as_the_bridge(rabbitmq.url, queue_name, letters)
    env = {**env, "VECTORVUE_BRIDGE_MAX_ATTEMPTS": "5"}

    first = cli(env, "bridge", "retry", "--reason-contains", "http_503", "--limit", "2", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {
        "requeued": 2,
        "skipped": 3,  # the two refused, and the third past the limit
        "queue": queue_name,
        "dead_letter_queue": f"{queue_name}.dlq",
    }
    assert counts(rabbitmq.url, queue_name) == 2
    second = cli(env, "bridge", "retry", "--reason-contains", "HTTP_503")  # any letter case
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"1 dead letter(s) back in line in {queue_name}; 2 ")
    assert counts(rabbitmq.url, queue_name) == 3

    # Each has its attempts afresh: a 503 now sends it through a delay queue, where with
    # its 5 past attempts it would go straight back to the dead letters.
    local_vectorvue.fail_next(1, 503)
    bridge = BridgeProcess(env)
    try:
        until(
            lambda: set(local_vectorvue.accepted_events()) == {d["event_id"] for d in documents},
            "every event put back delivered",
        )
        code, summary = bridge.stop()
    finally:
        if bridge.alive():
            bridge.kill()
    assert code == 0
    assert summary["retried"] == 3 and summary["acked"] == 3 and summary["dead_lettered"] == 0
    left = drain_queue(rabbitmq.url, f"{queue_name}.dlq")
    assert [(body, text(h["x-vv-reason"])) for body, h in left] == [
        (b"not json 0", "not JSON: malformed"),
        (b"not json 1", "not JSON: malformed"),
    ]


def test_retry_without_the_fleet_extra_names_it(
    env: dict[str, str], queue_name: str, tmp_path: Path
) -> None:
    ran = cli(env, "bridge", "retry", hide=tmp_path)
    assert ran.returncode == 2
    assert ran.stdout == ""
    [line] = ran.stderr.splitlines()
    assert "pip install 'vectorvue-client[fleet]'" in line and "pika" in line
    assert "guest:guest" not in ran.stderr  # the broker URL's password


def test_retry_does_not_take_the_bridges_declare(env: dict[str, str]) -> None:
    ran = cli(env, "bridge", "--declare", "quorum", "retry")
    assert ran.returncode == 2
    assert "bridge retry does not take --declare" in ran.stderr
