"""AsyncVectorVueClient against LocalVectorVue over real TLS on 127.0.0.1: every call from
a coroutine, the event loop free while a send waits on a stalled server, concurrent
sends, cancellation, and close from the loop.

Each test runs its own loop with asyncio.run. The only waits are the receiver's stalls;
the loop polls what the receiver recorded, which is the event the tests wait for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Final

import pytest

from vectorvue_client import (
    AsyncVectorVueClient,
    ResponseEnvelope,
    SendObserver,
    VectorVueConfig,
    VectorVueError,
    VerifiedFeedback,
)
from vectorvue_client.container import Container
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .local_gateway import TENANT, start_gateway

STALL_SECONDS: Final = 0.5
POLL_SECONDS: Final = 0.005
FINDING: Final = {
    "title": "SSH allows password authentication",
    "description": "sshd on 192.0.2.10 accepts passwords for all users.",
    "severity": "medium",
    "first_seen": "2026-11-25T09:14:03Z",
    "asset_ref": "192.0.2.10",
}
EVENT: Final = {
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-11-25T12:00:00Z",
    "severity": "info",
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open",
}


def finding(n: int) -> dict[str, Any]:
    return {**FINDING, "title": f"{FINDING['title']} #{n}"}


def async_client(vv: LocalVectorVue, tmp_path: Path, **settings: Any) -> AsyncVectorVueClient:
    config = VectorVueConfig(
        base_url=vv.url,
        ca_bundle=vv.ca_pem_path,
        outbox_path=str(tmp_path / "outbox.sqlite3"),
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.05,
        timeout_seconds=5.0,
        deadline_seconds=10.0,
        **settings,
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": vv.api_token})
    return AsyncVectorVueClient(container.client())


def posts(vv: LocalVectorVue) -> int:
    return sum(1 for r in vv.requests if r.method == "POST")


async def until(condition: Callable[[], bool]) -> int:
    """Let the loop run until `condition` holds; how many times it had to wait (each wait
    is the loop running other tasks, which a blocked loop could not)."""
    ticks = 0
    while not condition():
        ticks += 1
        await asyncio.sleep(POLL_SECONDS)
    return ticks


def run[R](coroutine: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=30))


def test_every_call_works_from_a_coroutine(vectorvue: LocalVectorVue, tmp_path: Path) -> None:
    async def main() -> None:
        async with async_client(vectorvue, tmp_path) as client:
            assert client.config.base_url == vectorvue.url
            assert (await client.health()).healthy
            assert await client.health_check()
            assert (await client.send_event(EVENT)).success
            sent = await client.send_finding(finding(0), idempotency_key="async-key-0001")
            assert sent.success and sent.idempotency_key == "async-key-0001"
            assert (await client.send_batch([{**EVENT, "message": "80/tcp open"}])).success
            assert (await client.send_findings([finding(1), finding(2)])).success
            assert (await client.send_outputs([finding(3)])).success
            [planned] = await client.check_outputs([finding(4)])
            assert planned.kind == "finding"
            assert sent.request_id is not None
            status = await client.ingest_status(sent.request_id)
            assert status.success
            keys = await client.enqueue(finding(5)) + await client.enqueue_many([finding(6)])
            assert len(keys) == 2
            report = await client.drain(5.0)
            assert (report.delivered, report.pending) == (2, 0)
            await client.start_worker()
            assert await client.stop_worker()

    run(main())
    assert len(vectorvue.accepted_findings()) == 6  # #4 was only checked
    assert len(vectorvue.accepted_events()) == 2


def test_the_loop_runs_while_a_send_waits_on_a_stalled_server(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    async def main() -> None:
        async with async_client(vectorvue, tmp_path) as client:
            vectorvue.stall_next(1, STALL_SECONDS)
            send = asyncio.create_task(client.send_finding(FINDING))
            # The server holds the request, stalled, while this coroutine goes on running.
            await until(lambda: posts(vectorvue) == 1)
            assert not send.done()
            ticks = await until(send.done)
            assert ticks > 0
            assert (await send).success

    run(main())
    assert len(vectorvue.accepted_findings()) == 1


def test_concurrent_sends_from_one_loop_are_in_flight_together(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    async def main() -> None:
        async with async_client(vectorvue, tmp_path) as client:
            vectorvue.stall_next(5, STALL_SECONDS)
            sends = [asyncio.create_task(client.send_finding(finding(n))) for n in range(5)]
            # All five wait on the server at once: run one after the other, the second
            # would only arrive once the first had been answered.
            await until(lambda: posts(vectorvue) == 5)
            assert not any(s.done() for s in sends)
            envelopes = await asyncio.gather(*sends)
            assert all(e.success for e in envelopes)

    run(main())
    stored = vectorvue.accepted_findings()
    assert len(stored) == 5
    assert all(vectorvue.receipts(i) == 1 for i in stored)


def test_a_cancelled_send_completes_in_its_thread_and_the_client_goes_on(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    async def main() -> None:
        async with async_client(vectorvue, tmp_path) as client:
            vectorvue.stall_next(1, STALL_SECONDS)
            send = asyncio.create_task(client.send_finding(FINDING))
            await until(lambda: posts(vectorvue) == 1)
            send.cancel()
            with pytest.raises(asyncio.CancelledError):
                await send
            # The client is still usable while the cancelled send is in flight...
            assert (await client.send_finding(finding(1))).success
            # ...which the server processes after its stall, and whose outcome is dropped.
            await until(lambda: len(vectorvue.accepted_findings()) == 2)
            # Sending the same finding again is safe: the same id, which VectorVue upserts.
            again = await client.send_finding(FINDING)
            assert again.success
            assert again.data["finding_id"] in vectorvue.accepted_findings()

    run(main())
    assert len(vectorvue.accepted_findings()) == 2


def test_a_cancelled_call_still_waiting_for_a_thread_never_starts(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    async def main() -> None:
        async with async_client(vectorvue, tmp_path, pool_size=1) as client:
            vectorvue.stall_next(1, STALL_SECONDS)
            first = asyncio.create_task(client.send_finding(finding(1)))
            await until(lambda: posts(vectorvue) == 1)
            queued = asyncio.create_task(client.send_finding(finding(2)))
            await asyncio.sleep(0)  # the queued call reaches the executor's queue
            queued.cancel()
            assert (await first).success
            with pytest.raises(asyncio.CancelledError):
                await queued

    run(main())
    assert posts(vectorvue) == 1
    assert len(vectorvue.accepted_findings()) == 1


def test_close_from_the_loop_does_not_wait_for_a_stalled_send(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    async def main() -> ResponseEnvelope:
        client = async_client(vectorvue, tmp_path, pool_size=1)
        vectorvue.stall_next(1, STALL_SECONDS)
        send = asyncio.create_task(client.send_finding(FINDING))
        await until(lambda: posts(vectorvue) == 1)
        # The only executor thread is inside the stalled send: close runs elsewhere.
        await client.close()
        assert not send.done()
        with pytest.raises(VectorVueError, match="closed"):
            await client.send_event(EVENT)
        await client.close()  # idempotent
        return await send

    envelope = run(main())
    # The attempt in flight when close cancelled the call was let finish.
    assert envelope.success
    assert len(vectorvue.accepted_findings()) == 1


def test_send_outputs_reports_each_request_to_its_observer_off_the_loop(
    vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    """The observer of an async send_outputs hears of every request (two, batch_size 2)
    with its request id, on the client's thread: the event loop's thread never runs it."""

    class Heard(SendObserver):
        def __init__(self) -> None:
            self.done: list[tuple[int, str | None, int]] = []

        def request_done(self, envelope: ResponseEnvelope) -> None:
            self.done.append((len(envelope.items), envelope.request_id, threading.get_ident()))

    heard = Heard()

    async def main() -> int:
        async with async_client(vectorvue, tmp_path, batch_size=2) as client:
            sent = await client.send_outputs([finding(n) for n in range(4)], observer=heard)
            assert sent.success
        return threading.get_ident()

    loop_thread = run(main())
    assert [items for items, _, _ in heard.done] == [2, 2]
    ids = [request_id for _, request_id, _ in heard.done]
    assert all(ids) and len(set(ids)) == 2
    assert all(thread != loop_thread for _, _, thread in heard.done)


GATEWAY_CALLS: Final[dict[str, Callable[[AsyncVectorVueClient], Coroutine[Any, Any, Any]]]] = {
    "push_execution_graph": lambda client: client.push_execution_graph(
        {"execution_fingerprint": "cd" * 32, "graph": {"target_urn": "urn:target:a", "nodes": []}}
    ),
    "query_feedback": lambda client: client.query_feedback(TENANT, limit=5),
    "verify_federation_bundle": lambda client: client.verify_federation_bundle(
        {
            "operator_id": "op-1",
            "campaign_id": "camp-7",
            "execution_hash": "ab" * 32,
            "timestamp": 1771754400,
            "nonce": "nonce-000000001",
        }
    ),
}


@pytest.mark.parametrize("name", sorted(GATEWAY_CALLS))
def test_the_gateway_calls_run_off_the_loop(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path, name: str
) -> None:
    gateway = start_gateway(local_vectorvue_factory, tmp_path)
    vv = gateway.vv

    async def main() -> Any:
        async with AsyncVectorVueClient(gateway.client()) as client:
            vv.stall_next(1, STALL_SECONDS)
            call = asyncio.create_task(GATEWAY_CALLS[name](client))
            # The receiver holds the request while this coroutine goes on running.
            await until(lambda: posts(vv) == 1)
            assert not call.done()
            assert await until(call.done) > 0
            return await call

    result = run(main())
    if name == "query_feedback":
        assert isinstance(result, VerifiedFeedback) and result.kid == "default"
    else:
        assert isinstance(result, ResponseEnvelope) and result.success
    if name == "push_execution_graph":
        assert len(vv.stored_graphs(TENANT)) == 1


def test_send_client_event_runs_off_the_loop(vectorvue: LocalVectorVue, tmp_path: Path) -> None:
    async def main() -> ResponseEnvelope:
        async with async_client(vectorvue, tmp_path) as client:
            vectorvue.stall_next(1, STALL_SECONDS)
            call = asyncio.create_task(
                client.send_client_event("finding_viewed", "finding", object_id="f-1")
            )
            await until(lambda: posts(vectorvue) == 1)
            assert not call.done()
            assert await until(call.done) > 0
            return await call

    assert run(main()).status_code == 202
    [stored] = vectorvue.client_events()
    assert (stored["event_type"], stored["object_id"]) == ("FINDING_VIEWED", "f-1")
