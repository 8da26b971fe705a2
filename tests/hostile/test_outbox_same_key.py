"""Attack: resends under other keys. Once a request has been attempted, every resend of it
must carry the same body and the same Idempotency-Key, across drains, rounds, restarts and
kill -9, until VectorVue's answer to it is known (issue 11, item 1; ADR 0024).

The receiver processes a request and then loses its answer (LoseReply), or answers just
after a client would have cut its timeout: the client cannot know the outcome, and must
resend exactly what it sent. Each test reads every request the receiver got and checks
that each item went out under one key only, and each key always with the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from vectorvue_client.testing import Chaos, FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .clients import assert_one_key_per_item, events, local_client

CHILD = Path(__file__).parents[1] / "integration" / "outbox_child.py"


def test_half_the_answers_lost_each_item_goes_out_under_one_key(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """3000 items, and the receiver stores every request but loses the answer to half of
    them: drain after drain resends the same batches, never regroups them (today: 615
    items went out under a second key)."""
    clock = FakeClock()  # backoffs pass when the test says so; sockets use real time
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9, now=clock.time)
    receiver.chaos(Chaos(lost_reply=0.5), seed=11)
    client = local_client(
        receiver,
        tmp_path,
        clock,
        batch_size=100,
        max_retries=0,
        outbox_backoff_base_seconds=1.0,
        outbox_backoff_max_seconds=4.0,
    )
    with client:
        client.enqueue_many(events(3000, "sk"))
        for _ in range(2000):
            client.drain(60.0)
            if client.outbox.stats().pending == 0:
                break
            # Less than a backoff: the items of a failed batch come due one by one, at
            # their own jittered times, as they do on a real clock.
            clock.advance(0.5)
        stats = client.outbox.stats()
    assert (stats.pending, stats.in_flight, stats.dead, stats.delivered) == (0, 0, 0, 3000)
    assert receiver.faults.chaos_counts.get("LoseReply", 0) > 20  # the attack really ran
    assert_one_key_per_item(receiver, 3000)


def test_a_drain_never_cuts_a_request_short_to_fit_its_deadline(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """Every request takes 0.3 s and is answered; timeout_seconds is 0.5. A drain of 1 s
    starts a request only while a full timeout is left of it: every request gets its
    answer, nothing is rescheduled, and the next drain goes on where it stopped (today the
    last request of a drain started with 0.1 s, timed out after the server stored it, and
    its items went out again under other keys). The promise is about time: this test runs
    on the real clock, for about 3 s."""
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    receiver.chaos(Chaos(latency=0.3), seed=1)
    client = local_client(receiver, tmp_path, batch_size=10, timeout_seconds=0.5, max_retries=0)
    with client:
        client.enqueue_many(events(60, "sk"))
        reports = [client.drain(1.0) for _ in range(3)]
        stats = client.outbox.stats()
    assert [r.rescheduled for r in reports] == [0, 0, 0]
    assert all(r.stopped_by in {"deadline", "empty"} for r in reports)
    assert all(r.seconds < 1.0 + 0.5 for r in reports)
    assert stats.in_flight == 0
    assert_one_key_per_item(receiver, 60 - stats.pending)


def test_kill_9_mid_drain_resends_the_same_batches(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """A process drains while the receiver loses a third of its answers, and is killed
    with SIGKILL at random moments six times, then a last run finishes: every item went
    out under one key, whichever process sent it (the grouping is in the outbox, sealed
    before the first attempt)."""
    receiver = local_vectorvue_factory(rate_limit_per_minute=10**9)
    receiver.chaos(Chaos(lost_reply=0.33, latency=0.02), seed=7)
    outbox = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261203)
    env = {**os.environ, "VECTORVUE_API_KEY": receiver.api_token}

    def run(count: int) -> subprocess.Popen[str]:
        args = [receiver.url, receiver.ca_pem_path, str(outbox), "0", str(count)]
        return subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, str(CHILD), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    kills = 0
    for _ in range(6):
        child = run(400)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "enqueued"
        time.sleep(rng.uniform(0.05, 0.4))  # lands mid-drain: the kill is the attack
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.communicate(timeout=30)
    final = run(400)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert out.split() == ["enqueued", "drained"]
    assert kills >= 3, "the runs finished before they could be killed: nothing was tested"
    assert len(receiver.accepted_findings()) == 400
    keys: dict[str, set[str]] = defaultdict(set)
    for request in receiver.requests:
        if request.method == "POST" and request.path.endswith("/findings/batch"):
            for item in json.loads(request.body):
                keys[item["finding_id"]].add(request.headers["idempotency-key"])
    assert len(keys) == 400
    assert all(len(k) == 1 for k in keys.values())
