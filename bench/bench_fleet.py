"""Fleet figures on a real RabbitMQ node (Debian's rabbitmq-server, started here on
127.0.0.1 with its own data):

- the floor of delivery through the broker, a bare pika consume-and-ack loop, with 1, 2
  and 4 consumer processes, and how much of the machine the broker itself takes (its CPU
  seconds per second of the run);
- events/s end to end, from SpectraStrike's queue to the receiver, with 1, 2 and 4
  `vectorvue-client bridge` processes (the real console script, integration-API profile,
  batches of 100) delivering to the fastest receiver bench/receivers.py offers, with the
  broker's and the bridges' CPU over the same window;
- the peak RSS (VmHWM) of one bridge process working through the first part of a backlog
  of 1,000,000 messages;
- the RabbitMQ outbox (`outbox_backend = "rabbitmq"`) beside the SQLite one in the same run:
  put (records/s, batches of 10,000 records of ~600 bytes, every one confirmed) and claim
  + delivered (items/s, claims of 250, as a drain does).

    .venv/bin/python bench/bench_fleet.py            # 100,000 messages; a 1M backlog
    .venv/bin/python bench/bench_fleet.py --smoke    # 5,000 / 10,000: what CI runs

Nothing is asserted. Without rabbitmq-server installed it says so and exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_outbox import BATCH as PUT_BATCH
from bench_outbox import CLAIM, NOW, _batches, _drain
from receivers import TOKEN, Receiver, fastest

PREFETCH = 500
ACK_EVERY = 250  # one multiple-ack per this many messages, as the contract's measure did
BODY = (
    b'{"actor": "op-001", "attempt": 1, "attributes": {"tenant_id": "t"}, '
    b'"event_id": "evt-0000000001", "event_type": "nmap_scan_completed", '
    b'"idempotency_key": "evt-0000000001", "ordering_key": "t", "schema_version": '
    b'"telemetry.ml.v1", "status": "success", "stream_position": 0, "target": "192.0.2.10", '
    b'"timestamp": "2026-11-25T09:20:47+00:00"}'
)


def _fill(url: str, queue: str, count: int, make: Callable[[int], bytes] = lambda _n: BODY) -> None:
    """`count` persistent messages (the n-th `make(n)`) in a fresh durable queue (no
    confirms: the fill is not what is measured; the queue's own count says when they are
    all in)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.queue_declare(queue, durable=True)
    persistent = pika.BasicProperties(delivery_mode=2)
    for n in range(count):
        channel.basic_publish("", queue, make(n), persistent)
    while channel.queue_declare(queue, passive=True).method.message_count < count:
        connection.sleep(0.05)
    connection.close()


def _consume(url: str, queue: str, done: multiprocessing.synchronize.Event) -> None:
    """The floor: consume and ack, a multiple-ack every ACK_EVERY, until the queue is idle."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    unacked = 0
    last = None
    for method, _properties, _body in channel.consume(queue, inactivity_timeout=0.5):
        if method is None:  # idle: the queue is drained (by us or the others)
            break
        last = method.delivery_tag
        unacked += 1
        if unacked >= ACK_EVERY:
            channel.basic_ack(last, multiple=True)
            unacked = 0
    if unacked and last is not None:
        channel.basic_ack(last, multiple=True)
    channel.cancel()
    connection.close()
    done.set()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _receiver_pids(kind: str) -> list[int]:
    """The receiver's processes: nginx's master and worker (our descendants), or this
    process, whose threads serve LocalVectorVue (and poll the queue: a small share)."""
    if kind != "nginx":
        return [os.getpid()]
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, _, rest = stat.partition(") ")
            if name.endswith("(nginx"):
                parents[int(entry.name)] = int(rest.split()[1])
    ours = {os.getpid()}
    while grown := {p for p, parent in parents.items() if parent in ours and p not in ours}:
        ours |= grown
    return sorted(ours - {os.getpid()})


def _broker_pid(node_directory: Path) -> int | None:
    try:
        return int((node_directory / "node.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def run_floor(url: str, node_directory: Path, count: int, processes: int) -> dict[str, float]:
    queue = f"bench.floor.{processes}"
    _fill(url, queue, count)
    broker = _broker_pid(node_directory)
    broker_before = _cpu_seconds(broker) if broker else 0.0
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    events = [multiprocessing.Event() for _ in range(processes)]
    workers = [
        multiprocessing.Process(target=_consume, args=(url, queue, event)) for event in events
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # The consumers stop after 0.5 s of idleness: that tail is not consumption.
    elapsed = max(time.perf_counter() - started - 0.5, 1e-9)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    consumers_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    broker_cpu = (_cpu_seconds(broker) - broker_before) if broker else float("nan")
    return {
        "processes": processes,
        "messages": count,
        "per_second": count / elapsed,
        "broker_cores": broker_cpu / elapsed,
        "consumer_cores": consumers_cpu / elapsed,
    }


BATCH = 100
BRIDGE_SCRIPT = Path(sys.executable).with_name("vectorvue-client")
SRC = Path(__file__).resolve().parent.parent / "src"


def _envelope_maker() -> Callable[[int], bytes]:
    """SpectraStrike's envelopes (the bundled sample), each with its own event id, as its
    publisher writes them: keys sorted, Python's default separators."""
    from vectorvue_client.samples import sample_path

    template = json.loads(sample_path("broker-envelope.jsonl").read_text().splitlines()[0])

    def make(n: int) -> bytes:
        event_id = f"evt-bench-{n:010d}"
        document = {**template, "event_id": event_id, "idempotency_key": event_id}
        return json.dumps({**document, "stream_position": n}, sort_keys=True).encode()

    return make


class _Bridge:
    """One `vectorvue-client bridge` process on `queue`, delivering to `receiver`."""

    def __init__(self, url: str, queue: str, receiver: Receiver) -> None:
        path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
        env |= {
            "PYTHONPATH": path,
            "VECTORVUE_BASE_URL": receiver.url,
            "VECTORVUE_CA_BUNDLE": receiver.ca_path,
            "VECTORVUE_API_KEY": TOKEN,
            "VECTORVUE_BROKER_URL": url,
            "VECTORVUE_BROKER_QUEUE": queue,
            "VECTORVUE_BROKER_DEAD_LETTER_QUEUE": f"{queue}.dlq",
            "VECTORVUE_BATCH_SIZE": str(BATCH),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(BRIDGE_SCRIPT), "bridge", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith("bridge: ready"):
                self.ready.set()

    def stop(self) -> dict[str, Any]:
        """SIGTERM; its --json summary."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)  # the summary is one short line: no pipe fills
        self._reader.join(10)
        assert self.process.stdout is not None and self.process.stderr is not None
        summary: dict[str, Any] = json.loads(self.process.stdout.read())
        self.process.stdout.close()
        self.process.stderr.close()
        return summary


class _Depth:
    """The ready count of a queue, read with passive declares on a connection of its own."""

    def __init__(self, url: str, queue: str) -> None:
        import pika

        self._connection = pika.BlockingConnection(pika.URLParameters(url))
        self._channel = self._connection.channel()
        self._queue = queue

    def __call__(self) -> int:
        frame = self._channel.queue_declare(self._queue, passive=True)
        return int(frame.method.message_count)

    def close(self) -> None:
        self._connection.close()


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


def run_bridges(
    url: str, node_directory: Path, count: int, processes: int, receiver: Receiver
) -> dict[str, float]:
    """Events/s from the queue to the receiver with `processes` bridges. The window opens
    once every bridge is ready (start-up is not delivery) and closes when the queue's ready
    count is down to a tenth of what it was then (the tail, when the queue no longer feeds
    every bridge, is not the steady rate); the rate is the ready messages taken per second
    over it, which in steady state is the rate of acks, each prefetch window being full."""
    queue = f"bench.bridge.{processes}"
    _fill(url, queue, count, _envelope_maker())
    depth = _Depth(url, queue)
    bridges = [_Bridge(url, queue, receiver) for _ in range(processes)]
    try:
        if not all(b.ready.wait(120) for b in bridges):
            raise RuntimeError("a bridge did not become ready")
        broker = _broker_pid(node_directory)
        pids = [b.process.pid for b in bridges]
        started, at_start = time.perf_counter(), depth()
        cpu_before = [_cpu_seconds(p) for p in pids]
        receiver_pids = _receiver_pids(receiver.kind)
        receiver_before = sum(_cpu_seconds(p) for p in receiver_pids)
        broker_before = _cpu_seconds(broker) if broker else 0.0
        _wait(lambda: depth() <= at_start // 10, 3600)
        elapsed = time.perf_counter() - started
        taken = at_start - depth()
        bridges_cpu = sum(_cpu_seconds(p) for p in pids) - sum(cpu_before)
        receiver_cpu = sum(_cpu_seconds(p) for p in receiver_pids) - receiver_before
        broker_cpu = (_cpu_seconds(broker) - broker_before) if broker else float("nan")
    finally:
        summaries = [b.stop() for b in bridges]
        depth.close()
    return {
        "processes": processes,
        "messages": taken,
        "per_second": taken / elapsed,
        "broker_cores": broker_cpu / elapsed,
        "bridge_cores": bridges_cpu / elapsed,
        "receiver_cores": receiver_cpu / elapsed,
        "dead_lettered": float(sum(s["dead_lettered"] for s in summaries)),
    }


def _peak_rss_kib(pid: int) -> int:
    """VmHWM of `pid`: its resident high-water mark since it was exec'd."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/PID/status (not Linux?)")


def backlog_rss(url: str, backlog: int, part: int, receiver: Receiver) -> dict[str, float]:
    """Peak RSS of one bridge from its start until it has taken `part` messages of a queue
    holding `backlog`: the broker pushes only a prefetch's worth, so the backlog's size
    should not show in the bridge's memory."""
    queue = "bench.bridge.backlog"
    _fill(url, queue, backlog, _envelope_maker())
    depth = _Depth(url, queue)
    bridge = _Bridge(url, queue, receiver)
    try:
        if not bridge.ready.wait(120):
            raise RuntimeError("the bridge did not become ready")
        ready_kib = _peak_rss_kib(bridge.process.pid)
        _wait(lambda: depth() <= backlog - part, 3600)
        peak_kib = _peak_rss_kib(bridge.process.pid)
    finally:
        bridge.stop()
        depth.close()
    return {
        "backlog": backlog,
        "taken": part,
        "ready_mib": ready_kib / 1024,
        "peak_mib": peak_kib / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5,000 messages: seconds")
    args = parser.parse_args()
    sys.path.insert(0, str(SRC))
    from vectorvue_client.testing.rabbitmq_node import RabbitMQNode, available

    if not available():
        print("fleet bench: rabbitmq-server is not installed; nothing measured")
        return 0
    count = 5_000 if args.smoke else 100_000
    bridged = 10_000 if args.smoke else 100_000
    backlog, part = (10_000, 5_000) if args.smoke else (1_000_000, 100_000)
    print(
        f"fleet floor: bare pika consume-and-ack, {count:,} persistent messages, "
        f"prefetch {PREFETCH}, a multiple-ack every {ACK_EVERY}; {os.cpu_count()} CPUs"
    )
    print(f"{'processes':>9}  {'messages/s':>11}  {'broker cores':>12}  {'consumer cores':>14}")
    floors: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="vv-bench-rabbitmq-") as tmp:
        node_directory = Path(tmp)
        with RabbitMQNode(node_directory, name="vvbench") as node:
            for processes in (1, 2, 4):
                figure = run_floor(node.url, node_directory, count, processes)
                floors[processes] = figure["per_second"]
                print(
                    f"{processes:>9}  {figure['per_second']:>11,.0f}  "
                    f"{figure['broker_cores']:>12.2f}  {figure['consumer_cores']:>14.2f}"
                )
            _outbox_rows(node.url, 2 if args.smoke else 10)
            with fastest() as receiver:
                _bridge_rows(node.url, node_directory, bridged, receiver, floors)
                rss = backlog_rss(node.url, backlog, part, receiver)
                print(
                    f"bridge RSS: one bridge, a backlog of {backlog:,} messages, peak "
                    f"{rss['peak_mib']:.1f} MiB (VmHWM) after taking {part:,} of them "
                    f"({rss['ready_mib']:.1f} MiB when it became ready)"
                )
    return 0


def _outbox_rows(url: str, batches: int) -> None:
    """Put and claim+delivered rates of the RabbitMQ outbox and of the SQLite one (full
    sync), over the same records, in this run: their ratio is what to quote."""
    from vectorvue_client.adapters.outbox_rabbitmq import RabbitMQOutbox
    from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
    from vectorvue_client.domain.redaction import Secret

    count = batches * PUT_BATCH
    print(
        f"outbox: {count:,} records of ~600 bytes, put in batches of {PUT_BATCH:,}, then "
        f"claimed {CLAIM} at a time and marked delivered"
    )
    print(f"{'backend':>9}  {'put/s':>9}  {'drain/s':>9}")
    with tempfile.TemporaryDirectory(prefix="vv-bench-outbox-") as tmp:
        for name, outbox in (
            ("sqlite", SqliteOutbox(f"{tmp}/outbox.db")),
            (
                "rabbitmq",
                RabbitMQOutbox(Secret(url), queue="bench.outbox", tls=None, now=time.time),
            ),
        ):
            start = time.perf_counter()
            for records in _batches(batches):
                outbox.put(records, NOW)
            put = count / (time.perf_counter() - start)
            done, seconds = _drain(outbox)
            outbox.close()
            print(f"{name:>9}  {put:>9,.0f}  {done / seconds:>9,.0f}")


def _bridge_rows(
    url: str, node_directory: Path, count: int, receiver: Receiver, floors: dict[int, float]
) -> None:
    print(
        f"bridge end to end: vectorvue-client bridge, integration-API profile, batches of "
        f"{BATCH}, {count:,} SpectraStrike envelopes, to {receiver.kind}"
    )
    print(
        f"{'processes':>9}  {'events/s':>11}  {'floor msg/s':>11}  {'broker cores':>12}  "
        f"{'bridge cores':>12}  {'receiver cores':>14}"
    )
    rows = []
    for processes in (1, 2, 4):
        figure = run_bridges(url, node_directory, count, processes, receiver)
        rows.append(figure)
        print(
            f"{processes:>9}  {figure['per_second']:>11,.0f}  {floors[processes]:>11,.0f}  "
            f"{figure['broker_cores']:>12.2f}  {figure['bridge_cores']:>12.2f}  "
            f"{figure['receiver_cores']:>14.2f}"
        )
    cpus = os.cpu_count() or 1
    for before, after in itertools.pairwise(rows):
        if after["per_second"] < before["per_second"] * 1.1:
            busy = after["broker_cores"] + after["bridge_cores"] + after["receiver_cores"]
            per_event_us = after["broker_cores"] / after["per_second"] * 1e6
            print(
                f"from {int(before['processes'])} to {int(after['processes'])} bridges the rate "
                f"no longer grows: the bridges take {after['bridge_cores']:.2f} cores, the "
                f"broker {after['broker_cores']:.2f}, the receiver {after['receiver_cores']:.2f}: "
                f"{busy:.2f} of {cpus} (other processes on the machine take the rest); the "
                f"broker's own CPU is {per_event_us:.0f} us per event"
            )
            break
    else:
        print("the rate still grows at 4 bridges: the broker has not taken over")


if __name__ == "__main__":
    sys.exit(main())
