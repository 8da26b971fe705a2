"""A child process for the RSS figure: enqueue N items into a fresh outbox in batches of
10,000, drain all of them to the receiver, print peak RSS in MiB.

    backlog_rss.py ITEMS BASE_URL CA_PATH   (the token in receivers.TOKEN_ENV)

The peak is this process's VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across
exec, so a child started from the benchmark (which holds its own large inputs) would report
the parent's peak instead of its own."""

from __future__ import annotations

import sys
import tempfile

from data import integration_events
from receivers import TOKEN_ENV

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import build_client


def main() -> None:
    items, url, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        config = VectorVueConfig(
            base_url=url,
            ca_bundle=ca,
            api_key_env=TOKEN_ENV,
            outbox_path=f"{tmp}/o.db",
        )
        with build_client(config) as client:
            for start in range(0, items, 10_000):
                client.enqueue_many(integration_events(min(10_000, items - start), start))
            assert client.outbox.stats().pending == items
            while client.outbox.stats().pending:
                client.drain(600.0)
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
