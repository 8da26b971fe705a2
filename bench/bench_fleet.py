"""Fleet figures on a real RabbitMQ node (Debian's rabbitmq-server, started here on
127.0.0.1 with its own data): the floor of delivery through the broker, a bare pika
consume-and-ack loop, with 1, 2 and 4 consumer processes, and how much of the machine
the broker itself takes (its CPU seconds per second of the run).

    .venv/bin/python bench/bench_fleet.py            # 100,000 messages
    .venv/bin/python bench/bench_fleet.py --smoke    # 5,000: what CI runs (figures only)

Nothing is asserted. Without rabbitmq-server installed it says so and exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

PREFETCH = 500
ACK_EVERY = 250  # one multiple-ack per this many messages, as the contract's measure did
BODY = (
    b'{"actor": "op-001", "attempt": 1, "attributes": {"tenant_id": "t"}, '
    b'"event_id": "evt-0000000001", "event_type": "nmap_scan_completed", '
    b'"idempotency_key": "evt-0000000001", "ordering_key": "t", "schema_version": '
    b'"telemetry.ml.v1", "status": "success", "stream_position": 0, "target": "192.0.2.10", '
    b'"timestamp": "2026-11-25T09:20:47+00:00"}'
)


def _fill(url: str, queue: str, count: int) -> None:
    """`count` persistent messages in a fresh durable queue (no confirms: the fill is not
    what is measured; the queue's own count says when they are all in)."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_delete(queue)
    channel.queue_declare(queue, durable=True)
    persistent = pika.BasicProperties(delivery_mode=2)
    for _ in range(count):
        channel.basic_publish("", queue, BODY, persistent)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="5,000 messages: seconds")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from vectorvue_client.testing.rabbitmq_node import RabbitMQNode, available

    if not available():
        print("fleet bench: rabbitmq-server is not installed; nothing measured")
        return 0
    count = 5_000 if args.smoke else 100_000
    print(
        f"fleet floor: bare pika consume-and-ack, {count:,} persistent messages, "
        f"prefetch {PREFETCH}, a multiple-ack every {ACK_EVERY}; {os.cpu_count()} CPUs"
    )
    print(f"{'processes':>9}  {'messages/s':>11}  {'broker cores':>12}  {'consumer cores':>14}")
    with tempfile.TemporaryDirectory(prefix="vv-bench-rabbitmq-") as tmp:
        node_directory = Path(tmp)
        with RabbitMQNode(node_directory, name="vvbench") as node:
            for processes in (1, 2, 4):
                figure = run_floor(node.url, node_directory, count, processes)
                print(
                    f"{processes:>9}  {figure['per_second']:>11,.0f}  "
                    f"{figure['broker_cores']:>12.2f}  {figure['consumer_cores']:>14.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
