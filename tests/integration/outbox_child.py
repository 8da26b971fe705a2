"""A process that enqueues a fixed set of findings and drains them to LocalVectorVue; the
kill -9 test runs it and kills it at random moments. Arguments: URL CA_PATH OUTBOX_PATH
FIRST COUNT (it enqueues findings FIRST to FIRST+COUNT-1, so every run brings new work and
re-enqueues some of the last run's); the API key comes in VECTORVUE_API_KEY. Prints
"enqueued" once its items are durable, then "drained" when the outbox is empty."""

from __future__ import annotations

import sys

from vectorvue_client import VectorVueConfig
from vectorvue_client.container import build_client


def main() -> None:
    url, ca, outbox = sys.argv[1], sys.argv[2], sys.argv[3]
    first, count = int(sys.argv[4]), int(sys.argv[5])
    config = VectorVueConfig(
        base_url=url,
        ca_bundle=ca,
        outbox_path=outbox,
        batch_size=20,
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.05,
        outbox_backoff_base_seconds=0.01,
        outbox_backoff_max_seconds=0.05,
    )
    findings = [
        {
            "finding_id": f"k9-{n:05d}",
            "title": f"Weak cipher suite on service {n}",
            "description": "TLS 1.0 with CBC suites is enabled.",
            "severity": "medium",
            "first_seen": 1_795_564_800 + n,
            "asset_ref": f"203.0.113.{n % 250}",
        }
        for n in range(first, first + count)
    ]
    with build_client(config) as client:
        client.enqueue_many(findings)  # content seen before is stored once
        print("enqueued", flush=True)
        while client.outbox.stats().pending:
            client.drain(30.0)
        print("drained", flush=True)


if __name__ == "__main__":
    main()
