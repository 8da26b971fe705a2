"""The outbox side of the application service: enqueue durably, drain by delivering.

`enqueue` normalizes what it is given (refusing bad input at once), stores each item under
its deterministic key and returns when the items are durable; it never touches the
network. `drain` takes due items in FIFO order, shapes them for the active profile, sends
them, and records each item's fate: delivered once VectorVue accepted it, rescheduled (with
backoff from the domain) after a transient failure, dead-lettered with the reason when
VectorVue or local validation refused it for good. Nothing is dropped.

On the integration API, items that go out together are sealed into a batch in the outbox
before the first attempt (ADR 0024): until VectorVue's answer to that request is known,
every resend is the same body under the same Idempotency-Key, whichever drain, restart or
process sends it. The telemetry gateway takes one event per request, signed afresh at
every attempt, and has no idempotency key: its items are never sealed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain import models
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.gateway import GatewayParts
from vectorvue_client.domain.outbox import (
    GATEWAY_PERMANENT_STATUSES,
    PERMANENT_STATUSES,
    UNREADABLE,
    Batch,
    Burial,
    Claimed,
    ClaimedBatch,
    ItemKind,
    OutboxRecord,
    Reschedule,
    is_permanent_item_failure,
    item_id,
    next_attempt_delay,
)
from vectorvue_client.domain.profiles import finding_to_canonical, to_integration_event
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output
from vectorvue_client.ports import Clock, Outbox
from vectorvue_client.service.delivery import Delivery
from vectorvue_client.service.senders import (
    EVENTS_BATCH_PATH,
    FINDINGS_BATCH_PATH,
    Encoded,
    GatewaySender,
    IntegrationSender,
    PlannedBatch,
    convert_all,
)


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What one drain did, and what is left."""

    delivered: int
    rescheduled: int
    dead: int
    pending: int
    seconds: float
    stopped_by: str  # "empty" (nothing due), "deadline", "unreachable", "stopping" (cancelled)
    next_due_in_seconds: float | None  # when the next pending item is due (0: now; None: none)
    last_error: str | None  # what the drain's last transient failure said (None: none)


@dataclass
class _Tally:
    delivered: int = 0
    rescheduled: int = 0
    dead: int = 0
    requests: int = 0  # requests started by this drain
    last_error: str | None = None  # the last transient failure: why items wait


type _Budget = Callable[[], float | None]


class _Stop(Exception):  # noqa: N818 - a signal inside drain, never raised out of it
    def __init__(self, reason: str) -> None:
        self.reason = reason


class OutboxService:
    """Enqueue and drain over an Outbox, with the client's delivery machinery. The outbox
    is opened on first use (`open_outbox`; None: this client has none) and closed with
    `close`."""

    def __init__(
        self,
        open_outbox: Callable[[], Outbox] | None,
        *,
        config: VectorVueConfig,
        clock: Clock,
        delivery: Delivery,
        integration: IntegrationSender,
        gateway: GatewaySender,
        options: SpectraStrikeOptions,
        jitter: Callable[[], float],
    ) -> None:
        self._open_outbox = open_outbox
        self._outbox: Outbox | None = None
        self._opening = threading.Lock()
        self._config = config
        self._clock = clock
        self._delivery = delivery
        self._integration = integration
        self._gateway = gateway
        self._options = options
        self._jitter = jitter
        self._is_gateway = config.profile == "telemetry-gateway"
        self._draining = threading.Lock()  # one drain at a time: the worker or a caller
        # Set when a drain ended before settling what it claimed (a write the disk refused,
        # an interruption): the next drain first puts that back in line, in this process,
        # once the outbox can be written again.
        self._stranded = False

    def outbox(self) -> Outbox:
        """The outbox, opened on first use: a client that never uses it creates no file."""
        with self._opening:
            if self._outbox is None:
                if self._open_outbox is None:
                    raise VectorVueConfigError(
                        "outbox_path", "this client was built without an outbox"
                    )
                self._outbox = self._open_outbox()
            return self._outbox

    @property
    def opened(self) -> bool:
        """Whether the outbox has been opened (and is to be closed)."""
        return self._outbox is not None

    def next_due_in(self) -> float | None:
        """Seconds until the earliest pending item is due (None: nothing is pending)."""
        due = self.outbox().next_due()
        return None if due is None else due - self._clock.time()

    def close(self) -> None:
        """Close the outbox, if it was opened."""
        if self._outbox is not None:
            self._outbox.close()

    # -- enqueue ----------------------------------------------------------------------------
    def enqueue(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """Normalize every document (all problems raised together, nothing stored), store
        every item; return their keys, in order. Durable when it returns."""
        items = convert_all(
            documents,
            lambda document: parse_output(document, self._options),
            field="documents",
        )
        records = [_record(item) for group in items for item in group]
        self.outbox().put(records, self._clock.time())
        return [r.key for r in records]

    # -- drain ------------------------------------------------------------------------------
    def drain(self, deadline_seconds: float | None, cancel: threading.Event) -> DrainReport:
        """Deliver due items until none is due, VectorVue is unreachable, `cancel` is set
        (a send in progress ends after its current attempt), or `deadline_seconds` pass
        (None: no bound on the drain; each request then has the configured
        deadline_seconds, as the worker's do).

        With a deadline, the drain never runs past it, and starts a request only while the
        configured timeout_seconds is left of it, except its first request (which has what
        is left): no request is cut short to fit a drain that was long enough for it.
        """
        clock = self._clock
        started = clock.monotonic()
        tally = _Tally()
        stopped_by = "empty"
        with self._draining:
            # The outbox itself buries an item it finds damaged on disk when claiming it:
            # counted from its stats, so that the report says so.
            dead_before = self.outbox().stats(clock.time()).dead
            if self._stranded:
                self.outbox().recover()  # raises again while the disk still refuses writes
                self._stranded = False

            def budget() -> float | None:
                """The deadline of the next request (None: the configured one); _Stop when
                the drain must not start another."""
                if cancel.is_set():
                    raise _Stop("stopping")
                if deadline_seconds is None:
                    return None
                remaining = deadline_seconds - (clock.monotonic() - started)
                timeout = self._config.timeout_seconds
                if remaining <= 0 or (tally.requests and remaining < timeout):
                    raise _Stop("deadline")
                return min(remaining, self._config.deadline_seconds)

            try:
                while True:
                    budget()  # before claiming anything
                    if not self._round(budget, cancel, tally):
                        break
            except _Stop as stop:
                stopped_by = stop.reason
            except BaseException:
                self._stranded = True
                raise
            after = self.outbox().stats(clock.time())
            due_in = self.next_due_in()
        dead = max(tally.dead, after.dead - dead_before)
        seconds = clock.monotonic() - started
        return DrainReport(
            tally.delivered,
            tally.rescheduled,
            dead,
            after.pending,
            seconds,
            stopped_by,
            None if due_in is None else max(0.0, due_in),
            tally.last_error,
        )

    def _round(self, budget: _Budget, cancel: threading.Event, tally: _Tally) -> bool:
        """Send what is due next (a sealed batch first, else newly claimed items); False
        when nothing was due."""
        now = self._clock.time()
        batches = self.outbox().claim_batches(1, now)
        if batches:
            if self._is_gateway:
                # Sealed by an integration-API run of this outbox: the gateway sends each
                # event on its own (it upserts on the event id), so the grouping goes.
                self.outbox().release([c.key for c in batches[0].items])
            else:
                self._send_batches(batches, budget, cancel, tally)
            return True
        claimed = self.outbox().claim(self._config.batch_size, now)
        if not claimed:
            return False
        ready, burials = self._prepare(claimed)
        self._bury(burials, tally)
        if self._is_gateway:
            self._deliver_gateway(ready, budget, cancel, tally)
        else:
            self._send_batches(self._seal(ready), budget, cancel, tally)
        return True

    def _prepare(self, claimed: list[Claimed]) -> tuple[list[tuple[Claimed, Any]], list[Burial]]:
        ready: list[tuple[Claimed, Any]] = []
        burials: list[Burial] = []
        for item in claimed:
            try:
                ready.append((item, self._shape(item)))
            except VectorVueSerializationError as exc:
                # Local validation refused it for this profile: no resend can change that.
                burials.append(Burial(item.key, f"refused locally: {exc.rules()}"))
            except (msgspec.DecodeError, RecursionError) as exc:  # a body this version cannot read
                burials.append(Burial(item.key, f"{UNREADABLE}: {exc}"))
        return ready, burials

    def _shape(self, item: Claimed) -> Any:
        payload: CanonicalEvent | models.IntegrationFinding
        if item.kind is ItemKind.EVENT:
            payload = msgspec.json.decode(item.body, type=CanonicalEvent)
        else:
            payload = msgspec.json.decode(item.body, type=models.IntegrationFinding)
        if self._is_gateway:
            if isinstance(payload, models.IntegrationFinding):
                payload = finding_to_canonical(payload, self._options.source_system)
            return self._gateway.prepare([payload])[0]
        if isinstance(payload, CanonicalEvent):
            return self._integration.encoded(to_integration_event(payload))
        return self._integration.encoded(payload)

    # -- the integration API: sealed batches ------------------------------------------------
    def _seal(self, ready: list[tuple[Claimed, Any]]) -> list[ClaimedBatch]:
        """Group ready items into requests (events, then findings) and seal each before
        its first attempt; returns them in sending order."""
        sealed: list[ClaimedBatch] = []
        for path, kind in (
            (EVENTS_BATCH_PATH, models.IntegrationEvent),
            (FINDINGS_BATCH_PATH, models.IntegrationFinding),
        ):
            group = [(c, e) for c, e in ready if isinstance(e.payload, kind)]
            if not group:
                continue
            encoded: list[Encoded] = [e for _, e in group]
            for planned in self._integration.plan(encoded):
                items = tuple(group[i][0] for i in planned.indices)
                sealed.append(ClaimedBatch(planned.key, path, planned.body, 0, items))
        self.outbox().seal(
            [Batch(b.key, b.path, b.body, tuple(c.key for c in b.items)) for b in sealed],
            self._clock.time(),
        )
        return sealed

    def _send_batches(
        self,
        batches: list[ClaimedBatch],
        budget: _Budget,
        cancel: threading.Event,
        tally: _Tally,
    ) -> None:
        """Send sealed batches in order. A transport failure reschedules the batch tried,
        puts the others back as they were (no attempt made), and stops the drain: the next
        requests would fail alike."""
        for position, batch in enumerate(batches):
            try:
                deadline = budget()
            except _Stop:
                self._release_batches(batches[position:])
                raise
            ids = tuple(item_id(c.key) for c in batch.items)
            planned = PlannedBatch(batch.body, batch.key, ids, tuple(range(len(ids))))
            tally.requests += 1
            try:
                envelope = self._integration.post(
                    "drain",
                    batch.path,
                    planned,
                    self._clock.monotonic(),
                    cancel,
                    deadline=deadline,
                )
            except VectorVueTransportError as exc:
                self._reschedule_batch(batch, str(exc), None, tally)
                self._release_batches(batches[position + 1 :])
                raise _Stop("unreachable") from None
            except VectorVueAPIError as exc:
                if burials := _refused(exc, [c.key for c in batch.items], PERMANENT_STATUSES):
                    self._bury(burials, tally)
                else:  # 401/403/429/5xx: not the items' fault; resent whole, later
                    self._reschedule_batch(batch, str(exc), exc.retry_after, tally)
                continue
            self._settle_items(list(batch.items), envelope, tally)

    def _settle_items(
        self, items: list[Claimed], envelope: ResponseEnvelope, tally: _Tally
    ) -> None:
        """VectorVue answered: each item's fate from its result. An item the answer said
        nothing about is tried again on its own (the request's outcome is known)."""
        by_index = {item.index: item for item in envelope.items}
        delivered, retry, burials = [], [], []
        for index, item in enumerate(items):
            outcome = by_index.get(index)
            if outcome is not None and outcome.accepted:
                delivered.append(item.key)
            elif outcome is not None and is_permanent_item_failure(outcome):
                reason = f"{outcome.error_code or 'failed'}: {outcome.error_message or ''}"
                burials.append(Burial(item.key, reason.strip()))
            else:
                retry.append(item)
        self._delivered(delivered, tally)
        self._bury(burials, tally)
        self._reschedule(retry, "VectorVue gave no result for the item", None, tally)

    def _reschedule_batch(
        self, batch: ClaimedBatch, error: str, retry_after: float | None, tally: _Tally
    ) -> None:
        """The batch's outcome is unknown: it is resent whole, later, with the same bytes
        and key. Its items share one fate, so when one of them reaches
        outbox_max_attempts all are dead-lettered (the request cannot be resent in part)."""
        tally.last_error = error
        now = self._clock.time()
        failures = max(c.attempts for c in batch.items) + 1
        if self._spent(failures):
            reason = f"gave up after {failures} attempts: {error}"
            self._bury([Burial(c.key, reason) for c in batch.items], tally)
            return
        # The backoff follows the batch's own attempts: its items may have had others before.
        due = now + self._backoff(batch.attempts + 1, retry_after)
        self.outbox().reschedule_batches([Reschedule(batch.key, due, error)], now)
        tally.rescheduled += len(batch.items)

    def _release_batches(self, batches: list[ClaimedBatch]) -> None:
        if batches:  # not attempted: back in line as they were, still sealed
            self.outbox().release_batches([b.key for b in batches])

    # -- the telemetry gateway: one event per request ---------------------------------------
    def _deliver_gateway(
        self,
        ready: list[tuple[Claimed, Any]],
        budget: _Budget,
        cancel: threading.Event,
        tally: _Tally,
    ) -> None:
        parts: GatewayParts
        for position, (item, parts) in enumerate(ready):
            try:
                deadline = budget()
            except _Stop:
                self.outbox().release([c.key for c, _ in ready[position:]])
                raise
            # The operator's budget is waited for inside the drain's deadline too: a drain
            # never runs past it, so an event that cannot go in time waits for the next.
            waited = self._delivery.pace(parts.operator_id, cancel, deadline)
            if waited is None:
                self.outbox().release([c.key for c, _ in ready[position:]])
                raise _Stop("deadline")
            if deadline is not None:
                deadline -= waited
            tally.requests += 1
            try:
                started = self._clock.monotonic()
                self._gateway.one("drain", parts, started, cancel, deadline=deadline, paced=True)
            except VectorVueTransportError as exc:
                self._reschedule([item], str(exc), None, tally)
                untried = [c.key for c, _ in ready[position + 1 :]]
                if untried:  # not attempted: back in line as they were
                    self.outbox().release(untried)
                raise _Stop("unreachable") from None
            except VectorVueAPIError as exc:
                if burials := _refused(exc, [item.key], GATEWAY_PERMANENT_STATUSES):
                    self._bury(burials, tally)
                else:  # 401/403/429/5xx: not the item's fault; it waits for a better moment
                    self._reschedule([item], str(exc), exc.retry_after, tally)
                continue
            self._delivered([item.key], tally)

    # -- recording fates --------------------------------------------------------------------
    def _delivered(self, keys: list[str], tally: _Tally) -> None:
        if keys:
            self.outbox().delivered(keys, self._clock.time())
            tally.delivered += len(keys)

    def _bury(self, burials: list[Burial], tally: _Tally) -> None:
        if burials:
            self.outbox().bury(burials, self._clock.time())
            tally.dead += len(burials)

    def _reschedule(
        self, items: list[Claimed], error: str, retry_after: float | None, tally: _Tally
    ) -> None:
        if not items:
            return
        tally.last_error = error
        now = self._clock.time()
        retries, burials = [], []
        for item in items:
            failures = item.attempts + 1
            if self._spent(failures):
                burials.append(Burial(item.key, f"gave up after {failures} attempts: {error}"))
                continue
            due = now + self._backoff(failures, retry_after)
            retries.append(Reschedule(item.key, due, error))
        if retries:
            self.outbox().reschedule(retries, now)
            tally.rescheduled += len(retries)
        self._bury(burials, tally)

    def _spent(self, failures: int) -> bool:
        """Whether `failures` failed attempts reach outbox_max_attempts (None: never)."""
        limit = self._config.outbox_max_attempts
        return limit is not None and failures >= limit

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        """Seconds before the next attempt after `failures` failures (domain.outbox)."""
        config = self._config
        return next_attempt_delay(
            failures,
            base=config.outbox_backoff_base_seconds,
            cap=config.outbox_backoff_max_seconds,
            jitter=self._jitter(),
            retry_after=retry_after,
        )


def _refused(exc: VectorVueAPIError, keys: list[str], refusing: frozenset[int]) -> list[Burial]:
    """The dead letters of `keys` when VectorVue's answer says the items are wrong (its
    status in `refusing`; none when it says "not now"), with what VectorVue said as the
    reason."""
    if exc.status_code not in refusing:
        return []
    said = exc.envelope.error if exc.envelope is not None and exc.envelope.error else str(exc)
    return [Burial(key, f"HTTP {exc.status_code}: {said}", exc.status_code) for key in keys]


def _record(item: CanonicalEvent | models.IntegrationFinding) -> OutboxRecord:
    # parse_output builds every item from checked text and to_json_value output, so no
    # NaN or infinity can be in it: encoded without looking for one.
    if isinstance(item, CanonicalEvent):
        # The tenant is part of the key: the gateway upserts on (tenant_id, event_id).
        key = f"event:{item.tenant_id or '-'}:{item.event_id}"
        return OutboxRecord(key, ItemKind.EVENT, encode_json_data(item))
    return OutboxRecord(f"finding:{item.finding_id}", ItemKind.FINDING, encode_json_data(item))
