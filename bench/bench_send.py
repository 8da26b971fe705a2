"""send_event and send_batch over real TLS on 127.0.0.1, beside a raw urllib3 loop posting
the same pre-encoded bodies to the same receiver (the floor).

    .venv/bin/python bench/bench_send.py [--smoke] [--n N]

The receiver here is LocalVectorVue (Python's http.server): it is the bottleneck for both
sides, so the ratio shows the client's overhead relative to urllib3, not absolute speed.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import urllib3
from dependency_injector import providers

from vectorvue_client.client import EVENTS_BATCH_PATH, EVENTS_PATH, VectorVueClient
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.encoding import encode, encode_array
from vectorvue_client.domain.normalize import normalize_event
from vectorvue_client.testing.receiver import LocalVectorVue

TOKEN = "bench-token-0123456789"


def _event(i: int) -> dict[str, Any]:
    return {
        "source_system": "spectrastrike",
        "event_type": "PORT_SCAN",
        "occurred_at": 1_795_564_800 + i,
        "severity": "low",
        "asset_ref": f"192.0.2.{i % 250}",
        "message": f"event {i}",
        "metadata": {"i": i},
    }


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--n", type=int, default=2_000)
    args = parser.parse_args()
    n = 200 if args.smoke else args.n
    events = [_event(i) for i in range(n)]
    bodies = [encode(normalize_event(e)) for e in events]

    # The rate limit of the real server would only measure itself here.
    with LocalVectorVue(api_token=TOKEN, rate_limit_per_minute=10**9) as vv:
        config = VectorVueConfig(base_url=vv.url, ca_bundle=vv.ca_pem_path, api_key_env="BENCH_KEY")
        container = Container(config=config)
        container.environ.override(providers.Object({"BENCH_KEY": TOKEN}))
        client: VectorVueClient = container.client()
        pool = urllib3.HTTPSConnectionPool(
            "127.0.0.1",
            int(vv.url.rsplit(":", 1)[1]),
            ca_certs=vv.ca_pem_path,
            maxsize=1,
            retries=urllib3.Retry(0, redirect=False),
        )
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

        def raw_singles() -> None:
            for body in bodies:
                pool.urlopen("POST", EVENTS_PATH, body=body, headers=headers)

        def our_singles() -> None:
            for event in events:
                client.send_event(event)

        size = min(250, n)
        chunks = [bodies[i : i + size] for i in range(0, n, size)]

        def raw_batches() -> None:
            for chunk in chunks:
                pool.urlopen("POST", EVENTS_BATCH_PATH, body=encode_array(chunk), headers=headers)

        def our_batches() -> None:
            for i in range(0, n, size):
                client.send_batch(events[i : i + size])

        vv.reset()
        raw_s, ours_s = _timed(raw_singles), _timed(our_singles)
        raw_b, ours_b = _timed(raw_batches), _timed(our_batches)
        client.close()
        pool.close()

    print(f"machine: {os.cpu_count()} CPUs; receiver: LocalVectorVue on 127.0.0.1 (TLS)")
    print(
        f"single events : ours {n / ours_s:>8,.0f}/s  raw urllib3 {n / raw_s:>8,.0f}/s  "
        f"ratio {raw_s / ours_s:.2f}"
    )
    print(
        f"batches of {size}: ours {n / ours_b:>8,.0f}/s  raw urllib3 {n / raw_b:>8,.0f}/s  "
        f"ratio {raw_b / ours_b:.2f}"
    )


if __name__ == "__main__":
    main()
