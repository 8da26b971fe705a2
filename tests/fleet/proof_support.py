"""What issue 14's proofs share: `vectorvue-client bridge` run as real processes, the
broker's queue counts, which bridge process a request to LocalVectorVue came from, and
the checks every proof ends with (nothing lost, nothing stored twice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pika

from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode
from vectorvue_client.testing.receiver_http import RecordedRequest

from .fleet_support import WAIT_SECONDS

SCRIPT = Path(sys.executable).with_name("vectorvue-client")


class BridgeProcess:
    """One `vectorvue-client bridge --json` process; its stderr read as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
        self.process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(SCRIPT), "bridge", "--json", *args],
            env={**clean, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def ready(self) -> bool:
        """Whether it has said it is ready."""
        return self.readiness() > 0

    def readiness(self) -> int:
        """How many times it said it was ready (once per connection to the broker)."""
        return sum(1 for line in self.lines if line.startswith("bridge: ready"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> tuple[int, dict[str, Any]]:
        """SIGTERM; its exit status and --json summary."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=WAIT_SECONDS)  # the summary is one short line: no pipe fills
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        self._close()
        return self.process.returncode, json.loads(out)

    def kill(self) -> None:
        """SIGKILL: no chance to settle, give back or say anything."""
        self.process.kill()
        self.process.wait(timeout=WAIT_SECONDS)
        self._close()

    def _close(self) -> None:
        self._reader.join(WAIT_SECONDS)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def bridge_env(
    vv: LocalVectorVue, node: RabbitMQNode, queue: str, **settings: str
) -> dict[str, str]:
    """The environment of a bridge on `queue` delivering to `vv`; `settings` are more
    VECTORVUE_ variables, by their name without the prefix (bridge_max_attempts="9")."""
    return {
        "VECTORVUE_BASE_URL": vv.url,
        "VECTORVUE_CA_BUNDLE": vv.ca_pem_path,
        "VECTORVUE_API_KEY": vv.api_token,
        "VECTORVUE_BROKER_URL": node.url,
        "VECTORVUE_BROKER_QUEUE": queue,
        "VECTORVUE_BROKER_DEAD_LETTER_QUEUE": f"{queue}.dlq",
        "VECTORVUE_MAX_RETRIES": "0",  # a transient failure goes through the delay queue
        "VECTORVUE_BRIDGE_BACKOFF_BASE_SECONDS": "0.05",
        "VECTORVUE_BRIDGE_BACKOFF_MAX_SECONDS": "0.2",
        **{f"VECTORVUE_{k.upper()}": v for k, v in settings.items()},
    }


def queue_counts(node: RabbitMQNode, prefix: str) -> dict[str, tuple[int, int]]:
    """(ready, unacknowledged) of every queue whose name starts with `prefix`: the main
    queue, its dead letters and its delay queues."""
    listed = node.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged", "-q")
    out: dict[str, tuple[int, int]] = {}
    for line in listed.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith(prefix) and parts[1].isdigit():
            out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out


def publish_confirmed(url: str, queue: str, bodies: list[bytes]) -> None:
    """Persistent messages, each confirmed by the broker, as the outbox side publishes: a
    publish the broker did not confirm (it was going down) is published again."""
    left = list(bodies)
    while left:
        try:
            with pika.BlockingConnection(pika.URLParameters(url)) as connection:
                channel = connection.channel()
                channel.confirm_delivery()
                while left:
                    channel.basic_publish(
                        "", queue, left[0], pika.BasicProperties(delivery_mode=2), mandatory=True
                    )
                    left.pop(0)
        except (pika.exceptions.AMQPError, OSError):
            # The broker is restarting: wait for it by trying again (each try is a connect).
            threading.Event().wait(0.2)


def _socket_ports(pid: int) -> set[int]:
    """The local TCP ports of process `pid`'s sockets (from /proc: its fds' inodes)."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class Answers:
    """LocalVectorVue's log hook: which requests were answered (a request is recorded on
    arrival, before any injected fault or stall, and logged once answered)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered: Counter[tuple[int, bytes]] = Counter()

    def __call__(self, request: RecordedRequest, _status: int) -> None:
        with self._lock:
            self._answered[(request.peer[1], request.body)] += 1

    def in_flight_from(self, vv: LocalVectorVue, pid: int) -> bool:
        """Whether process `pid` has a POST that LocalVectorVue received and not answered."""
        ports = _socket_ports(pid)
        arrived = Counter(
            (r.peer[1], r.body) for r in vv.requests if r.method == "POST" and r.peer[1] in ports
        )
        with self._lock:
            return any(n > self._answered[key] for key, n in arrived.items())


def posted_items(vv: LocalVectorVue) -> Iterator[tuple[dict[str, Any], str]]:
    """Every event item of every batch POST LocalVectorVue received (faulted ones too),
    with the request's Idempotency-Key."""
    for request in vv.requests:
        if request.method == "POST" and request.body.startswith(b"["):
            for item in json.loads(request.body):
                yield item, request.headers.get("idempotency-key", "")


def assert_resends_identical(vv: LocalVectorVue) -> int:
    """Every item sent more than once went out as the same item (same id, same envelope
    key, same content), and a request sent again with the same body had the same
    Idempotency-Key; returns how many items were sent more than once."""
    keys: dict[bytes, set[str]] = {}
    for request in vv.requests:
        if request.method == "POST":
            keys.setdefault(request.body, set()).add(request.headers.get("idempotency-key", ""))
    assert all(len(k) == 1 for k in keys.values())
    copies: dict[str, set[bytes]] = {}
    sent: Counter[str] = Counter()
    for item, _key in posted_items(vv):
        assert item["metadata"]["envelope"]["idempotency_key"] == item["event_id"]
        copies.setdefault(item["event_id"], set()).add(json.dumps(item, sort_keys=True).encode())
        sent[item["event_id"]] += 1
    assert all(len(versions) == 1 for versions in copies.values())
    return sum(1 for n in sent.values() if n > 1)


def wait_for(condition: Callable[[], bool], what: str, seconds: float) -> None:
    """Wait for `condition`, checked every 50 ms, failing after `seconds` (a bound reached
    only when something is broken, never a timing)."""
    ends = time.monotonic() + seconds
    pause = threading.Event()
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"gave up waiting for {what}")
        pause.wait(0.05)
