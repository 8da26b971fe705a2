"""kill -9: a process enqueues and drains, and is killed at random moments ten times,
restarted each time. At the end the receiver has every item and the outbox is empty."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.testing import Chaos
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

CHILD = Path(__file__).with_name("outbox_child.py")
RUNS = 10
STEP = 200  # each run brings 200 new findings and re-enqueues 200 of the previous run's
TOTAL = STEP * (RUNS + 1)


def start(
    url: str, ca: str, outbox: Path, token: str, first: int, count: int
) -> subprocess.Popen[str]:
    env = {**os.environ, "VECTORVUE_API_KEY": token}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CHILD), url, ca, str(outbox), str(first), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_ten_kills_lose_nothing(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """Each run is SIGKILLed at a random moment after its items are durable (mid-drain,
    mid-request, mid-commit); the eleventh run finishes. Nothing is missing, nothing
    is left, and nothing was stored twice."""
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    # Slow and flaky enough that kills land inside requests and retries, not after them.
    receiver.chaos(Chaos(unavailable=0.1, hang=0.1, hang_seconds=0.3, latency=0.05), seed=9)
    outbox = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261125)
    kills = 0
    for run in range(RUNS):
        first = max(0, (run - 1) * STEP)
        child = start(
            receiver.url, receiver.ca_pem_path, outbox, receiver.api_token, first, 2 * STEP
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "enqueued", (
            child.stderr.read() if child.stderr else ""
        )
        time.sleep(rng.uniform(0.0, 0.3))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.communicate(timeout=30)
    final = start(receiver.url, receiver.ca_pem_path, outbox, receiver.api_token, 0, TOTAL)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert out.split() == ["enqueued", "drained"]
    assert kills == RUNS, "a run finished before it could be killed: it tested nothing"

    stored = receiver.accepted_findings()
    assert len(stored) == TOTAL
    reopened = SqliteOutbox(outbox)
    try:
        stats = reopened.stats(time.time())
    finally:
        reopened.close()
    assert (stats.pending, stats.in_flight, stats.dead, stats.delivered) == (0, 0, 0, TOTAL)
