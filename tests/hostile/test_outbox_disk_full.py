"""Attack: a full disk between claim and mark. A drain claims items, VectorVue answers, and
then the outbox cannot write (the disk is full): the drain fails. Once writing works again,
the same process must put those items back in line and deliver them, not leave them in
flight until a restart (issue 11, item 5).

The disk is really refused: RLIMIT_FSIZE at the write-ahead log's size, set at the chosen
step by a thin wrapper around the real SqliteOutbox, so that SQLite's next write fails
exactly as it does on a full disk or a quota.
"""

from __future__ import annotations

import resource
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from vectorvue_client import VectorVueClient, VectorVueOutboxError
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.ports import Outbox
from vectorvue_client.testing import FakeClock, LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .clients import assert_one_key_per_item, events, local_client


class DiskFillsAt:
    """The real SqliteOutbox; the first call of `step` finds the disk full (and fills it
    for every write after it, until `free()`)."""

    def __init__(self, outbox: SqliteOutbox, step: str) -> None:
        self.outbox = outbox
        self.step = step
        self.filled = False
        self._limits = resource.getrlimit(resource.RLIMIT_FSIZE)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.outbox, name)
        if name != self.step or self.filled:
            return method

        def full_disk(*args: Any) -> Any:
            self.filled = True
            wal = Path(f"{self.outbox.path}-wal").stat().st_size
            resource.setrlimit(resource.RLIMIT_FSIZE, (wal, self._limits[1]))
            return method(*args)

        return full_disk

    def free(self) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self._limits)


@pytest.mark.parametrize("step", ["seal", "delivered", "reschedule_batches"])
def test_items_claimed_before_a_full_disk_flow_again_in_the_same_process(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, step: str
) -> None:
    """The write after the claim fails (sealing the batch, marking it delivered after
    VectorVue's 202, or rescheduling it after a 503). Once the disk has room, the next
    drain of the same client delivers every item, each once under one key (today they
    stayed in flight, skipped by every drain, until a restart)."""
    clock = FakeClock()
    receiver: LocalVectorVue = local_vectorvue_factory(rate_limit_per_minute=10**9)
    if step == "reschedule_batches":
        receiver.fail_next(1, 503)
    disk: list[DiskFillsAt] = []

    def open_outbox() -> Outbox:
        disk.append(DiskFillsAt(SqliteOutbox(tmp_path / "outbox.sqlite3"), step))
        return cast(Outbox, disk[0])

    client = local_client(
        receiver, tmp_path, clock, batch_size=50, max_retries=0, outbox=open_outbox
    )
    with client:
        client.enqueue_many(events(120))
        try:
            with pytest.raises(VectorVueOutboxError, match="rolled back"):
                client.drain(30.0)
            stranded = client.outbox.stats()
        finally:
            disk[0].free()
        assert disk[0].filled and stranded.in_flight > 0
        for _ in range(10):
            client.drain(30.0)
            clock.advance(600.0)
        stats = client.outbox.stats()
    assert (stats.pending, stats.in_flight, stats.dead, stats.delivered) == (0, 0, 0, 120)
    assert len(receiver.accepted_events()) == 120
    assert_one_key_per_item(receiver, 120)


def test_the_worker_recovers_them_too(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """The same through the background worker: its failed round is logged, the next one
    puts the items back in line and delivers them."""
    receiver: LocalVectorVue = local_vectorvue_factory(rate_limit_per_minute=10**9)
    disk: list[DiskFillsAt] = []

    def open_outbox() -> Outbox:
        disk.append(DiskFillsAt(SqliteOutbox(tmp_path / "outbox.sqlite3"), "delivered"))
        return cast(Outbox, disk[0])

    client = local_client(
        receiver,
        tmp_path,
        batch_size=50,
        max_retries=0,
        worker_interval_seconds=0.05,
        outbox=open_outbox,
    )
    with client:
        client.enqueue_many(events(60))
        client.start_worker()
        try:
            assert _eventually(lambda: disk[0].filled and _flying(client) > 0)
        finally:
            disk[0].free()
        assert _eventually(lambda: client.outbox.stats().delivered == 60)
        stats = client.outbox.stats()
    assert (stats.pending, stats.in_flight, stats.dead) == (0, 0, 0)


def _flying(client: VectorVueClient) -> int:
    return client.outbox.stats().in_flight


def _eventually(check: Any, attempts: Sequence[int] = range(400)) -> bool:
    """The worker runs on its own thread and the real clock: wait for it by its effects,
    in short steps (at most 20 s)."""
    tick = threading.Event()
    for _ in attempts:
        if check():
            return True
        tick.wait(0.05)
    return bool(check())
