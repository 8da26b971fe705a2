"""The RabbitMQ outbox's promises under attack, on a real node: `outbox drain` processes
killed with SIGKILL mid-batch ten times, two draining at once, lose nothing and resend
the same items; the broker restarted in the middle of a stream of enqueues loses nothing
that `enqueue` returned for (publisher confirms), while a worker drains through it."""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import build_client
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode
from vectorvue_client.testing.receiver_faults import Chaos

from .fleet_support import SCRIPT, envelope, run_cli
from .proof_support import Answers, assert_resends_identical, queue_counts, wait_for

BOUND_SECONDS = 300.0  # reached only when something is broken


def outbox_env(vv: LocalVectorVue, node: RabbitMQNode, queue: str) -> dict[str, str]:
    return {
        "VECTORVUE_BASE_URL": vv.url,
        "VECTORVUE_CA_BUNDLE": vv.ca_pem_path,
        "VECTORVUE_API_KEY": vv.api_token,
        "VECTORVUE_BROKER_URL": node.url,
        "VECTORVUE_OUTBOX_BACKEND": "rabbitmq",
        "VECTORVUE_OUTBOX_QUEUE": queue,
        "VECTORVUE_BATCH_SIZE": "20",
        "VECTORVUE_MAX_RETRIES": "0",
        "VECTORVUE_OUTBOX_BACKOFF_BASE_SECONDS": "0.05",
        "VECTORVUE_OUTBOX_BACKOFF_MAX_SECONDS": "0.2",
    }


@pytest.fixture
def drains() -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(SCRIPT), "outbox", "drain"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def assert_outbox_empty(node: RabbitMQNode, queue: str) -> None:
    """The outbox queue, its dead letters and its delay queues hold nothing."""
    left = {name: n for name, n in queue_counts(node, queue).items() if n != (0, 0)}
    assert left == {}


def test_drains_killed_mid_batch_ten_times_lose_nothing(
    rabbitmq: RabbitMQNode,
    local_vectorvue_factory: Callable[..., LocalVectorVue],
    queue_name: str,
    drains: Callable[[dict[str, str]], subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = Answers()
    vv = local_vectorvue_factory(rate_limit_per_minute=10**9, log=answers)
    vv.chaos(Chaos(latency=0.3))  # each request held a while: a batch is in flight long enough
    env = outbox_env(vv, rabbitmq, queue_name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    documents = [envelope(queue_name, n) for n in range(2000)]
    with build_client(VectorVueConfig.from_env()) as client:
        client.enqueue_many(documents)
    clean = {**_clean_environment(), **env}
    running = [drains(clean), drains(clean)]
    for kill in range(10):
        victim = running[kill % 2]
        wait_for(
            functools.partial(answers.in_flight_from, vv, victim.pid),
            f"drain {victim.pid} in the middle of a batch",
            BOUND_SECONDS,
        )
        victim.kill()
        victim.wait()
        running[kill % 2] = drains(clean)
    for process in running:
        assert process.wait(BOUND_SECONDS) == 0
    # The killed drains' claims went back to the queue when their connections died; a
    # last drain takes whatever came back after the others had finished.
    last = run_cli("outbox", "drain", env=env)
    assert last.returncode == 0, last.stderr
    ids = {d["event_id"] for d in documents}
    assert set(vv.accepted_events()) == ids
    assert_outbox_empty(rabbitmq, queue_name)
    # Killed mid-batch: those items reached VectorVue and were sent again, as the same items
    # (and a body sent again under the same Idempotency-Key).
    assert assert_resends_identical(vv) > 0


@pytest.mark.restarts_broker
def test_the_broker_restarted_mid_enqueue_loses_nothing_enqueue_returned_for(
    rabbitmq: RabbitMQNode,
    local_vectorvue_factory: Callable[..., LocalVectorVue],
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vv = local_vectorvue_factory(rate_limit_per_minute=10**9)
    vv.chaos(Chaos(latency=0.05))  # the worker lags: items wait in the broker at the restart
    for name, value in outbox_env(vv, rabbitmq, queue_name).items():
        monkeypatch.setenv(name, value)
    config = VectorVueConfig.from_env()
    producer = _Producer(config, queue_name)
    with build_client(config) as worker:
        worker.start_worker()  # drains all along, through the restart
        producer.start()
        wait_for(lambda: producer.rounds >= 10, "enqueues under way", BOUND_SECONDS)
        rabbitmq.restart()
        after = producer.rounds
        wait_for(lambda: producer.rounds >= after + 10, "enqueues after the restart", BOUND_SECONDS)
        producer.finish()
        wait_for(
            lambda: set(vv.accepted_events()) == producer.returned,
            "every item enqueue returned for, delivered",
            BOUND_SECONDS,
        )
        assert worker.stop_worker()
    assert producer.refused >= 1  # the restart came in the middle of the enqueues
    assert len(producer.returned) == 20 * producer.rounds
    assert_outbox_empty(rabbitmq, queue_name)


class _Producer:
    """Enqueues rounds of 20 envelopes on a thread; a round the outbox refused (the broker
    is going down or starting) is enqueued again, as a caller would."""

    def __init__(self, config: VectorVueConfig, tag: str) -> None:
        self._config = config
        self._tag = tag
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.rounds = 0
        self.refused = 0
        self.returned: set[str] = set()

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join(BOUND_SECONDS)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        pause = threading.Event()
        with build_client(self._config) as client:
            while not self._stop.is_set():
                first = self.rounds * 20
                documents: list[dict[str, Any]] = [
                    envelope(self._tag, n) for n in range(first, first + 20)
                ]
                try:
                    client.enqueue_many(documents)
                except VectorVueOutboxError:
                    self.refused += 1
                    pause.wait(0.1)  # the broker is restarting: try the round again
                    continue
                self.returned |= {d["event_id"] for d in documents}
                self.rounds += 1


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
