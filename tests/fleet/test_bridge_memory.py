"""The bridge's stop and reconnect paths, on the in-memory broker (which keeps the
broker's promises: tests/fleet/test_broker_contract.py) and LocalVectorVue: a stop never
acks what was not delivered, and a lost broker is reconnected to with backoff."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import build_client
from vectorvue_client.domain.bridge import BrokerError, BrokerMessage, Topology
from vectorvue_client.service.bridge import Bridge
from vectorvue_client.testing import FakeClock, LocalVectorVue, MemoryBroker

from .fleet_support import WrappedBroker, body_of, envelope

QUEUE = "telemetry.events"


@pytest.fixture
def config(local_vectorvue: LocalVectorVue, monkeypatch: pytest.MonkeyPatch) -> VectorVueConfig:
    monkeypatch.setenv("VECTORVUE_API_KEY", local_vectorvue.api_token)
    return VectorVueConfig(
        base_url=local_vectorvue.url,
        ca_bundle=local_vectorvue.ca_pem_path,
        batch_size=4,
        bridge_linger_seconds=0.01,
    )


class StopAfterReceiving(WrappedBroker):
    """The memory broker, with a stop requested as soon as messages were handed out:
    the bridge holds them, unsent, when it sees the stop."""

    def __init__(self, broker: MemoryBroker, stop: threading.Event) -> None:
        super().__init__(broker)
        self.stop = stop

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        got = self.broker.receive(limit, wait)
        if got:
            self.stop.set()
        return got


def test_a_stop_gives_back_what_was_received_and_not_sent(
    config: VectorVueConfig, local_vectorvue: LocalVectorVue
) -> None:
    clock = FakeClock()
    memory = MemoryBroker(clock.time, clock.advance)
    memory.declare_queue(QUEUE)
    memory.connect(Topology(QUEUE, "dlq", 1.0, 2.0, 3), 10, None)
    bodies = [body_of(envelope("stop", n)) for n in range(3)]
    for body in bodies:
        memory.publish(QUEUE, body, {})
    stop = threading.Event()
    client = build_client(config)
    bridge = Bridge(client=client, broker=StopAfterReceiving(memory, stop), clock=clock)
    report = bridge.run(stop)
    bridge.close()
    assert (report.received, report.returned, report.acked) == (3, 3, 0)
    assert memory.bodies(QUEUE) == bodies  # back in order, none acked
    assert not [r for r in local_vectorvue.requests if r.method == "POST"]


class DownTwice(WrappedBroker):
    """The memory broker, unreachable for the first two connections."""

    def __init__(
        self, broker: MemoryBroker, stop: threading.Event, done: Callable[[], bool]
    ) -> None:
        super().__init__(broker)
        self.stop = stop
        self.done = done
        self.refused = 0

    def connect(self, topology: Topology, prefetch: int, create: str | None) -> None:
        if self.refused < 2:
            self.refused += 1
            raise BrokerError("broker connect failed: connection refused")
        self.broker.connect(topology, prefetch, create)

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        if self.done():
            self.stop.set()
        return self.broker.receive(limit, wait)


def test_an_unreachable_broker_is_retried_with_the_domain_backoff(
    config: VectorVueConfig, local_vectorvue: LocalVectorVue
) -> None:
    clock = FakeClock()
    memory = MemoryBroker(clock.time, clock.advance)
    memory.declare_queue(QUEUE)
    documents = [envelope("down", n) for n in range(5)]
    stop = threading.Event()
    broker = DownTwice(memory, stop, lambda: len(local_vectorvue.accepted_events()) == 5)
    memory.connect(Topology(QUEUE, "dlq", 1.0, 2.0, 3), 10, None)
    for document in documents:
        memory.publish(QUEUE, body_of(document), {})
    memory.drop_connection()
    bridge = Bridge(client=build_client(config), broker=broker, clock=clock)
    report = bridge.run(stop)
    bridge.close()
    assert report.reconnects == 2
    assert clock.sleeps == [1.0, 2.0]  # the backoff: base 1 s, then doubled
    assert set(local_vectorvue.accepted_events()) == {d["event_id"] for d in documents}
    assert report.acked == 5
