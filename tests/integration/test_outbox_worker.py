"""The background worker and a graceful close, with real time, the SQLite outbox and
LocalVectorVue."""

from __future__ import annotations

import time
from pathlib import Path

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory


def findings(count: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "finding_id": f"w-{n}",
            "title": f"Open SMB share {n}",
            "description": "Guest can list the share.",
            "severity": "high",
            "first_seen": 1_795_564_800 + n,
            "asset_ref": "192.0.2.20",
        }
        for n in range(start, start + count)
    ]


def client_for(receiver: LocalVectorVue, tmp_path: Path, **settings: object) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=receiver.url,
        ca_bundle=receiver.ca_pem_path,
        outbox_path=str(tmp_path / "outbox.sqlite3"),
        worker_interval_seconds=0.05,
        **settings,  # type: ignore[arg-type]
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": receiver.api_token})
    client: VectorVueClient = container.client()
    return client


def wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_the_worker_delivers_in_the_background(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """enqueue returns at once; the worker thread delivers; stop_worker stops it."""
    receiver = local_vectorvue_factory()
    with client_for(receiver, tmp_path) as client:
        client.start_worker()
        client.enqueue_many(findings(300))
        assert wait_for(lambda: client.outbox.stats().delivered == 300)
        assert client.stop_worker(5.0)
        client.enqueue_many(findings(5, start=300))
        time.sleep(0.3)
        assert client.outbox.stats().pending == 5  # stopped: nothing delivers
    assert len(receiver.accepted_findings()) == 300


def test_enqueue_never_waits_for_an_unreachable_vectorvue(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """With every request hanging, enqueue still returns in milliseconds."""
    receiver = local_vectorvue_factory()
    receiver.stall_next(1000, 5.0)
    with client_for(receiver, tmp_path, timeout_seconds=2.0) as client:
        client.start_worker()
        client.enqueue_many(findings(10))
        started = time.monotonic()
        client.enqueue_many(findings(10, start=10))
        assert time.monotonic() - started < 0.5
        client.stop_worker(0.1)


def test_close_interrupts_a_sleeping_retry_and_keeps_the_rest(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """VectorVue answers 503 with Retry-After 3: the worker sleeps in a retry; close(0.5)
    returns at once instead of after the wait, without hammering VectorVue, and every item
    stays durable (due after the Retry-After) for the next run, which delivers it."""
    receiver = local_vectorvue_factory()
    receiver.fail_next(1000, 503, retry_after=3)
    client = client_for(receiver, tmp_path, max_retries=5, deadline_seconds=120.0)
    client.start_worker()
    client.enqueue_many(findings(20))
    assert wait_for(lambda: len(receiver.requests) >= 1)
    time.sleep(0.1)  # the worker is now waiting out Retry-After
    started = time.monotonic()
    client.close(timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert len(receiver.requests) <= 3  # the interrupted retry did not turn into a burst
    receiver.faults.clear()
    with client_for(receiver, tmp_path) as again:
        assert again.outbox.stats().pending == 20

        def delivered() -> bool:
            again.drain(5.0)
            return again.outbox.stats().delivered == 20

        assert wait_for(delivered, 15.0)
    assert len(receiver.accepted_findings()) == 20


def test_close_with_a_timeout_delivers_what_it_can(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """Without a worker, close(timeout) drains before letting go."""
    receiver = local_vectorvue_factory()
    client = client_for(receiver, tmp_path)
    client.enqueue_many(findings(50))
    client.close(timeout=10.0)
    assert len(receiver.accepted_findings()) == 50
