"""Attack: damage on disk. A byte flipped inside a stored item, or a damaged `kind`, must
never be sent altered and never block the queue: each stored item is verified against its
checksum when it is read back, and one that fails is dead-lettered as unreadable, with its
key, while the rest flows (issue 11, item 6; ADR 0024).

The damage is done to the real file, with the outbox closed: bytes of the database file
flipped in place, or a value rewritten behind SQLite's CHECK constraints.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client import VectorVueClient
from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.testing import Chaos, FakeClock, LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .clients import local_client


def findings(count: int) -> list[dict[str, Any]]:
    return [
        {
            "finding_id": f"dmg-{n:04d}",
            "title": f"Weak cipher suite on service {n}",
            "description": f"TLS 1.0 with CBC suites is enabled on host {n}, marker-{n:04d}.",
            "severity": "medium",
            "first_seen": "2026-11-25T09:14:03+00:00",
            "asset_ref": f"203.0.113.{n % 250}",
        }
        for n in range(count)
    ]


def make_client(
    receiver: LocalVectorVue, outbox: Path, clock: FakeClock | None = None
) -> VectorVueClient:
    return local_client(
        receiver, outbox.parent, clock, outbox_path=str(outbox), batch_size=250, max_retries=0
    )


def test_a_damaged_kind_is_dead_lettered_and_the_160_behind_it_flow(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """The first item in line gets a kind no code writes (today: a traceback on every
    drain, 160 items held behind it). It is dead-lettered as unreadable with its key;
    the others are delivered."""
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    path = tmp_path / "outbox.sqlite3"
    with make_client(receiver, path) as client:
        client.enqueue_many(findings(161))
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("UPDATE items SET kind = 'evXnt' WHERE key = 'finding:dmg-0000'")
    raw.commit()
    raw.close()
    with make_client(receiver, path) as client:
        report = client.drain(30.0)
        stats = client.outbox.stats()
        letters = client.outbox.dead_letters()
    assert (report.delivered, report.dead) == (160, 1)
    assert (stats.pending, stats.in_flight, stats.delivered, stats.dead) == (0, 0, 160, 1)
    assert [(d.key, d.kind) for d in letters] == [("finding:dmg-0000", "evXnt")]
    assert letters[0].reason.startswith("unreadable outbox item: it failed its checksum")
    assert "dmg-0000" not in receiver.accepted_findings()


def _flip_inside(path: Path, marker: bytes, rng: random.Random) -> None:
    """Flip one byte of the stored item that holds `marker`, somewhere in its body."""
    data = bytearray(path.read_bytes())
    at = data.find(marker)
    assert at > 0 and data.find(marker, at + 1) < 0, "the marker must be stored once"
    start, end = data.rfind(b"{", 0, at), data.find(b"}", at)
    position = rng.randrange(start, end + 1)
    data[position] ^= rng.randrange(1, 256)
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_never_sent_altered(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """40 trials: 12 findings stored, the outbox closed, one random byte of one finding's
    stored body flipped, the outbox reopened and drained. What VectorVue receives is
    exactly what was enqueued, the damaged item is dead-lettered as unreadable, and the
    other 11 are delivered (today 7 of 60 flips were sent as altered findings)."""
    rng = random.Random(20261203)
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    originals = {f["finding_id"]: f for f in findings(12)}
    for trial in range(40):
        receiver.reset()
        path = tmp_path / f"trial-{trial}" / "outbox.sqlite3"
        with make_client(receiver, path) as client:
            client.enqueue_many(list(originals.values()))
        victim = rng.randrange(12)
        _flip_inside(path, f"marker-{victim:04d}".encode(), rng)
        with make_client(receiver, path) as client:
            client.drain(30.0)
            stats = client.outbox.stats()
            letters = client.outbox.dead_letters()
        received = receiver.accepted_findings()
        for finding_id, stored in received.items():
            original = originals[finding_id]
            assert {k: stored[k] for k in ("title", "description", "asset_ref")} == {
                k: original[k] for k in ("title", "description", "asset_ref")
            }, f"trial {trial}: {finding_id} arrived altered"
        assert [d.key for d in letters] == [f"finding:dmg-{victim:04d}"], f"trial {trial}"
        assert "checksum" in letters[0].reason
        assert (stats.delivered, stats.dead, stats.pending) == (11, 1, 0)


def test_a_damaged_sealed_batch_is_dissolved_and_its_items_go_again_intact(
    local_vectorvue_factory: LocalVectorVueFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A batch sealed and attempted (its answer lost) is damaged on disk before its
    resend: it is never resent altered. It is dissolved, and its items (each verified on
    its own) go out again in a new batch."""
    clock = FakeClock()
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    path = tmp_path / "outbox.sqlite3"
    receiver.chaos(Chaos(lost_reply=1.0), seed=1)
    with make_client(receiver, path, clock) as client:
        client.enqueue_many(findings(5))
        assert client.drain(30.0).stopped_by == "unreachable"
    clock.advance(3600.0)  # the batch is due again
    receiver.chaos(None)
    [first] = receiver.requests
    data = bytearray(path.read_bytes())
    at = data.find(first.body)
    assert at > 0
    data[at + len(first.body) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    with (
        caplog.at_level(logging.WARNING, logger="vectorvue_client.outbox"),
        make_client(receiver, path, clock) as client,
    ):
        client.drain(30.0)
        stats = client.outbox.stats()
    assert "failed its checksum" in caplog.text
    assert (stats.delivered, stats.pending, stats.dead) == (5, 0, 0)
    for request in receiver.requests[1:]:
        assert request.body != bytes(data[at : at + len(first.body)])
        for item in json.loads(request.body):
            assert item["title"] == f"Weak cipher suite on service {int(item['finding_id'][4:])}"
    assert len(receiver.requests) == 2  # the items went out again, in one new batch


def test_a_damaged_dead_letter_is_not_put_back_in_line(tmp_path: Path) -> None:
    """retry_dead verifies too: a dead letter whose body was damaged stays dead."""
    from vectorvue_client.domain.outbox import Burial, ItemKind, OutboxRecord

    path = tmp_path / "outbox.sqlite3"
    outbox = SqliteOutbox(path)
    outbox.put(
        [OutboxRecord(f"finding:{n}", ItemKind.FINDING, b'{"n":"%d"}' % n) for n in range(2)], 1.0
    )
    outbox.claim(2, 1.0)
    outbox.bury([Burial("finding:0", "422"), Burial("finding:1", "422")], 1.0)
    outbox.close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE dead_letters SET body = X'7B7D' WHERE key = 'finding:1'")
    raw.commit()
    raw.close()
    outbox = SqliteOutbox(path)
    try:
        assert outbox.retry_dead(None, 2.0) == 1
        assert [d.key for d in outbox.dead_letters()] == ["finding:1"]
        assert [c.key for c in outbox.claim(5, 2.0)] == ["finding:0"]
    finally:
        outbox.close()
