"""`outbox_backend = "rabbitmq"` through the public API and the console script, against a
real RabbitMQ node and LocalVectorVue: enqueue is durable before it returns, a drain
delivers each item once, a transient failure waits in a delay queue and is delivered
later, a refusal is a dead letter with VectorVue's reason that `outbox retry` sends again,
two clients share one outbox queue, and `outbox stats|dead|drain` work on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import build_client
from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueOutboxError
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode

from .fleet_support import counts, run_cli, until


def finding(n: int, tag: str = "rmq") -> dict[str, Any]:
    return {
        "finding_id": f"{tag}-{n:05d}",
        "title": f"Weak cipher suite on service {n}",
        "description": "TLS 1.0 with CBC suites is enabled.",
        "severity": "medium",
        "first_seen": 1_795_564_800 + n,
        "asset_ref": f"203.0.113.{n % 250}",
    }


@pytest.fixture
def config(
    local_vectorvue: LocalVectorVue,
    rabbitmq: RabbitMQNode,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> VectorVueConfig:
    monkeypatch.setenv("VECTORVUE_API_KEY", local_vectorvue.api_token)
    monkeypatch.setenv("VECTORVUE_BROKER_URL", rabbitmq.url)
    return VectorVueConfig(
        base_url=local_vectorvue.url,
        ca_bundle=local_vectorvue.ca_pem_path,
        outbox_backend="rabbitmq",
        outbox_queue=queue_name,
        batch_size=25,
        max_retries=0,  # a transient failure goes to a delay queue at once
        outbox_backoff_base_seconds=0.05,
        outbox_backoff_max_seconds=0.1,
    )


@pytest.fixture
def client(config: VectorVueConfig) -> Iterator[VectorVueClient]:
    with build_client(config) as opened:
        yield opened


def test_enqueue_then_drain_delivers_every_item_once(
    client: VectorVueClient,
    local_vectorvue: LocalVectorVue,
    rabbitmq: RabbitMQNode,
    queue_name: str,
) -> None:
    keys = client.enqueue_many([finding(n) for n in range(60)])
    assert keys == [f"finding:rmq-{n:05d}" for n in range(60)]
    assert counts(rabbitmq.url, queue_name) == 60  # in the broker before any send
    assert local_vectorvue.requests == []
    report = client.drain()
    assert (report.delivered, report.rescheduled, report.dead, report.pending) == (60, 0, 0, 0)
    assert report.stopped_by == "empty"
    assert set(local_vectorvue.accepted_findings()) == {f"rmq-{n:05d}" for n in range(60)}
    assert counts(rabbitmq.url, queue_name) == 0


def test_a_transient_failure_waits_in_a_delay_queue_then_is_delivered(
    client: VectorVueClient, local_vectorvue: LocalVectorVue
) -> None:
    client.enqueue_many([finding(n) for n in range(10)])
    local_vectorvue.fail_next(1, 503)
    report = client.drain()
    assert (report.delivered, report.rescheduled) == (0, 10)
    assert report.pending == 10  # waiting in the broker's delay queue
    assert report.next_due_in_seconds is not None
    delivered = 0

    def drained() -> bool:
        nonlocal delivered
        delivered += client.drain().delivered
        return delivered == 10

    until(drained, "the items back from the delay queue, delivered")
    assert len(local_vectorvue.accepted_findings()) == 10
    assert client.outbox.stats().pending == 0


def test_a_refusal_is_a_dead_letter_with_the_reason_and_can_be_retried(
    client: VectorVueClient, local_vectorvue: LocalVectorVue
) -> None:
    client.enqueue_many([finding(n) for n in range(3)])
    refusal = b'{"status":"failed","errors":[{"code":"validation_failed","message":"bad"}]}'
    local_vectorvue.fail_next(1, 422, refusal)
    report = client.drain()
    assert (report.delivered, report.dead) == (0, 3)
    letters = client.outbox.dead_letters()
    assert [letter.key for letter in letters] == [f"finding:rmq-{n:05d}" for n in range(3)]
    assert all(letter.status_code == 422 for letter in letters)
    assert all("HTTP 422" in letter.reason for letter in letters)
    assert client.outbox.retry_dead() == 3
    assert client.drain().delivered == 3
    assert client.outbox.stats().dead == 0


def test_two_clients_share_one_outbox_queue(
    config: VectorVueConfig, local_vectorvue: LocalVectorVue
) -> None:
    with build_client(config) as producer, build_client(config) as consumer:
        producer.enqueue_many([finding(n) for n in range(40)])
        assert consumer.drain().delivered == 40
    assert len(local_vectorvue.accepted_findings()) == 40


def test_the_worker_delivers_what_another_process_enqueues(
    config: VectorVueConfig, local_vectorvue: LocalVectorVue
) -> None:
    with build_client(config) as worker, build_client(config) as producer:
        worker.start_worker()
        producer.enqueue_many([finding(n) for n in range(30)])
        until(lambda: len(local_vectorvue.accepted_findings()) == 30, "the worker to deliver")
        assert worker.stop_worker()


def test_without_the_broker_url_the_setting_is_named(
    config: VectorVueConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VECTORVUE_BROKER_URL")
    with build_client(config) as client, pytest.raises(VectorVueConfigError) as raised:
        client.enqueue(finding(1))
    assert raised.value.field == "broker_url_env"


def test_an_enqueue_the_broker_cannot_take_raises_and_stores_nothing_half(
    config: VectorVueConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTORVUE_BROKER_URL", "amqp://guest:guest@127.0.0.1:9/%2F")
    with build_client(config) as client, pytest.raises(VectorVueOutboxError, match="connecting"):
        client.enqueue(finding(1))


def test_outbox_path_with_the_rabbitmq_backend_is_refused(queue_name: str) -> None:
    with pytest.raises(VectorVueConfigError) as raised:
        VectorVueConfig(
            base_url="https://vv.example",
            outbox_backend="rabbitmq",
            outbox_path="outbox.sqlite3",
        )
    assert raised.value.field == "outbox_path"
    with pytest.raises(VectorVueConfigError) as raised:
        VectorVueConfig(base_url="https://vv.example", outbox_queue="telemetry.events")
    assert raised.value.field == "outbox_queue"


def test_the_command_line_enqueues_inspects_drains_and_retries(
    local_vectorvue: LocalVectorVue, rabbitmq: RabbitMQNode, queue_name: str, tmp_path: Path
) -> None:
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_BROKER_URL": rabbitmq.url,
        "VECTORVUE_OUTBOX_BACKEND": "rabbitmq",
        "VECTORVUE_OUTBOX_QUEUE": queue_name,
        "VECTORVUE_MAX_RETRIES": "0",
    }
    source = tmp_path / "findings.jsonl"
    source.write_text("".join(json.dumps(finding(n, "cli")) + "\n" for n in range(12)))
    enqueued = run_cli("send", "--enqueue", str(source), "--json", env=env)
    assert enqueued.returncode == 0, enqueued.stderr
    stats = run_cli("outbox", "stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["pending"] == 12
    shown = run_cli("outbox", "stats", env=env).stdout
    assert "unknown" in shown  # the broker cannot tell the oldest item's age
    refusal = b'{"status":"failed","errors":[{"code":"validation_failed","message":"bad"}]}'
    local_vectorvue.fail_next(1, 422, refusal)
    drained = run_cli("outbox", "drain", "--json", env=env)
    assert json.loads(drained.stdout)["dead"] == 12, drained.stderr
    dead = run_cli("outbox", "dead", "--json", env=env)
    letters = json.loads(dead.stdout)["dead_letters"]
    assert len(letters) == 12
    assert all("HTTP 422" in letter["reason"] for letter in letters)
    assert "guest" not in dead.stdout + dead.stderr  # the broker URL's password
    retried = run_cli("outbox", "retry", "--all", env=env)
    assert retried.returncode == 0, retried.stderr
    drained = run_cli("outbox", "drain", "--json", env=env)
    assert json.loads(drained.stdout)["delivered"] == 12, drained.stderr
    assert len(local_vectorvue.accepted_findings()) == 12
    assert json.loads(run_cli("outbox", "stats", "--json", env=env).stdout)["dead"] == 0
