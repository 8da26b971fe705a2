"""A child process for the RSS figure: enqueue N items into a fresh outbox in batches of
10,000, claim through all of them, print peak RSS in MiB.

The peak is this process's VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across
exec, so a child started from the benchmark (which holds its own large inputs) would report
the parent's peak instead of its own."""

from __future__ import annotations

import sys
import tempfile
import time

from data import integration_events

from vectorvue_client import VectorVueConfig
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.container import build_client


def main() -> None:
    items = int(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        config = VectorVueConfig(base_url="https://vectorvue.invalid", outbox_path=f"{tmp}/o.db")
        with build_client(config) as client:
            for start in range(0, items, 10_000):
                client.enqueue_many(integration_events(min(10_000, items - start), start))
            assert client.outbox.stats().pending == items
        # Through the backlog, as a drain claims it (delivery itself is measured apart).
        outbox = SqliteOutbox(f"{tmp}/o.db")
        while claimed := outbox.claim(250, time.time() + 1):
            outbox.delivered([c.key for c in claimed], time.time())
        outbox.close()
    print(peak_rss_kib() / 1024)


def peak_rss_kib() -> int:
    """The high-water mark of this process's resident set since it was exec'd."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (not Linux?)")


if __name__ == "__main__":
    main()
