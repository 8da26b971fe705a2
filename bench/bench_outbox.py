"""SqliteOutbox throughput, memory and size (ADR 0015).

    .venv/bin/python bench/bench_outbox.py [--smoke] [--backlog N]

(a) put rate: 10 batches of 10k records (~600-byte bodies, content-hash keys as the client
    makes them) into a new file, with synchronous full and normal;
(b) claim+delivered rate over that file: batches of 250, claimed then marked delivered,
    as a drain does;
(c) a backlog of 1,000,000 items (50,000 with --smoke): the put rate as the file fills,
    the peak RSS of this process after building it and claiming through it in batches of
    250, and the cost of stats() and next_due() on it;
(d) the size of the file (and of its WAL) after (c).
Prints figures; asserts nothing (timings on shared machines are not test material).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from typing import Literal

from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.outbox import ItemKind, OutboxRecord
from vectorvue_client.ports import Outbox

BATCH = 10_000
CLAIM = 250
NOW = 1_795_564_800.0


def _batches(count: int, start: int = 0) -> Iterator[list[OutboxRecord]]:
    """`count` batches of BATCH distinct records, ~600-byte bodies, random-looking keys."""
    for b in range(start, start + count):
        records = []
        for i in range(b * BATCH, (b + 1) * BATCH):
            # 600 bytes of JSON-like text, different for every record.
            digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
            body = (f'{{"finding":"{digest}","n":{i},"evidence":"' + digest * 8)[:599] + "}"
            data = body.encode()
            # A content key as the client makes one: a prefix and 40 hex of SHA-256.
            key = f"finding:finding-{hashlib.sha256(data).hexdigest()[:40]}"
            records.append(OutboxRecord(key, ItemKind.FINDING, data))
        yield records


def _put_rate(
    path: str, batches: int, synchronous: Literal["full", "normal"]
) -> tuple[float, float]:
    """Records/s over all batches, and that of the slowest batch."""
    outbox = SqliteOutbox(path, synchronous=synchronous)
    total, slowest = 0.0, 0.0
    try:
        for records in _batches(batches):
            start = time.perf_counter()
            outbox.put(records, NOW)
            took = time.perf_counter() - start
            total += took
            slowest = max(slowest, took)
    finally:
        outbox.close()
    return batches * BATCH / total, BATCH / slowest


def _drain(outbox: Outbox) -> tuple[int, float]:
    """Claim and deliver everything due; items and seconds."""
    done = 0
    start = time.perf_counter()
    while claimed := outbox.claim(CLAIM, NOW):
        outbox.delivered([c.key for c in claimed], NOW)
        done += len(claimed)
    return done, time.perf_counter() - start


def _size(path: str) -> tuple[float, float]:
    wal = path + "-wal"
    mib = 1 << 20
    return os.path.getsize(path) / mib, (os.path.getsize(wal) / mib if os.path.exists(wal) else 0.0)


def _timed_ms(outbox: SqliteOutbox) -> tuple[float, float]:
    start = time.perf_counter()
    outbox.stats(NOW)
    middle = time.perf_counter()
    outbox.next_due()
    return (middle - start) * 1000, (time.perf_counter() - middle) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="items in (c)")
    args = parser.parse_args()
    put_batches = 2 if args.smoke else 10
    backlog_batches = max(1, (50_000 if args.smoke else args.backlog) // BATCH)

    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as directory:
        print(
            f"(a) put, batches of {BATCH:,} records of ~600 bytes, {put_batches} batches, new file"
        )
        for synchronous in ("full", "normal"):
            path = os.path.join(directory, f"put-{synchronous}.db")
            rate, slowest = _put_rate(path, put_batches, synchronous)
            print(
                f"    synchronous={synchronous:<6}: {rate:>9,.0f} records/s"
                f" (slowest batch {slowest:,.0f}/s)"
            )

        outbox = SqliteOutbox(os.path.join(directory, "put-full.db"))
        done, seconds = _drain(outbox)
        outbox.close()
        print(
            f"(b) claim {CLAIM} + delivered, synchronous=full: {done / seconds:>9,.0f} items/s"
            f" ({done:,} items)"
        )

        path = os.path.join(directory, "backlog.db")
        outbox = SqliteOutbox(path)
        n = backlog_batches * BATCH
        print(f"(c) backlog of {n:,} items, put in batches of {BATCH:,} (synchronous=full)")
        marks = sorted({m for m in (100_000, 500_000, n) if m <= n})
        done, built, segment = 0, 0.0, 0.0
        for records in _batches(backlog_batches, start=1_000):
            start = time.perf_counter()
            outbox.put(records, NOW)
            took = time.perf_counter() - start
            built, segment, done = built + took, segment + took, done + BATCH
            if done in marks:
                first = marks[marks.index(done) - 1] if marks.index(done) else 0
                print(
                    f"    put rate while the file held {first:,} to {done:,} items:"
                    f" {(done - first) / segment:,.0f} records/s"
                )
                segment = 0.0
        rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"    built at {n / built:,.0f} records/s overall; peak RSS {rss_built:,.0f} MiB")
        stats_ms, due_ms = _timed_ms(outbox)
        print(f"    on that backlog: stats() {stats_ms:,.1f} ms, next_due() {due_ms:,.1f} ms")
        full_db, full_wal = _size(path)
        done, seconds = _drain(outbox)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"    claimed through it ({CLAIM} at a time, delivered): {done / seconds:,.0f} items/s"
        )
        print(f"    peak RSS after building it and claiming through it: {rss:,.0f} MiB")
        db_mib, wal_mib = _size(path)
        outbox.close()
        print(
            f"(d) file size with {n:,} pending items: {full_db:,.0f} MiB + WAL {full_wal:,.0f} MiB"
        )
        print(
            f"    once all delivered (bodies cleared): {db_mib:,.0f} MiB + WAL {wal_mib:,.0f} MiB"
        )
        print(f"    after close (WAL checkpointed and removed): {_size(path)[0]:,.0f} MiB")


if __name__ == "__main__":
    main()
