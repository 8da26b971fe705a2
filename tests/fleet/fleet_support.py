"""What the fleet tests share: SpectraStrike's envelopes, publishing as SpectraStrike
does, reading queues, waiting on a condition within a bound (never on a timing), and a
bridge running in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pika

from vectorvue_client.domain.bridge import BrokerMessage, Topology
from vectorvue_client.samples import sample_path
from vectorvue_client.service.bridge import Bridge, BridgeReport
from vectorvue_client.testing import MemoryBroker

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
WAIT_SECONDS = 60.0  # a bound on every wait: reached only when something is broken

_TEMPLATE = json.loads(sample_path("broker-envelope.jsonl").read_text().splitlines()[0])


def envelope(tag: str, n: int) -> dict[str, Any]:
    """A broker envelope as SpectraStrike publishes it, with its own event id."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vv-fleet/{tag}/{n}"))
    return {**_TEMPLATE, "event_id": event_id, "idempotency_key": event_id, "stream_position": n}


def body_of(document: dict[str, Any]) -> bytes:
    """SpectraStrike's bytes: keys sorted, Python's default separators, ASCII."""
    return json.dumps(document, sort_keys=True).encode()


def declare_as_spectrastrike(url: str, queue: str) -> None:
    """The main queue as SpectraStrike declares it: durable, no arguments."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        connection.channel().queue_declare(queue, durable=True)


def publish(url: str, queue: str, bodies: list[bytes]) -> None:
    """Persistent messages through the default exchange, confirmed."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))


def drain_queue(url: str, queue: str) -> list[tuple[bytes, dict[str, Any]]]:
    """Every message of `queue` (taken and acked): body and headers, in order."""
    out: list[tuple[bytes, dict[str, Any]]] = []
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((body, dict(properties.headers or {})))


def counts(url: str, queue: str) -> int:
    """Messages ready in `queue` (a passive declare: unacknowledged ones are not counted,
    so call it when no consumer holds any)."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        frame = connection.channel().queue_declare(queue, passive=True)
        return int(frame.method.message_count)


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for `condition`, checked every 50 ms, failing after WAIT_SECONDS."""
    ends = time.monotonic() + WAIT_SECONDS
    pause = threading.Event()
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"gave up waiting for {what}")
        pause.wait(0.05)


def text(value: object) -> str:
    """A header value as text (pika gives long strings as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The console script with a clean VECTORVUE_* environment plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        env={**clean, **env},
        check=False,
    )


class Running:
    """A bridge on a thread of its own, stopped (and its report kept) at the end."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.stop = threading.Event()
        self.report: BridgeReport | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.report = self.bridge.run(self.stop)

    def finish(self) -> BridgeReport:
        self.stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        self.bridge.close()
        assert self.report is not None
        return self.report


class WrappedBroker:
    """The memory broker behind the Broker port with every call passed through: a test
    subclasses it and overrides only the calls whose failure or timing it stages."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    def connect(self, topology: Topology, prefetch: int, create: str | None) -> None:
        self.broker.connect(topology, prefetch, create)

    def receive(self, limit: int, wait: float) -> list[BrokerMessage]:
        return self.broker.receive(limit, wait)

    def take(self, queue: str, limit: int) -> list[BrokerMessage]:
        return self.broker.take(queue, limit)

    def ack(self, tags: Sequence[int]) -> None:
        self.broker.ack(tags)

    def requeue(self, tags: Sequence[int]) -> None:
        self.broker.requeue(tags)

    def publish(self, queue: str, body: bytes, headers: Any) -> None:
        self.broker.publish(queue, body, headers)

    def depth(self, queue: str) -> int:
        return self.broker.depth(queue)

    def close(self) -> None:
        self.broker.close()
