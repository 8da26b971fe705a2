"""The outbox side of the application service: enqueue durably, drain by delivering.

`enqueue` normalizes what it is given (refusing bad input at once), stores each item under
its deterministic key and returns when the items are durable; it never touches the
network. `drain` takes due items in FIFO order, shapes them for the active profile, sends
them, and records each item's fate: delivered once VectorVue accepted it, rescheduled (with
backoff from the domain) after a transient failure, dead-lettered with the reason when
VectorVue or local validation refused it for good. Nothing is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from vectorvue_client.delivery import Delivery
from vectorvue_client.domain import models
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.outbox import (
    PERMANENT_STATUSES,
    Burial,
    Claimed,
    ItemKind,
    OutboxRecord,
    Reschedule,
    is_permanent_item_failure,
    next_attempt_delay,
)
from vectorvue_client.domain.profiles import finding_to_canonical, to_integration_event
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output
from vectorvue_client.ports import Outbox
from vectorvue_client.senders import Encoded, GatewaySender, IntegrationSender, convert_all

EVENTS_BATCH_PATH = "/api/v1/integrations/spectrastrike/events/batch"
FINDINGS_BATCH_PATH = "/api/v1/integrations/spectrastrike/findings/batch"


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What one drain did, and what is left."""

    delivered: int
    rescheduled: int
    dead: int
    pending: int
    seconds: float
    stopped_by: str  # "empty" (nothing due), "deadline", "unreachable", "stopping"


@dataclass
class _Tally:
    delivered: int = 0
    rescheduled: int = 0
    dead: int = 0


class OutboxService:
    """Enqueue and drain over an Outbox, with the client's delivery machinery."""

    def __init__(
        self,
        outbox: Outbox,
        delivery: Delivery,
        integration: IntegrationSender,
        gateway: GatewaySender,
        options: SpectraStrikeOptions,
        jitter: Callable[[], float],
    ) -> None:
        self.outbox = outbox
        self._delivery = delivery
        self._integration = integration
        self._gateway = gateway
        self._options = options
        self._jitter = jitter
        self._is_gateway = delivery.config.profile == "telemetry-gateway"
        self._draining = threading.Lock()  # one drain at a time: the worker or a caller
        self.stopping = threading.Event()

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
        self.outbox.put(records, self._delivery.clock.time())
        return [r.key for r in records]

    # -- drain ------------------------------------------------------------------------------
    def drain(self, deadline_seconds: float) -> DrainReport:
        """Deliver due items until none is due, the deadline passes, VectorVue is
        unreachable, or the client stops."""
        clock = self._delivery.clock
        started = clock.monotonic()
        tally = _Tally()
        stopped_by = "empty"
        with self._draining:
            while True:
                remaining = deadline_seconds - (clock.monotonic() - started)
                if self.stopping.is_set():
                    stopped_by = "stopping"
                    break
                if remaining <= 0:
                    stopped_by = "deadline"
                    break
                claimed = self.outbox.claim(self._delivery.config.batch_size, clock.time())
                if not claimed:
                    break
                if not self._deliver(claimed, remaining, tally):
                    stopped_by = "unreachable"
                    break
        pending = self.outbox.stats(clock.time()).pending
        seconds = clock.monotonic() - started
        return DrainReport(
            tally.delivered, tally.rescheduled, tally.dead, pending, seconds, stopped_by
        )

    def _deliver(self, claimed: list[Claimed], remaining: float, tally: _Tally) -> bool:
        """Deliver one claimed batch; False when VectorVue could not be reached (the rest
        of the drain would fail the same way)."""
        ready, burials = self._prepare(claimed)
        self._bury(burials, tally)
        if not ready:
            return True
        if self._is_gateway:
            return self._deliver_gateway(ready, remaining, tally)
        return self._deliver_integration(ready, remaining, tally)

    def _prepare(self, claimed: list[Claimed]) -> tuple[list[tuple[Claimed, Any]], list[Burial]]:
        ready: list[tuple[Claimed, Any]] = []
        burials: list[Burial] = []
        for item in claimed:
            try:
                ready.append((item, self._shape(item)))
            except VectorVueSerializationError as exc:
                # Local validation refused it for this profile: no resend can change that.
                burials.append(Burial(item.key, f"refused locally: {exc.rules()}"))
            except msgspec.DecodeError as exc:  # a body this version cannot read
                burials.append(Burial(item.key, f"unreadable outbox item: {exc}"))
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

    def _deliver_integration(
        self, ready: list[tuple[Claimed, Any]], remaining: float, tally: _Tally
    ) -> bool:
        clock = self._delivery.clock
        groups = [
            (path, [(c, e) for c, e in ready if isinstance(e.payload, kind)])
            for path, kind in (
                (EVENTS_BATCH_PATH, models.IntegrationEvent),
                (FINDINGS_BATCH_PATH, models.IntegrationFinding),
            )
        ]
        for position, (path, group) in enumerate(groups):
            if not group:
                continue
            encoded: list[Encoded] = [e for _, e in group]
            try:
                envelope = self._integration.many(
                    "drain", path, encoded, clock.monotonic(), deadline=remaining
                )
            except VectorVueTransportError as exc:
                self._reschedule([c for c, _ in group], str(exc), None, tally)
                # The groups not tried yet go back as they were: no attempt was made.
                untried = [c.key for _, later in groups[position + 1 :] for c, _ in later]
                if untried:
                    self.outbox.release(untried)
                return False
            except VectorVueAPIError as exc:
                self._refused_request([c for c, _ in group], exc, tally)
                continue
            by_index = {item.index: item for item in envelope.items}
            delivered, retry, burials = [], [], []
            for index, (item, _) in enumerate(group):
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
        return True

    def _deliver_gateway(
        self, ready: list[tuple[Claimed, Any]], remaining: float, tally: _Tally
    ) -> bool:
        for position, (item, parts) in enumerate(ready):
            try:
                self._gateway.one("drain", parts, deadline=remaining)
            except VectorVueTransportError as exc:
                self._reschedule([item], str(exc), None, tally)
                untried = [c.key for c, _ in ready[position + 1 :]]
                if untried:  # not attempted: back in line as they were
                    self.outbox.release(untried)
                return False
            except VectorVueAPIError as exc:
                self._refused_request([item], exc, tally)
                continue
            self._delivered([item.key], tally)
        return True

    # -- recording fates --------------------------------------------------------------------
    def _refused_request(self, items: list[Claimed], exc: VectorVueAPIError, tally: _Tally) -> None:
        if exc.status_code in PERMANENT_STATUSES:
            reason = f"HTTP {exc.status_code}: {exc.envelope.error if exc.envelope else exc}"
            self._bury([Burial(i.key, reason, exc.status_code) for i in items], tally)
        else:  # 401/403/429/5xx: not the items' fault; they wait for a better moment
            self._reschedule(items, str(exc), exc.retry_after, tally)

    def _delivered(self, keys: list[str], tally: _Tally) -> None:
        if keys:
            self.outbox.delivered(keys, self._delivery.clock.time())
            tally.delivered += len(keys)

    def _bury(self, burials: list[Burial], tally: _Tally) -> None:
        if burials:
            self.outbox.bury(burials, self._delivery.clock.time())
            tally.dead += len(burials)

    def _reschedule(
        self, items: list[Claimed], error: str, retry_after: float | None, tally: _Tally
    ) -> None:
        if not items:
            return
        config, now = self._delivery.config, self._delivery.clock.time()
        retries, burials = [], []
        for item in items:
            failures = item.attempts + 1
            if config.outbox_max_attempts is not None and failures >= config.outbox_max_attempts:
                burials.append(Burial(item.key, f"gave up after {failures} attempts: {error}"))
                continue
            delay = next_attempt_delay(
                failures,
                base=config.outbox_backoff_base_seconds,
                cap=config.outbox_backoff_max_seconds,
                jitter=self._jitter(),
                retry_after=retry_after,
            )
            retries.append(Reschedule(item.key, now + delay, error))
        if retries:
            self.outbox.reschedule(retries, now)
            tally.rescheduled += len(retries)
        self._bury(burials, tally)


def _record(item: CanonicalEvent | models.IntegrationFinding) -> OutboxRecord:
    # parse_output builds every item from checked text and to_json_value output, so no
    # NaN or infinity can be in it: encoded without looking for one.
    if isinstance(item, CanonicalEvent):
        # The tenant is part of the key: the gateway upserts on (tenant_id, event_id).
        key = f"event:{item.tenant_id or '-'}:{item.event_id}"
        return OutboxRecord(key, ItemKind.EVENT, encode_json_data(item))
    return OutboxRecord(f"finding:{item.finding_id}", ItemKind.FINDING, encode_json_data(item))
