"""Normalize + validate + encode throughput, beside json.dumps of the same dicts (the floor).

    .venv/bin/python bench/bench_encode.py [--smoke] [--n N]

Prints figures; asserts nothing (timings on shared machines are not test material).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.normalize import normalize_event, normalize_finding
from vectorvue_client.samples import sample_path


def _inputs(n: int) -> list[tuple[Callable[[Any], Any], dict[str, Any]]]:
    with sample_path("findings.jsonl").open() as handle:
        findings = [json.loads(line) for line in handle if line.strip()]
    events = [
        {
            "source_system": "spectrastrike",
            "event_type": "PORT_SCAN",
            "occurred_at": "2026-11-25T09:14:03.512204+00:00",
            "severity": sev,
            "asset_ref": f"192.0.2.{i % 250}",
            "message": f"{port}/tcp open",
            "metadata": {"port": port, "service": "ssh", "tags": ["nmap", "tcp"]},
        }
        for i, (sev, port) in enumerate([("low", 22), ("med", 443), ("Critical", 21), (7.5, 80)])
    ]
    mixed: list[tuple[Callable[[Any], Any], dict[str, Any]]] = [
        (normalize_event, e) for e in events
    ] + [(normalize_finding, f) for f in findings]
    return [mixed[i % len(mixed)] for i in range(n)]


def _rate(fn: Callable[[], None], n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    n = 5_000 if args.smoke else args.n
    repeats = 1 if args.smoke else 5
    items = _inputs(n)

    def ours() -> None:
        for normalize, raw in items:
            encode(normalize(raw))

    def floor() -> None:
        for _, raw in items:
            json.dumps(raw, sort_keys=True).encode()

    ours_rate = _rate(ours, n, repeats)
    floor_rate = _rate(floor, n, repeats)
    print(f"{n} mixed events and findings, best of {repeats} runs")
    print(f"normalize+validate+encode: {ours_rate:>10,.0f} items/s")
    print(f"json.dumps (floor)       : {floor_rate:>10,.0f} items/s")
    print(f"ratio ours/floor         : {ours_rate / floor_rate:.2f}")


if __name__ == "__main__":
    main()
