"""AsyncVectorVueClient: the client's calls as coroutines, for an asyncio orchestrator.

Each call runs the blocking VectorVueClient call in a worker thread, so the event loop
never waits on the network, the outbox file or a long validation. The threads are the
client's own (a ThreadPoolExecutor of `pool_size` threads), not the loop's default
executor that asyncio.to_thread uses: sends stalled on a slow VectorVue cannot then take
every thread the loop's other code needs (getaddrinfo, files), and more concurrent sends
than pooled connections would only open extra connections, so they wait in line instead.

Cancelling the task that awaits a call: a call still waiting for a thread never starts
(nothing is sent); a call already running completes in its thread and its outcome is
discarded (it is audited all the same, and since ids and Idempotency-Keys derive from the
content, sending the same items again never duplicates them). The client stays usable.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.cognitive import ExecutionGraph
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.errors import VectorVueError
from vectorvue_client.domain.federation import FederationBundle
from vectorvue_client.domain.feedback import VerifiedFeedback
from vectorvue_client.domain.health import HealthReport
from vectorvue_client.service.client import Item, PlannedItem, VectorVueClient
from vectorvue_client.service.delivery import NO_OBSERVER, SendObserver
from vectorvue_client.service.outbox import DrainReport


class AsyncVectorVueClient:
    """VectorVueClient's calls as coroutines that never block the event loop.

    Wrap a built client: `AsyncVectorVueClient(build_client(config))`; it owns that
    client from then on (closing one closes the other). Each method takes the arguments
    of the VectorVueClient method of the same name, and returns or raises what it does.
    """

    def __init__(self, client: VectorVueClient) -> None:
        self._client = client
        self._executor = ThreadPoolExecutor(
            max_workers=client.config.pool_size, thread_name_prefix="vectorvue-async"
        )
        self._closed = False

    @property
    def config(self) -> VectorVueConfig:
        """The configuration of the wrapped client."""
        return self._client.config

    @property
    def sync_client(self) -> VectorVueClient:
        """The wrapped VectorVueClient, for what has no coroutine here (its `outbox`
        view, which reads the outbox file: call it through asyncio.to_thread)."""
        return self._client

    async def _run[R](self, call: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if self._closed:
            raise VectorVueError("the client is closed")
        # The caller's context variables (a request id in a logging filter) follow the
        # call into its thread, as with asyncio.to_thread.
        context = contextvars.copy_context()
        work = functools.partial(context.run, call, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    # -- health and status ------------------------------------------------------------------
    async def health(self) -> HealthReport:
        """VectorVueClient.health: what /healthz says."""
        return await self._run(self._client.health)

    async def health_check(self) -> bool:
        """VectorVueClient.health_check: True only when /healthz says "healthy"."""
        return await self._run(self._client.health_check)

    async def ingest_status(self, request_id: str) -> ResponseEnvelope:
        """VectorVueClient.ingest_status: the record of an earlier request."""
        return await self._run(self._client.ingest_status, request_id)

    # -- sending ----------------------------------------------------------------------------
    async def send_event(
        self, event: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """VectorVueClient.send_event: validate and deliver one event."""
        return await self._run(self._client.send_event, event, idempotency_key=idempotency_key)

    async def send_finding(
        self, finding: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """VectorVueClient.send_finding: validate and deliver one finding."""
        return await self._run(self._client.send_finding, finding, idempotency_key=idempotency_key)

    async def send_batch(self, events: Sequence[Item]) -> ResponseEnvelope:
        """VectorVueClient.send_batch: deliver events, all validated first."""
        return await self._run(self._client.send_batch, events)

    async def send_findings(self, findings: Sequence[Item]) -> ResponseEnvelope:
        """VectorVueClient.send_findings: deliver findings, all validated first."""
        return await self._run(self._client.send_findings, findings)

    async def send_outputs(
        self, documents: Sequence[Mapping[str, Any]], *, observer: SendObserver = NO_OBSERVER
    ) -> ResponseEnvelope:
        """VectorVueClient.send_outputs: deliver what SpectraStrike emits, any shape. The
        observer is called on the client's thread, not the event loop's: hand what it
        learns to the loop with `loop.call_soon_threadsafe`."""
        return await self._run(self._client.send_outputs, documents, observer=observer)

    async def check_outputs(self, documents: Sequence[Mapping[str, Any]]) -> list[PlannedItem]:
        """VectorVueClient.check_outputs: what send_outputs would send, without sending
        (in a thread too: validating a large file takes a while)."""
        return await self._run(self._client.check_outputs, documents)

    async def send_client_event(
        self,
        event_type: str,
        object_type: str,
        *,
        object_id: str | None = None,
        severity: str | None = None,
        timestamp: Any = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ResponseEnvelope:
        """VectorVueClient.send_client_event: post what a user did (it may wait for room
        in the 120-a-minute budget: in its thread, not the loop's)."""
        return await self._run(
            self._client.send_client_event,
            event_type,
            object_type,
            object_id=object_id,
            severity=severity,
            timestamp=timestamp,
            metadata=metadata,
        )

    # -- the gateway: cognitive loop and federation -------------------------------------------
    async def push_execution_graph(
        self, graph: Mapping[str, Any] | ExecutionGraph
    ) -> ResponseEnvelope:
        """VectorVueClient.push_execution_graph: check and push one execution graph."""
        return await self._run(self._client.push_execution_graph, graph)

    async def query_feedback(self, tenant_id: str, limit: int = 100) -> VerifiedFeedback:
        """VectorVueClient.query_feedback: the tenant's adjustments, once verified."""
        return await self._run(self._client.query_feedback, tenant_id, limit)

    async def verify_federation_bundle(
        self, bundle: Mapping[str, Any] | FederationBundle
    ) -> ResponseEnvelope:
        """VectorVueClient.verify_federation_bundle: sign a bundle, have it verified."""
        return await self._run(self._client.verify_federation_bundle, bundle)

    # -- the outbox -------------------------------------------------------------------------
    async def enqueue(self, document: Mapping[str, Any]) -> list[str]:
        """VectorVueClient.enqueue: store one output's items durably; their keys."""
        return await self._run(self._client.enqueue, document)

    async def enqueue_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """VectorVueClient.enqueue_many: enqueue many documents in one durable write."""
        return await self._run(self._client.enqueue_many, documents)

    async def drain(self, deadline_seconds: float | None = None) -> DrainReport:
        """VectorVueClient.drain: deliver the due outbox items."""
        return await self._run(self._client.drain, deadline_seconds)

    async def start_worker(self) -> None:
        """VectorVueClient.start_worker: deliver the outbox from a background thread."""
        await self._run(self._client.start_worker)

    async def stop_worker(self, timeout: float = 10.0) -> bool:
        """VectorVueClient.stop_worker: True when the worker stopped within `timeout`."""
        return await self._run(self._client.stop_worker, timeout)

    async def close(self, timeout: float = 0.0) -> None:
        """VectorVueClient.close: stop the worker, deliver the outbox for up to `timeout`
        seconds, cancel the calls in flight (they end after their current attempt) and
        release everything. Idempotent. Later calls raise VectorVueError."""
        if self._closed:
            return
        self._closed = True
        try:
            # A thread of its own, not the executor: every executor thread may be inside a
            # stalled send, which is what close has to cancel.
            await asyncio.to_thread(self._client.close, timeout)
        finally:
            # Calls still waiting for a thread run and raise "the client is closed".
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
