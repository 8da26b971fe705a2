"""A child process for the RSS figure: enqueue N items into a fresh outbox in batches of
10,000, claim through all of them, print peak RSS in MiB."""

from __future__ import annotations

import resource
import sys
import tempfile
import time

from data import integration_events

from vectorvue_client import VectorVueClient, VectorVueConfig


def main() -> None:
    items = int(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        config = VectorVueConfig(base_url="https://vectorvue.invalid", outbox_path=f"{tmp}/o.db")
        with VectorVueClient.from_config(config) as client:
            for start in range(0, items, 10_000):
                client.enqueue_many(integration_events(min(10_000, items - start), start))
            assert client.outbox.stats().pending == items
            # Through the backlog, as a drain claims it (delivery itself is measured apart).
            outbox = client._outbox().outbox
            while claimed := outbox.claim(250, time.time() + 1):
                outbox.delivered([c.key for c in claimed], time.time())
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
