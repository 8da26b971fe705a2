"""Each benchmark beside its floors (floors.py), through the client's public API alone.

Every rate is the best of `repeats` runs, the contenders (ours, then each floor) taking turns
so that a noisy stretch of a shared machine falls on all of them alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec
from data import integration_events, mixed_outputs
from floors import (
    BATCH,
    EVENTS,
    Store,
    key,
    pool,
    post,
    validated_body,
    validated_items,
    validated_one,
)
from receivers import TOKEN, TOKEN_ENV, Receiver

from vectorvue_client import VectorVueClient, VectorVueConfig, build_client


@dataclass(frozen=True)
class Figure:
    """One measurement: ours beside one floor (rates in `unit`, per second, or a plain
    quantity when `unit` is not a rate), and the issue's target with whether it is met."""

    name: str
    ours: float
    unit: str
    floor_name: str = "-"
    floor: float | None = None
    target: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.ours / self.floor if self.floor else None

    @property
    def rate(self) -> bool:
        return self.unit.endswith("/s")

    def per_item_us(self, value: float | None) -> float | None:
        """What one item costs at `value` items per second, in microseconds."""
        return 1e6 / value if self.rate and value else None


def at_least_ratio(
    name: str, ours: float, unit: str, floor_name: str, floor: float, least: float
) -> Figure:
    """A figure whose target is `least` times its floor."""
    return Figure(name, ours, unit, floor_name, floor, f">= {least}x floor", ours >= least * floor)


def best_rates(items: int, contenders: Sequence[Callable[[], float]], repeats: int) -> list[float]:
    """Items per second of the fastest of `repeats` runs of each contender, run in turns.
    A contender does its work once and returns the seconds it took (setup excluded)."""
    best = [0.0] * len(contenders)
    for _ in range(repeats):
        for i, run in enumerate(contenders):
            best[i] = max(best[i], items / run())
    return best


def timed(work: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started

    return run


def client(receiver: Receiver, **settings: Any) -> VectorVueClient:
    """A client of `receiver` with the default adapters, as an embedder builds one."""
    os.environ[TOKEN_ENV] = TOKEN
    config = VectorVueConfig(
        base_url=receiver.url, ca_bundle=receiver.ca_path, api_key_env=TOKEN_ENV, **settings
    )
    return build_client(config)


def normalize_figure(receiver: Receiver, documents: int, repeats: int) -> Figure:
    """normalize + validate + encode of mixed SpectraStrike outputs, per document:
    check_outputs, which does all of send_outputs' work but the sending (it refuses exactly
    what send_outputs would, the size of the encoded item included). Floor: msgspec's
    encoding of the same documents, which checks nothing."""
    docs = mixed_outputs(documents)
    with client(receiver) as ours:
        ours.check_outputs(docs[:100])  # warm
        rate, floor = best_rates(
            len(docs),
            [timed(lambda: ours.check_outputs(docs)), timed(lambda: msgspec.json.encode(docs))],
            repeats,
        )
    return Figure(
        "normalize+validate+encode (mixed outputs), check_outputs",
        rate,
        "documents/s",
        "encode only",
        floor,
        ">= 150k/s",
        rate >= 150_000,
    )


def batch_figures(receiver: Receiver, size: int, batches: int, repeats: int) -> list[Figure]:
    """send_batch of loose integration events in batches of `size`, beside the validating
    floor (convert, encode, POST) and the raw floor (POST of bytes encoded beforehand)."""
    events = integration_events(size * batches)
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    bodies = [(body, key(body)) for body in map(validated_body, chunks)]
    settings = {"batch_size": size, "max_batch_bytes": 1 << 20}  # VectorVue's most
    with client(receiver, **settings) as ours, pool(receiver) as connections:

        def send_batch() -> None:
            for chunk in chunks:
                ours.send_batch(chunk)

        def validating() -> None:
            for chunk in chunks:
                body = validated_body(chunk)
                post(connections, BATCH, body, key(body))

        def raw() -> None:
            for body, known in bodies:
                post(connections, BATCH, body, known)

        contenders = [timed(send_batch), timed(validating), timed(raw)]
        for warm in contenders:  # connections open, caches filled
            warm()
        rate, checked, bare = best_rates(len(events), contenders, repeats)
    name = f"send_batch, batches of {size}"
    least_raw = {100: 0.6, 250: 0.45, 1000: 0.3}[size]
    return [
        at_least_ratio(name, rate, "events/s", "validating", checked, 0.8),
        at_least_ratio(name, rate, "events/s", "raw", bare, least_raw),
    ]


def single_figures(receiver: Receiver, count: int, repeats: int) -> list[Figure]:
    """send_event, one request per event, beside the validating and the raw floor."""
    events = integration_events(count)
    bodies = [(body, key(body)) for body in map(validated_one, events)]
    with client(receiver) as ours, pool(receiver) as connections:

        def send_event() -> None:
            for event in events:
                ours.send_event(event)

        def validating() -> None:
            for event in events:
                body = validated_one(event)
                post(connections, EVENTS, body, key(body))

        def raw() -> None:
            for body, known in bodies:
                post(connections, EVENTS, body, known)

        contenders = [timed(send_event), timed(validating), timed(raw)]
        for warm in contenders:
            warm()
        rate, checked, bare = best_rates(count, contenders, repeats)
    name = "send_event, one per request"
    return [
        at_least_ratio(name, rate, "events/s", "validating", checked, 0.9),
        at_least_ratio(name, rate, "events/s", "raw", bare, 0.9),
    ]


_PUT: Final = 10_000  # items per enqueue_many / put, as an embedder hands them over


def outbox_figures(receiver: Receiver, count: int, repeats: int) -> list[Figure]:
    """enqueue_many (normalize + validate + encode + store durably, into a new SQLite
    outbox) beside the validating store (convert, encode, the bare store of store.py) and
    the raw store (the bare store of bytes encoded beforehand); then one drain of the
    client's outbox to the receiver."""
    docs = integration_events(count)
    chunks = [docs[i : i + _PUT] for i in range(0, len(docs), _PUT)]
    bodies = validated_items(docs)
    body_chunks = [bodies[i : i + _PUT] for i in range(0, len(bodies), _PUT)]
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        runs = iter(range(1_000_000))
        drained: list[VectorVueClient] = []

        def enqueue_many() -> float:
            ours = client(receiver, outbox_path=f"{tmp}/ours-{next(runs)}.sqlite3")
            ours.outbox.stats()  # open (and create) the outbox outside the timing
            started = time.perf_counter()
            for chunk in chunks:
                ours.enqueue_many(chunk)
            took = time.perf_counter() - started
            if drained:
                ours.close()
            else:
                drained.append(ours)  # the first one's backlog is drained below
            return took

        def store(put: Callable[[Store], None]) -> Callable[[], float]:
            def run() -> float:
                floor = Store(f"{tmp}/floor-{next(runs)}.sqlite3")
                started = time.perf_counter()
                put(floor)
                took = time.perf_counter() - started
                floor.close()
                return took

            return run

        def validating(floor: Store) -> None:
            for chunk in chunks:
                floor.put(validated_items(chunk))

        def raw(floor: Store) -> None:
            for chunk in body_chunks:
                floor.put(chunk)

        rate, checked, bare = best_rates(
            len(docs), [enqueue_many, store(validating), store(raw)], repeats
        )
        with drained[0] as ours:
            started = time.perf_counter()
            while ours.outbox.stats().pending:
                ours.drain(600.0)
            drain = len(docs) / (time.perf_counter() - started)
    name = "enqueue_many (SQLite outbox)"
    return [
        Figure(name, rate, "items/s", "validating", checked, ">= 150k/s", rate >= 150_000),
        Figure(name, rate, "items/s", "raw", bare),
        Figure(f"drain of {len(docs):,} items to the receiver", drain, "items/s"),
    ]


def backlog_rss(items: int, receiver: Receiver) -> Figure:
    """Peak RSS of a process that enqueues `items` and drains them all to `receiver`."""
    script = Path(__file__).with_name("backlog_rss.py")
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script), str(items), receiver.url, receiver.ca_path],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, TOKEN_ENV: TOKEN, "PYTHONPATH": os.pathsep.join(sys.path)},
    ).stdout
    mib = float(out.strip().splitlines()[-1])
    return Figure(
        f"peak RSS with a {items:,}-item backlog", mib, "MiB", target="< 100 MiB", met=mib < 100
    )


def import_figure(repeats: int) -> Figure:
    """Cumulative import time of vectorvue_client (python -X importtime), best of runs,
    from compiled bytecode as an installed package has it (pip compiles at install): a
    first import writes it to a cache of its own, since PYTHONDONTWRITEBYTECODE may be set
    here (it is on these machines), and a run without it compiles ~80 modules from
    source, which doubled the figure."""
    command = [sys.executable, "-X", "importtime", "-c", "import vectorvue_client"]
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="vv-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run(command, capture_output=True, check=True, env=env)  # noqa: S603 - writes the cache
        for _ in range(repeats):
            run = subprocess.run(command, capture_output=True, text=True, check=True, env=env)  # noqa: S603
            match = re.search(r"\|\s*(\d+)\s*\|\s*vectorvue_client\s*$", run.stderr, re.M)
            assert match is not None, run.stderr[-500:]
            best = min(best, int(match.group(1)) / 1000.0)
    return Figure("import vectorvue_client", best, "ms", target="< 150 ms", met=best < 150)
