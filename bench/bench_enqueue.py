"""client.enqueue_many end to end: parse + normalize + store durably, for batches of 10k
SpectraStrike documents, beside the store alone (SqliteOutbox.put of the same items: the
floor set by the disk).

    .venv/bin/python bench/bench_enqueue.py [--smoke]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.outbox import ItemKind, OutboxRecord

BATCH = 10_000


def documents(start: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"bench-{n:08d}",
            "event_type": "nmap_scan_completed",
            "timestamp": "2026-11-25T09:14:03.512204+00:00",
            "actor": "op-001",
            "target": f"198.51.{n // 250 % 250}.{n % 250}",
            "status": "success",
            "attributes": {
                "tenant_id": "10000000-0000-0000-0000-000000000001",
                "campaign_id": "cmp-001",
                "severity": "medium",
                "open_ports": [22, 443],
            },
            "idempotency_key": f"bench-{n:08d}",
        }
        for n in range(start, start + count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    args = parser.parse_args()
    batches = 1 if args.smoke else 5
    with tempfile.TemporaryDirectory() as tmp:
        config = VectorVueConfig(
            base_url="https://vectorvue.invalid", outbox_path=str(Path(tmp) / "client.sqlite3")
        )
        ours = 0.0
        with VectorVueClient.from_config(config) as client:
            for b in range(batches):
                docs = documents(b * BATCH, BATCH)
                started = time.perf_counter()
                client.enqueue_many(docs)
                ours += time.perf_counter() - started
        floor = 0.0
        outbox = SqliteOutbox(Path(tmp) / "floor.sqlite3")
        try:
            for b in range(batches):
                records = [
                    OutboxRecord(f"event:{n}", ItemKind.EVENT, encode(d))
                    for n, d in enumerate(documents(b * BATCH, BATCH), start=b * BATCH)
                ]
                started = time.perf_counter()
                outbox.put(records, time.time())
                floor += time.perf_counter() - started
        finally:
            outbox.close()
    total = batches * BATCH
    print(f"{total} documents in batches of {BATCH} (synchronous=full)")
    print(f"client.enqueue_many (parse+normalize+store): {total / ours:>9,.0f} items/s")
    print(f"SqliteOutbox.put of encoded items (floor):   {total / floor:>9,.0f} items/s")
    print(f"ratio ours/floor: {floor / ours:.2f}")


if __name__ == "__main__":
    main()
