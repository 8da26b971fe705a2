"""VectorVueClient: the application service's public face.

It validates and normalizes what it is given and hands the payloads to the sender of the
configured profile (senders.py), which encodes each once and sends it through Delivery
(delivery.py: the attempt loop). Every decision (normalization, encoding, batching,
retries, envelopes) is the domain's.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain import models
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.envelope import ResponseEnvelope, merge_batches
from vectorvue_client.domain.errors import (
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.gateway import GatewayParts
from vectorvue_client.domain.health import HealthReport, health_report
from vectorvue_client.domain.http import HttpRequest
from vectorvue_client.domain.normalize import normalize_event, normalize_finding
from vectorvue_client.domain.profiles import (
    GatewayContext,
    finding_to_canonical,
    to_integration_event,
)
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output
from vectorvue_client.ports import (
    AuditSink,
    Clock,
    CredentialSource,
    Entropy,
    Outbox,
    Signer,
    Transport,
)
from vectorvue_client.service.client_outbox import OutboxMethods
from vectorvue_client.service.delivery import BASE_HEADERS, Delivery, Send, summary
from vectorvue_client.service.outbox import OutboxService
from vectorvue_client.service.senders import Encoded, GatewaySender, IntegrationSender, convert_all
from vectorvue_client.service.worker import DeliveryWorker

_BASE: Final = "/api/v1/integrations/spectrastrike"
EVENTS_PATH: Final = f"{_BASE}/events"
EVENTS_BATCH_PATH: Final = f"{_BASE}/events/batch"
FINDINGS_PATH: Final = f"{_BASE}/findings"
FINDINGS_BATCH_PATH: Final = f"{_BASE}/findings/batch"
STATUS_PATH: Final = f"{_BASE}/ingest/status/"
HEALTH_PATH: Final = "/healthz"

Item = Mapping[str, Any] | msgspec.Struct
# How long close() waits for a worker to end its current request beyond its timeout.
_STOP_GRACE_SECONDS: Final = 0.25


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedItem:
    """One item send_outputs would send: its kind ("event" or "finding"), id, type and
    asset."""

    kind: str
    item_id: str
    item_type: str
    asset_ref: str | None


Output = CanonicalEvent | models.IntegrationFinding


class VectorVueClient(OutboxMethods):
    """Delivers events and findings to VectorVue, in the configured profile.

    Build it with `VectorVueClient.from_config(config)` for the default adapters, or hand the
    constructor your own implementations of the ports (see vectorvue_client.ports).
    """

    def __init__(
        self,
        *,
        config: VectorVueConfig,
        transport: Transport,
        credentials: CredentialSource,
        signer: Signer,
        audit: AuditSink,
        clock: Clock,
        entropy: Entropy,
        outbox: Callable[[], Outbox] | None = None,
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._closers = tuple(closers)
        self._open_outbox = outbox
        self._outbox_service: OutboxService | None = None
        self._worker: DeliveryWorker | None = None
        self._outbox_lock = threading.Lock()
        self._entropy_random = entropy.random
        self._delivery = Delivery(
            config=config,
            transport=transport,
            credentials=credentials,
            signer=signer,
            audit=audit,
            clock=clock,
            entropy=entropy,
        )
        self._gateway = config.profile == "telemetry-gateway"
        self._integration_sender = IntegrationSender(self._delivery)
        self._gateway_sender = GatewaySender(
            self._delivery,
            GatewayContext(
                operator_id=config.operator_id,
                campaign_id=config.campaign_id,
                tenant_id=config.tenant_id,
                attestation_measurement_hash=config.attestation_measurement_hash,
            ),
        )
        self._options = SpectraStrikeOptions(
            source_system=config.source_system, session_output_cap=config.session_output_cap
        )
        self._closed = False

    @classmethod
    def from_config(cls, config: VectorVueConfig) -> VectorVueClient:
        """A client wired with the default adapters by the dependency-injector container."""
        from vectorvue_client.container import build_client  # the container imports us

        return build_client(config)

    @property
    def config(self) -> VectorVueConfig:
        """The configuration this client was built with."""
        return self._delivery.config

    # -- health and status ------------------------------------------------------------------
    def health(self) -> HealthReport:
        """What /healthz says (status, version, checks). One attempt, no credentials sent;
        a failure is a report with `healthy` False and the reason in `error`, audited."""
        self._ensure_open()
        clock, config = self._delivery.clock, self._delivery.config
        send = Send("health_check", HEALTH_PATH, b"", "", clock.monotonic(), method="GET")
        request = HttpRequest("GET", HEALTH_PATH, BASE_HEADERS)
        timeouts = self._delivery.timeouts(config.deadline_seconds)
        result = self._delivery.transport.send(request, timeouts)
        report = health_report(result)
        self._delivery.record(
            send,
            "success" if report.healthy else "unhealthy",
            attempts=(summary(result, None),),
            status_code=report.status_code,
            error=report.error,
        )
        return report

    def health_check(self) -> bool:
        """True only when /healthz answers 200 with status "healthy"."""
        return self.health().healthy

    def ingest_status(self, request_id: str) -> ResponseEnvelope:
        """The integration API's record of an earlier request: `data` holds its status,
        counts and failed items. An unknown id is a VectorVueAPIError with status 404."""
        started = self._start("ingest_status")
        if self._gateway:
            raise VectorVueConfigError("profile", "the telemetry gateway has no ingest status")
        problem = _request_id_problem(request_id)
        if problem:
            error = VectorVueSerializationError.single("request_id", problem)
            self._refused("ingest_status", STATUS_PATH, started, error, 1)
            raise error
        path = STATUS_PATH + quote(request_id, safe="")
        return self._delivery.post(Send("ingest_status", path, b"", "", started, method="GET"))

    # -- sending ----------------------------------------------------------------------------
    def send_event(self, event: Item, *, idempotency_key: str | None = None) -> ResponseEnvelope:
        """Validate and deliver one event (an integration-API event dict; for the gateway
        also any SpectraStrike output that yields exactly one event). The Idempotency-Key
        is derived from the body unless given, and is the same on every attempt."""
        started = self._start("send_event")
        if self._gateway:
            parts = self._refusing(
                "send_event", started, lambda: _single(self._gateway_parts([event]))
            )
            return self._gateway_sender.one("send_event", parts, started)
        payload = self._refusing("send_event", started, lambda: normalize_event(event))
        return self._integration_sender.one(
            "send_event", EVENTS_PATH, payload, idempotency_key, started
        )

    def send_finding(
        self, finding: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """Validate and deliver one finding (for the gateway: as an event)."""
        started = self._start("send_finding")
        payload = self._refusing("send_finding", started, lambda: normalize_finding(finding))
        if self._gateway:
            canonical = finding_to_canonical(payload, self._options.source_system)
            parts = self._refusing(
                "send_finding", started, lambda: _single(self._gateway_sender.prepare([canonical]))
            )
            return self._gateway_sender.one("send_finding", parts, started)
        return self._integration_sender.one(
            "send_finding", FINDINGS_PATH, payload, idempotency_key, started
        )

    def send_batch(self, events: Sequence[Item]) -> ResponseEnvelope:
        """Deliver events: integration API in as few requests as `batch_size` and
        `max_batch_bytes` allow; the gateway one request each, paced per operator.

        Every item is validated first: one bad item raises a VectorVueSerializationError
        listing every problem (index, field, rule), and nothing goes out.
        """
        started = self._start("send_batch")
        if self._gateway:
            parts = self._refusing("send_batch", started, lambda: self._gateway_parts(events))
            return self._gateway_sender.many("send_batch", parts, started)
        sender = self._integration_sender
        items = self._refusing(
            "send_batch",
            started,
            lambda: convert_all(events, lambda e: sender.encoded(normalize_event(e))),
        )
        return sender.many("send_batch", EVENTS_BATCH_PATH, items, started)

    def send_findings(self, findings: Sequence[Item]) -> ResponseEnvelope:
        """Deliver findings in batches, like send_batch (for the gateway: as events)."""
        started = self._start("send_findings")
        payloads = self._refusing(
            "send_findings", started, lambda: convert_all(findings, normalize_finding)
        )
        sender = self._integration_sender
        if self._gateway:
            source = self._options.source_system
            canonical = [finding_to_canonical(f, source) for f in payloads]
            parts = self._refusing(
                "send_findings", started, lambda: self._gateway_sender.prepare(canonical)
            )
            return self._gateway_sender.many("send_findings", parts, started)
        items = self._refusing(
            "send_findings", started, lambda: convert_all(payloads, sender.encoded)
        )
        return sender.many("send_findings", FINDINGS_BATCH_PATH, items, started)

    def send_outputs(self, documents: Sequence[Mapping[str, Any]]) -> ResponseEnvelope:
        """Deliver what SpectraStrike emits, whatever the shape (broker envelopes, internal
        events, CloudEvents, nmap and metasploit results, findings, VectorVue events): each
        document is recognised and normalized (one nmap result gives one event per host),
        and everything is validated before anything is sent; a problem names its
        document's index. `items` cover every event and then every finding (integration
        API), or every event in document order (gateway)."""
        started = self._start("send_outputs")
        if self._gateway:
            source = self._options.source_system

            def to_canonical(output: Output) -> CanonicalEvent:
                if isinstance(output, CanonicalEvent):
                    return output
                return finding_to_canonical(output, source)

            parts = self._refusing(
                "send_outputs",
                started,
                lambda: self._per_document(
                    documents,
                    lambda o: self._gateway_sender.prepare([to_canonical(o)])[0],
                ),
            )
            return self._gateway_sender.many("send_outputs", parts, started)
        sender = self._integration_sender

        def encoded(output: Output) -> Encoded:
            if isinstance(output, CanonicalEvent):
                return sender.encoded(to_integration_event(output))
            return sender.encoded(output)

        items = self._refusing(
            "send_outputs", started, lambda: self._per_document(documents, encoded)
        )
        events = [i for i in items if isinstance(i.payload, models.IntegrationEvent)]
        findings = [i for i in items if isinstance(i.payload, models.IntegrationFinding)]
        envelopes: list[ResponseEnvelope] = []
        if events:
            envelopes.append(sender.many("send_outputs", EVENTS_BATCH_PATH, events, started))
        if findings:
            sent = sender.many("send_outputs", FINDINGS_BATCH_PATH, findings, started)
            envelopes.append(_shift_items(sent, len(events)))
        return merge_batches(envelopes, len(items))

    def check_outputs(self, documents: Sequence[Mapping[str, Any]]) -> list[PlannedItem]:
        """What send_outputs would send, without sending: every document recognised,
        normalized and shaped for the active profile. Raises VectorVueSerializationError
        (problems carry the document's index) exactly when send_outputs would."""
        self._ensure_open()
        source = self._options.source_system

        def plan(output: Output) -> PlannedItem:
            if self._gateway:
                event = (
                    output
                    if isinstance(output, CanonicalEvent)
                    else finding_to_canonical(output, source)
                )
                parts = self._gateway_sender.prepare([event])[0]
                return PlannedItem(
                    "event", parts.payload.event_id, event.event_type, event.asset_ref
                )
            if isinstance(output, CanonicalEvent):
                payload = self._integration_sender.encoded(to_integration_event(output)).payload
                assert isinstance(payload, models.IntegrationEvent)
                return PlannedItem("event", payload.event_id, payload.event_type, payload.asset_ref)
            self._integration_sender.encoded(output)
            return PlannedItem("finding", output.finding_id, "finding", output.asset_ref)

        return self._per_document(documents, plan)

    def close(self, timeout: float = 0.0) -> None:
        """Stop the worker, interrupting a retry it sleeps on; deliver what the outbox holds
        for up to `timeout` seconds; leave the rest durable; release the transport, the
        outbox and whatever else the wiring opened (`closers`). Idempotent.

        Returns within `timeout` plus a quarter of a second: a worker still inside a
        request then is not waited for. What it was sending stays in flight in the
        outbox file, and is put back in line (and resent under the same key) when the
        outbox is next opened."""
        if self._closed:
            return
        clock = self._delivery.clock
        ends = clock.monotonic() + max(timeout, 0.0)

        def left() -> float:
            return max(0.0, ends - clock.monotonic())

        worker_stopped = True
        try:
            if self._worker is not None:
                clock.interrupt()
                worker_stopped = self.stop_worker(left() + _STOP_GRACE_SECONDS)
            if self._outbox_service is not None and left() > 0 and worker_stopped:
                self._outbox_service.drain(left())
        finally:
            self._closed = True
            self._delivery.stopping.set()
            self._delivery.transport.close()
            if self._outbox_service is not None:
                self._outbox_service.stopping.set()
                self._outbox_service.outbox.close()
            for close in self._closers:
                close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers ----------------------------------------------------------------------------
    def _per_document[R](
        self, documents: Sequence[Mapping[str, Any]], prepare: Callable[[Output], R]
    ) -> list[R]:
        """Every output of every document, prepared; problems carry the document's index."""

        def one(document: Mapping[str, Any]) -> list[R]:
            outputs = parse_output(document, self._options)
            return convert_all(outputs, prepare) if outputs else []

        nested = convert_all(documents, one, field="documents")
        return [item for group in nested for item in group]

    def _gateway_parts(self, documents: Sequence[Item]) -> list[GatewayParts]:
        def canonical(document: Item) -> list[CanonicalEvent]:
            data = (
                msgspec.structs.asdict(document)
                if isinstance(document, msgspec.Struct)
                else document
            )
            found = parse_output(data, self._options)
            out = []
            for item in found:
                if isinstance(item, models.IntegrationFinding):
                    out.append(finding_to_canonical(item, self._options.source_system))
                else:
                    out.append(item)
            return out

        events = [e for group in convert_all(documents, canonical) for e in group]
        return self._gateway_sender.prepare(events)

    def _refusing[R](self, operation: str, started: float, work: Callable[[], R]) -> R:
        """Run `work`; a serialization error is audited as a refusal, then raised."""
        try:
            return work()
        except VectorVueSerializationError as exc:
            self._refused(operation, "(local validation)", started, exc, len(exc.problems))
            raise

    def _start(self, operation: str) -> float:
        self._ensure_open()
        return self._delivery.clock.monotonic()

    def _ensure_open(self) -> None:
        if self._closed:
            raise VectorVueError("the client is closed")

    def _refused(
        self, operation: str, path: str, started: float, exc: VectorVueError, items: int
    ) -> None:
        send = Send(operation, path, b"", "", started, items=items)
        self._delivery.record(send, "invalid", error=str(exc))


def _shift_items(envelope: ResponseEnvelope, offset: int) -> ResponseEnvelope:
    items = tuple(msgspec.structs.replace(i, index=i.index + offset) for i in envelope.items)
    return msgspec.structs.replace(envelope, items=items)


def _single(parts: list[GatewayParts]) -> GatewayParts:
    if len(parts) != 1:
        raise VectorVueSerializationError.single(
            "(document)",
            f"yields {len(parts)} events, not one: send it with send_outputs or send_batch",
        )
    return parts[0]


def _request_id_problem(request_id: object) -> str | None:
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 128:
        return "must be a request id of 1-128 characters"
    if not all(c.isascii() and (c.isalnum() or c in "._:-") for c in request_id):
        return "has characters outside [A-Za-z0-9._:-]"
    return None
