"""The fault matrix: 10,000 items through the SQLite outbox to LocalVectorVue while it
answers 20% of requests 503, 5% 429 with Retry-After, resets 5% of connections and hangs on
2% past the client's read timeout. Everything is delivered, and the receiver accepted each
id exactly once (every fault strikes before the request is processed, so a receipt counted
twice would be a resend of something already accepted)."""

from __future__ import annotations

from pathlib import Path

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.testing import Chaos, FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

ITEMS = 10_000


def documents() -> list[dict[str, object]]:
    return [
        {
            "event_id": f"fm-{n:05d}",
            "source_system": "spectrastrike",
            "event_type": "PORT_SCAN",
            "occurred_at": 1_795_564_800 + n,
            "severity": "low",
            "asset_ref": f"198.51.100.{n % 250}",
            "message": f"22/tcp open on host {n}",
            "metadata": {"n": n},
        }
        for n in range(ITEMS)
    ]


def test_10k_items_survive_the_fault_matrix(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """All delivered, each id accepted once, nothing left in the outbox."""
    clock = FakeClock()  # backoffs pass at once; sockets still use real time
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9, now=clock.time)
    receiver.chaos(
        Chaos(
            unavailable=0.20,
            rate_limited=0.05,
            retry_after=3,
            reset=0.05,
            hang=0.02,
            hang_seconds=0.6,
        ),
        seed=20261125,
    )
    config = VectorVueConfig(
        base_url=receiver.url,
        ca_bundle=receiver.ca_pem_path,
        outbox_path=str(tmp_path / "outbox.sqlite3"),
        batch_size=50,
        timeout_seconds=0.4,
        max_retries=2,
        outbox_backoff_base_seconds=0.5,
        outbox_backoff_max_seconds=5.0,
    )
    container = Container(config=config)
    container.clock.override(clock)
    container.environ.override({"VECTORVUE_API_KEY": receiver.api_token})
    client: VectorVueClient = container.client()
    with client:
        keys = client.enqueue_many(documents())
        assert len(keys) == ITEMS
        for _ in range(200):
            report = client.drain(120.0)
            if client.outbox.stats().pending == 0:
                break
            clock.advance(5.0)
        stats = client.outbox.stats()
    assert (stats.pending, stats.in_flight, stats.dead) == (0, 0, 0)
    assert stats.delivered == ITEMS
    accepted = receiver.accepted_events()
    assert len(accepted) == ITEMS
    assert all(receiver.receipts(f"fm-{n:05d}") == 1 for n in range(ITEMS))
    injected = receiver.faults.chaos_counts
    print(f"requests: {len(receiver.requests)}, faults injected: {injected}")
    # The matrix really ran: every kind of fault struck, in about the asked proportions.
    assert {"503", "429", "Reset", "Hang"} <= set(injected)
    assert report.stopped_by in {"empty", "deadline", "unreachable"}
