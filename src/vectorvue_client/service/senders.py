"""The two ways a validated payload reaches VectorVue, one per profile.

IntegrationSender: encode each payload once, plan batches by count and bytes, POST each
batch (or the single item) through Delivery. GatewaySender: one request per event, its
body completed per attempt with a fresh timestamp and nonce, paced per operator.
Both return one ResponseEnvelope whose `items` give every item's outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain import models
from vectorvue_client.domain.batching import plan_batches
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import (
    array_size,
    encode_array,
    encode_json_data,
)
from vectorvue_client.domain.envelope import ItemOutcome, ResponseEnvelope, merge_batches
from vectorvue_client.domain.errors import (
    Problem,
    VectorVueAPIError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.gateway import GatewayParts
from vectorvue_client.domain.identity import idempotency_key
from vectorvue_client.domain.profiles import GatewayContext, to_gateway
from vectorvue_client.service.delivery import NO_OBSERVER, Delivery, Send, SendObserver

_BASE: Final = "/api/v1/integrations/spectrastrike"
EVENTS_PATH: Final = f"{_BASE}/events"
EVENTS_BATCH_PATH: Final = f"{_BASE}/events/batch"
FINDINGS_PATH: Final = f"{_BASE}/findings"
FINDINGS_BATCH_PATH: Final = f"{_BASE}/findings/batch"
STATUS_PATH: Final = f"{_BASE}/ingest/status/"
TELEMETRY_PATH: Final = "/internal/v1/telemetry"


def convert_all[T, U](
    items: Sequence[T], convert: Callable[[T], U], *, field: str = "items"
) -> list[U]:
    """`convert` applied to every item; every problem of every item is collected (with the
    item's index) and raised together, so nothing is sent when anything is wrong."""
    problems: list[Problem] = []
    out: list[U] = []
    if isinstance(items, (str, bytes, dict)) or not items:
        raise VectorVueSerializationError.single(field, "must be a non-empty list of items")
    for index, item in enumerate(items):
        try:
            out.append(convert(item))
        except VectorVueSerializationError as exc:
            problems.extend(exc.at_index(index).problems)
    if problems:
        raise VectorVueSerializationError(problems)
    return out


Payload = models.IntegrationEvent | models.IntegrationFinding


@dataclass(frozen=True, slots=True)
class Encoded:
    """A payload and its bytes, encoded once."""

    payload: Payload
    body: bytes


def _item_id(payload: Payload) -> str:
    if type(payload) is models.IntegrationEvent:
        return payload.event_id
    assert isinstance(payload, models.IntegrationFinding)
    return payload.finding_id


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One request of a batch send: its body, its Idempotency-Key, and its items' ids and
    positions in the caller's list."""

    body: bytes
    key: str
    item_ids: tuple[str, ...]
    indices: tuple[int, ...]


class IntegrationSender:
    """Delivers integration-API payloads (events or findings) as single POSTs or batches."""

    def __init__(self, delivery: Delivery, config: VectorVueConfig) -> None:
        self._delivery = delivery
        self._config = config

    def encoded(self, payload: Payload) -> Encoded:
        """`payload` encoded once; an item that could not fit in any batch on its own is an
        error for that item (field "(item)"), never a crash and never a silent drop. A
        normalized payload holds no NaN; a NUL in it is refused here, naming the field."""
        body = encode_json_data(payload)
        limit = self._config.max_batch_bytes
        if array_size(len(body), 1) > limit:
            raise VectorVueSerializationError.single(
                "(item)", f"encodes to {len(body)} bytes, more than max_batch_bytes ({limit})"
            )
        return Encoded(payload, body)

    @staticmethod
    def body_of(payload: Payload) -> bytes:
        """The body of a single POST of `payload`: encoded once (a NUL refused, naming its
        field), and at most the MAX_BODY_BYTES VectorVue takes in one request."""
        body = encode_json_data(payload)
        if len(body) > models.MAX_BODY_BYTES:
            raise VectorVueSerializationError.single(
                "(item)",
                f"encodes to {len(body):,} bytes, more than the {models.MAX_BODY_BYTES:,} "
                "VectorVue accepts in one request (it would answer 413 after the upload)",
            )
        return body

    def one(
        self,
        operation: str,
        path: str,
        body: bytes,
        key: str | None,
        started: float,
        cancel: threading.Event,
    ) -> ResponseEnvelope:
        """POST one encoded payload (`body_of` it: the caller encodes it where a refusal is
        audited); the Idempotency-Key is derived from the body unless given."""
        return self._delivery.post(self._send(operation, path, body, key, started), cancel)

    def plan_all(self, payloads: Sequence[Payload]) -> list[PlannedBatch]:
        """`plan` of every payload `encoded`, refusing what `encoded` refuses (each problem
        with its payload's index). When every `batch_size` items fit in `max_batch_bytes`
        (the common case), `plan` would cut the list every `batch_size` items: each such
        chunk is encoded as the array that is its body (the same bytes, each item encoded
        once, without a join and a size check per item). Else each item is encoded alone,
        for `plan` to split by bytes."""
        size, most = self._config.batch_size, self._config.max_batch_bytes
        planned = []
        for first in range(0, len(payloads), size):
            chunk = payloads[first : first + size]
            try:
                body = encode_json_data(chunk)  # normalized: no NaN, a NUL is refused
            except VectorVueSerializationError:
                break  # a NUL: `encoded` names the item and the field, below
            if len(body) > most:
                break
            ids = tuple(map(_item_id, chunk))
            indices = tuple(range(first, first + len(ids)))
            planned.append(PlannedBatch(body, idempotency_key(body), ids, indices))
        else:
            return planned
        return self.plan(convert_all(payloads, self.encoded))

    def plan(self, items: Sequence[Encoded]) -> list[PlannedBatch]:
        """The requests `items` (from `encoded`) go out in: as few batches as `batch_size`
        and `max_batch_bytes` allow, in order, each body the items' bytes joined as they
        are and its Idempotency-Key derived from that body."""
        config = self._config
        plan = plan_batches(
            [len(i.body) for i in items],
            max_count=config.batch_size,
            max_bytes=config.max_batch_bytes,
        )
        if plan.oversized:  # `encoded` refuses these first; a guard, not a path
            raise VectorVueSerializationError.single("(item)", "larger than max_batch_bytes")
        planned = []
        for chunk in plan.batches:
            body = encode_array([items[i].body for i in chunk])
            ids = tuple(_item_id(items[i].payload) for i in chunk)
            planned.append(PlannedBatch(body, idempotency_key(body), ids, chunk))
        return planned

    def post(
        self,
        operation: str,
        path: str,
        batch: PlannedBatch,
        started: float,
        cancel: threading.Event,
        *,
        deadline: float | None = None,
        observer: SendObserver = NO_OBSERVER,
    ) -> ResponseEnvelope:
        """POST one planned batch under its own key (the same bytes and key on every
        attempt, and on every later resend of it)."""
        send = self._send(
            operation, path, batch.body, batch.key, started, batch.item_ids, batch.indices
        )
        if deadline is not None:
            send = msgspec.structs.replace(send, deadline=deadline)
        return self._delivery.post(send, cancel, observer)

    def many(
        self,
        operation: str,
        path: str,
        planned: Sequence[PlannedBatch],
        started: float,
        cancel: threading.Event,
        observer: SendObserver = NO_OBSERVER,
    ) -> ResponseEnvelope:
        """POST the batches of a plan (`plan` or `plan_all`), in order: one envelope;
        `observer` is told of each request as it starts and ends."""
        parts = []
        for batch in planned:
            observer.request_started(len(batch.indices))
            part = self.post(operation, path, batch, started, cancel, observer=observer)
            observer.request_done(part)
            parts.append(part)
        return merge_batches(parts, sum(len(batch.indices) for batch in planned))

    def _send(
        self,
        operation: str,
        path: str,
        body: bytes,
        key: str | None,
        started: float,
        item_ids: Sequence[str] = (),
        indices: Sequence[int] = (),
    ) -> Send:
        key = key or idempotency_key(body)
        return Send(operation, path, body, key, started, item_ids, indices, max(len(item_ids), 1))


class GatewaySender:
    """Delivers canonical events to the telemetry gateway: one request per event."""

    def __init__(self, delivery: Delivery, context: GatewayContext) -> None:
        self._delivery = delivery
        self._context = context

    def prepare(self, events: Sequence[CanonicalEvent]) -> list[GatewayParts]:
        """Every event checked against every gateway rule; all problems raised together."""
        return convert_all(events, lambda event: to_gateway(event, self._context))

    def one(
        self,
        operation: str,
        parts: GatewayParts,
        started: float,
        cancel: threading.Event,
        *,
        deadline: float | None = None,
        paced: bool = False,
    ) -> ResponseEnvelope:
        """Send one event; a refusal raises (VectorVueAPIError). Its deadline counts from
        `started`, plus the wait for its operator's budget; `paced`: the caller has already
        waited for that budget (see Delivery.pace)."""
        waited = 0.0 if paced else self._delivery.pace(parts.operator_id, cancel)
        send = self._send(operation, parts, 0, started + (waited or 0.0))
        if deadline is not None:
            send = msgspec.structs.replace(send, deadline=deadline)
        return self._delivery.post(send, cancel)

    def many(
        self,
        operation: str,
        parts: Sequence[GatewayParts],
        started: float,
        cancel: threading.Event,
        observer: SendObserver = NO_OBSERVER,
    ) -> ResponseEnvelope:
        """Send each event in order, paced per operator, all within one deadline counted
        from `started`; the waits for an operator's budget are not counted in it (they
        depend on the budget, not on VectorVue, and are known in advance). An event
        VectorVue refuses becomes a failed item and the others still go; a transport
        failure (VectorVue unreachable, or the deadline spent) stops the batch and raises,
        since the next ones would fail too. `observer` is told of each wait and request."""
        envelopes = []
        paced = 0.0
        for index, item in enumerate(parts):
            event_id = item.payload.event_id
            paced += self._delivery.pace(item.operator_id, cancel, None, observer) or 0.0
            send = self._send(operation, item, index, started + paced)
            observer.request_started(1)
            try:
                envelope = self._delivery.post(send, cancel, observer)
            except VectorVueAPIError as exc:
                envelope = _refused_item(exc, index, event_id)
            else:
                status = "accepted" if envelope.success else "failed"
                outcome = ItemOutcome(index, event_id, status, None, envelope.error)
                envelope = msgspec.structs.replace(envelope, items=(outcome,))
            observer.request_done(envelope)
            envelopes.append(envelope)
        return merge_batches(envelopes, len(parts))

    def _send(self, operation: str, parts: GatewayParts, index: int, started: float) -> Send:
        return Send(
            operation,
            TELEMETRY_PATH,
            b"",
            "",  # the gateway has no idempotency header: it upserts on (tenant, event_id)
            started,
            item_ids=(parts.payload.event_id,),
            indices=(index,),
            template=parts.body,
            pace_key=parts.operator_id,
        )


def _refused_item(exc: VectorVueAPIError, index: int, event_id: str) -> ResponseEnvelope:
    code = exc.error_code or f"http_{exc.status_code}"
    message = exc.envelope.error if exc.envelope is not None else str(exc)
    return ResponseEnvelope(
        success=False,
        status_code=exc.status_code,
        request_id=exc.request_id,
        error=f"item {index} ({event_id}): {message}",
        status="failed",
        attempts=exc.envelope.attempts if exc.envelope is not None else 1,
        items=(ItemOutcome(index, event_id, "failed", code, message),),
    )
