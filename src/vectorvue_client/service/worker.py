"""The background delivery worker: drains the outbox while the client runs.

A daemon thread that drains, then sleeps until the next item is due (at most
`worker_interval_seconds`), woken early by an enqueue or a stop. enqueue never waits for
it: the network is only ever touched from here (or from an explicit drain).

Its drains have no deadline of their own: each request has the configured timeouts and
deadline_seconds, never a remainder cut to fit a round (a request cut short is stored by
VectorVue while the client sees a timeout). Each run of the thread has a cancel token of
its own: a stop sets it, which is seen between requests and ends a backoff the worker
sleeps in at once, and touches no other send (a synchronous send on another thread goes on).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from vectorvue_client.log_scrub import scrub_logger
from vectorvue_client.service.outbox import DrainReport

# A public name that embedders route, not the module path: it does not move with the code.
_LOGGER = scrub_logger(logging.getLogger("vectorvue_client.worker"))


class DeliveryWorker:
    """Runs `drain` in a loop on a thread of its own."""

    def __init__(
        self,
        drain: Callable[[float | None, threading.Event], DrainReport],
        next_due_in: Callable[[], float | None],
        interval: float,
    ) -> None:
        self._drain = drain
        self._next_due_in = next_due_in
        self._interval = interval
        self._wake = threading.Event()
        self._cancel = threading.Event()  # the current run's token
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once), with a fresh token: a run stopped too late to wait for
        keeps its own, cancelled one."""
        if self.running:
            return
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._cancel,), name="vectorvue-delivery", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Something was enqueued: drain now rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Cancel the run (its send in progress ends after its current attempt) and wait up
        to `timeout` s; True when the thread has stopped."""
        self._cancel.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self, cancel: threading.Event) -> None:
        while not cancel.is_set():
            wait = self._interval
            try:
                self._drain(None, cancel)
                due_in = self._next_due_in()
                if due_in is not None:
                    wait = min(self._interval, max(due_in, 0.0))
            except Exception:
                if cancel.is_set():
                    return  # the client closed what this round was using: done
                _LOGGER.exception("delivery round failed; items stay in the outbox")
            self._wake.wait(wait)
            self._wake.clear()
