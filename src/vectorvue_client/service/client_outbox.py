"""The outbox half of VectorVueClient's public API (split out only to keep files short)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions
from vectorvue_client.ports import Outbox
from vectorvue_client.service.delivery import Delivery
from vectorvue_client.service.outbox import DrainReport, OutboxService
from vectorvue_client.service.outbox_view import OutboxView
from vectorvue_client.service.senders import GatewaySender, IntegrationSender
from vectorvue_client.service.worker import DeliveryWorker


class OutboxMethods:
    """enqueue, drain, the worker and `outbox`, on the client's delivery machinery."""

    # Set by VectorVueClient.__init__.
    _delivery: Delivery
    _integration_sender: IntegrationSender
    _gateway_sender: GatewaySender
    _options: SpectraStrikeOptions
    _open_outbox: Callable[[], Outbox] | None
    _outbox_service: OutboxService | None
    _worker: DeliveryWorker | None
    _outbox_lock: threading.Lock
    _entropy_random: Callable[[], float]

    def _ensure_open(self) -> None:
        raise NotImplementedError

    # -- the outbox -------------------------------------------------------------------------
    def enqueue(self, document: Mapping[str, Any]) -> list[str]:
        """Store what one SpectraStrike output yields (any shape send_outputs takes) in the
        outbox; returns the items' keys once they are durable. Bad input raises at once and
        nothing is stored; the network is never touched (a worker or `drain` delivers)."""
        return self.enqueue_many([document])

    def enqueue_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """`enqueue` for many documents in one durable write (the fast path)."""
        self._ensure_open()
        keys = self._outbox().enqueue(documents)
        if self._worker is not None:
            self._worker.wake()
        return keys

    def drain(self, deadline_seconds: float | None = None) -> DrainReport:
        """Deliver due outbox items until none is due, `deadline_seconds` pass (default:
        the configured deadline_seconds), or VectorVue is unreachable."""
        self._ensure_open()
        if deadline_seconds is None:
            deadline_seconds = self._delivery.config.deadline_seconds
        return self._outbox().drain(deadline_seconds)

    @property
    def outbox(self) -> OutboxView:
        """Inspect and manage the outbox: stats, dead letters, retries, purges. The client
        owns the outbox from its first use until close()."""
        self._ensure_open()
        return OutboxView(self._outbox().outbox, self._delivery.clock)

    @staticmethod
    def inspect_outbox(config: VectorVueConfig) -> OutboxView:
        """The configured outbox, opened read-only and without taking it from the process
        that owns it (a running service): stats and dead letters; retries and purges
        raise VectorVueOutboxError (only the owner changes it). Close it with `close()`."""
        from vectorvue_client.container import build_outbox_reader  # the container imports us

        return build_outbox_reader(config)

    def start_worker(self) -> None:
        """Deliver the outbox from a background thread until `stop_worker` or `close`."""
        self._ensure_open()
        service = self._outbox()
        with self._outbox_lock:
            if self._worker is None:
                clock = self._delivery.clock

                def next_due_in() -> float | None:
                    due = service.outbox.next_due()
                    return None if due is None else due - clock.time()

                self._worker = DeliveryWorker(
                    service.drain, next_due_in, self._delivery.config.worker_interval_seconds
                )
            self._worker.start()

    def stop_worker(self, timeout: float = 10.0) -> bool:
        """Stop the background worker (its current request finishes, a sleeping retry is
        not waited for); True when it has stopped within `timeout`."""
        worker = self._worker
        if worker is None:
            return True
        service = self._outbox_service
        if service is not None:
            service.stopping.set()
        self._delivery.stopping.set()
        stopped = worker.stop(timeout)
        if stopped:  # else it is still inside a request, which must not go on to another
            self._delivery.stopping.clear()
            if service is not None:
                service.stopping.clear()
        return stopped

    def _outbox(self) -> OutboxService:
        with self._outbox_lock:
            if self._outbox_service is None:
                if self._open_outbox is None:
                    raise VectorVueConfigError(
                        "outbox_path", "this client was built without an outbox"
                    )
                self._outbox_service = OutboxService(
                    self._open_outbox(),
                    self._delivery,
                    self._integration_sender,
                    self._gateway_sender,
                    self._options,
                    self._entropy_random,
                )
            return self._outbox_service
