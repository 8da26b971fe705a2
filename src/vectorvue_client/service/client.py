"""VectorVueClient: the application service's public face.

It validates and normalizes what it is given and hands the payloads to the sender of the
configured profile (senders.py), which encodes each once and sends it through Delivery
(delivery.py: the attempt loop); the outbox side (enqueue, drain) is the OutboxService's
(outbox.py), run in the background by a DeliveryWorker (worker.py). Every decision
(normalization, encoding, batching, retries, envelopes) is the domain's.

Every public call that may send has a cancel token of its own (a threading.Event), so
that stopping one thing stops nothing else: stop_worker cancels the worker's token only;
close() cancels the worker's and those of the sends and drains still in progress on other
threads, whose transport it is about to close (a backoff they sleep in ends at once, and
they start no other attempt).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, Self

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain import models
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.client_events import PATH as CLIENT_EVENTS_PATH
from vectorvue_client.domain.client_events import RATE_LIMIT as CLIENT_EVENTS_RATE
from vectorvue_client.domain.client_events import client_event, client_event_body
from vectorvue_client.domain.client_events import rate_key as client_events_rate_key
from vectorvue_client.domain.cognitive import ExecutionGraph
from vectorvue_client.domain.envelope import ResponseEnvelope, merge_batches
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.federation import PATH as FEDERATION_PATH
from vectorvue_client.domain.federation import (
    FederationBundle,
    bundle_hash,
    federation_bundle,
    signed_string,
)
from vectorvue_client.domain.federation import request_body as federation_body
from vectorvue_client.domain.feedback import Keyring, VerifiedFeedback
from vectorvue_client.domain.gateway import GatewayParts
from vectorvue_client.domain.health import HealthReport, health_report
from vectorvue_client.domain.identity import idempotency_key
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
    NonceStore,
    Outbox,
    Signer,
    Transport,
)
from vectorvue_client.service.cognitive import CognitiveLoop
from vectorvue_client.service.delivery import NO_OBSERVER, Delivery, Send, SendObserver
from vectorvue_client.service.outbox import DrainReport, OutboxService
from vectorvue_client.service.outbox_view import OutboxView
from vectorvue_client.service.senders import (
    EVENTS_BATCH_PATH,
    EVENTS_PATH,
    FINDINGS_BATCH_PATH,
    FINDINGS_PATH,
    STATUS_PATH,
    Encoded,
    GatewaySender,
    IntegrationSender,
    Payload,
    PlannedBatch,
    convert_all,
)
from vectorvue_client.service.worker import DeliveryWorker

HEALTH_PATH: Final = "/healthz"

Item = Mapping[str, Any] | msgspec.Struct
# How long close() waits for a worker to end its current request beyond its timeout.
_STOP_GRACE_SECONDS: Final = 0.25


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedItem:
    """One item send_outputs would send: its kind ("event" or "finding"), id, type, asset,
    and `body`, the JSON it is sent as: on the integration API its exact bytes (the body of
    a single POST, or one element of a batch's array); on the gateway the request body with
    `timestamp` and `nonce` null, since each attempt sets (and signs) its own."""

    kind: str
    item_id: str
    item_type: str
    asset_ref: str | None
    body: bytes


Output = CanonicalEvent | models.IntegrationFinding


class VectorVueClient:
    """Delivers events and findings to VectorVue, in the configured profile.

    Build it with `vectorvue_client.container.build_client(config)` for the default
    adapters, or hand the constructor your own implementations of the ports (see
    vectorvue_client.ports). `compliance_key`, a CredentialSource of VectorVue's compliance
    signing key, turns on the check of its signed answers (ADR 0034).
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
        feedback_keyring: Callable[[], Keyring] | None = None,
        feedback_nonces: Callable[[], NonceStore] | None = None,
        compliance_key: CredentialSource | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._closers = tuple(closers)
        self._delivery = Delivery(
            config=config,
            transport=transport,
            credentials=credentials,
            signer=signer,
            audit=audit,
            clock=clock,
            entropy=entropy,
            compliance_key=compliance_key,
        )
        self._gateway = config.profile == "telemetry-gateway"
        self._integration_sender = IntegrationSender(self._delivery, config)
        self._gateway_sender = GatewaySender(
            self._delivery,
            GatewayContext(
                operator_id=config.operator_id,
                campaign_id=config.campaign_id,
                tenant_id=config.tenant_id,
                attestation_measurement_hash=config.attestation_measurement_hash,
                schema_version=config.gateway_schema_version,
            ),
        )
        self._options = SpectraStrikeOptions(
            source_system=config.source_system, session_output_cap=config.session_output_cap
        )
        self._outbox = OutboxService(
            outbox,
            config=config,
            clock=clock,
            delivery=self._delivery,
            integration=self._integration_sender,
            gateway=self._gateway_sender,
            options=self._options,
            jitter=entropy.random,
        )
        self._cognitive = CognitiveLoop(
            delivery=self._delivery,
            config=config,
            clock=clock,
            keyring=feedback_keyring,
            nonces=feedback_nonces,
        )
        self._worker: DeliveryWorker | None = None
        self._worker_lock = threading.Lock()
        self._calls: set[threading.Event] = set()  # the tokens of the calls in progress
        self._calls_lock = threading.Lock()
        self._closed = False

    @property
    def config(self) -> VectorVueConfig:
        """The configuration this client was built with."""
        return self._config

    # -- health and status ------------------------------------------------------------------
    def health(self) -> HealthReport:
        """What /healthz says (status, version, checks). One attempt, no credentials sent,
        within the timeouts and deadline of any send; a failure is a report with `healthy`
        False and the reason in `error`, audited."""
        with self._call() as (started, cancel):
            send = Send(
                "health_check",
                HEALTH_PATH,
                b"",
                "",
                started,
                method="GET",
                authenticated=False,
                once=True,
            )
            done = self._delivery.exchange(send, cancel)
        report = health_report(done.result)
        self._delivery.record(
            send,
            "success" if report.healthy else "unhealthy",
            attempts=done.attempts,
            status_code=report.status_code,
            error=report.error,
        )
        return report

    def health_check(self) -> bool:
        """True only when /healthz answers 200 with status "healthy"."""
        return self.health().healthy

    def ingest_status(self, request_id: str) -> ResponseEnvelope:
        """The integration API's record of an earlier request: `data` holds its status,
        counts and failed items. An unknown id is a VectorVueAPIError with status 404. An
        id that is not a UUID is refused here (VectorVueSerializationError naming
        `request_id`): VectorVue's ids are UUIDs, and it answers any other with a 500."""
        with self._call() as (started, cancel):
            if self._gateway:
                raise VectorVueConfigError("profile", "the telemetry gateway has no ingest status")
            try:
                # Sent in canonical form (lowercase, hyphenated), whatever form it came in.
                canonical = str(uuid.UUID(request_id))
            except (TypeError, ValueError, AttributeError):
                error = VectorVueSerializationError.single(
                    "request_id", "must be a UUID, as VectorVue's request ids are"
                )
                self._refused("ingest_status", STATUS_PATH, started, error, 1)
                raise error from None
            send = Send("ingest_status", STATUS_PATH + canonical, b"", "", started, method="GET")
            return self._delivery.post(send, cancel)

    # -- client events, federation bundles (issue 15) ---------------------------------------
    def send_client_event(
        self,
        event_type: str,
        object_type: str,
        *,
        object_id: str | None = None,
        severity: str | None = None,
        timestamp: Any = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ResponseEnvelope:
        """Post one client event (POST /api/v1/client/events, integration API): what a user
        did with a finding, report, dashboard or remediation. Every rule is checked here
        as VectorVue checks it (lengths; `event_type` trimmed and upper-cased, `object_type`
        trimmed and lower-cased, each in its allow-list): a VectorVueSerializationError
        naming the field, and nothing sent. `timestamp` (a datetime, epoch seconds or ISO
        text; none: the server's now) is sent in RFC 3339 UTC, `metadata` as `metadata_json`.

        Paced like the gateway: VectorVue takes at most 120 per sliding minute per (tenant,
        user) of the bearer token, and this client waits for room in that budget (shared by
        its calls) before the first attempt; that wait is not part of the deadline.

        A 202 (`success`, status "accepted") proves only that the event was well formed:
        VectorVue stores it afterwards and swallows any failure to."""
        with self._call() as (started, cancel):
            if self._gateway:
                raise VectorVueConfigError(
                    "profile", "client events go to the integration API, not the telemetry gateway"
                )
            operation = "send_client_event"
            body = self._refusing(
                operation,
                started,
                lambda: client_event_body(
                    client_event(
                        event_type,
                        object_type,
                        object_id=object_id,
                        severity=severity,
                        timestamp=timestamp,
                        metadata=metadata,
                    )
                ),
            )
            token = self._delivery.token(self._config.deadline_seconds)
            key = client_events_rate_key(token.reveal())
            waited = self._delivery.pace(key, cancel, limit=CLIENT_EVENTS_RATE) or 0.0
            if cancel.is_set():
                raise VectorVueError("the client was closed while the event waited for its budget")
            send = Send(
                operation,
                CLIENT_EVENTS_PATH,
                body,
                idempotency_key(body),
                started + waited,
                pace_key=key,
                pace_limit=CLIENT_EVENTS_RATE,
            )
            return self._delivery.post(send, cancel)

    def verify_federation_bundle(
        self, bundle: Mapping[str, Any] | FederationBundle
    ) -> ResponseEnvelope:
        """Ask the telemetry gateway to verify a federation bundle (POST
        /internal/v1/federation/verify): `operator_id`, `campaign_id`, `execution_hash` (64
        hex), `timestamp` (an integer) and `nonce` (12-128 characters), checked here first
        (VectorVueSerializationError naming each bad field; nothing sent). The client signs
        the bundle with the producer's Ed25519 key (it holds it; a `signature` given is
        refused) and sends it with its identity headers only: the gateway checks no request
        signature, replay or clock on this route, and stores nothing.

        On 200 `data` is `{"accepted": true, "bundle_hash": ...}`; a bundle_hash other than
        the SHA-256 of `operator_id|campaign_id|execution_hash|timestamp|nonce` is a
        VectorVueAPIError (error_code "bundle_hash_mismatch"). A refusal (401: the gateway
        does not know this key or identity) is a VectorVueAPIError too."""
        with self._call() as (started, cancel):
            operation = "verify_federation_bundle"
            if not self._gateway:
                raise VectorVueConfigError(
                    "profile", "federation bundles are verified by the telemetry gateway"
                )
            checked = self._refusing(operation, started, lambda: federation_bundle(bundle))
            signature = self._delivery.producer().sign_message(signed_string(checked))
            body = federation_body(checked, signature)
            send = Send(operation, FEDERATION_PATH, body, "", started, identity_only=True)
            envelope = self._delivery.post(send, cancel)
            answered = envelope.data.get("bundle_hash") if isinstance(envelope.data, dict) else None
            if answered != bundle_hash(checked):
                raise VectorVueAPIError(
                    status_code=envelope.status_code,
                    error_code="bundle_hash_mismatch",
                    message="the gateway's bundle_hash is not the SHA-256 of the bundle's "
                    "signed string: the answer is not about this bundle",
                    request_id=envelope.request_id,
                    retry_after=None,
                    envelope=envelope,
                )
            return envelope

    # -- sending ----------------------------------------------------------------------------
    def send_event(self, event: Item, *, idempotency_key: str | None = None) -> ResponseEnvelope:
        """Validate and deliver one event (an integration-API event dict; for the gateway
        also any SpectraStrike output that yields exactly one event). The Idempotency-Key
        is derived from the body unless given, and is the same on every attempt."""
        with self._call() as (started, cancel):
            if self._gateway:
                parts = self._refusing(
                    "send_event", started, lambda: _single(self._gateway_parts([event]))
                )
                return self._gateway_sender.one("send_event", parts, started, cancel)
            # Encoded under _refusing: a NUL in an event that brings its own id is found by
            # the encoding (normalize encodes only to derive an id), and audited like any
            # other refusal.
            body = self._refusing(
                "send_event",
                started,
                lambda: self._integration_sender.body_of(normalize_event(event)),
            )
            return self._integration_sender.one(
                "send_event", EVENTS_PATH, body, idempotency_key, started, cancel
            )

    def send_finding(
        self, finding: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """Validate and deliver one finding (for the gateway: as an event)."""
        with self._call() as (started, cancel):
            payload = self._refusing("send_finding", started, lambda: normalize_finding(finding))
            if self._gateway:
                canonical = finding_to_canonical(payload, self._options.source_system)
                parts = self._refusing(
                    "send_finding",
                    started,
                    lambda: _single(self._gateway_sender.prepare([canonical])),
                )
                return self._gateway_sender.one("send_finding", parts, started, cancel)
            body = self._refusing(
                "send_finding", started, lambda: self._integration_sender.body_of(payload)
            )
            return self._integration_sender.one(
                "send_finding", FINDINGS_PATH, body, idempotency_key, started, cancel
            )

    def send_batch(self, events: Sequence[Item]) -> ResponseEnvelope:
        """Deliver events: integration API in as few requests as `batch_size` and
        `max_batch_bytes` allow; the gateway one request each, paced per operator.

        Every item is validated first: one bad item raises a VectorVueSerializationError
        listing every problem (index, field, rule), and nothing goes out.
        """
        with self._call() as (started, cancel):
            if self._gateway:
                parts = self._refusing("send_batch", started, lambda: self._gateway_parts(events))
                return self._gateway_sender.many("send_batch", parts, started, cancel)
            planned = self._integration_plan("send_batch", started, events, normalize_event)
            return self._integration_sender.many(
                "send_batch", EVENTS_BATCH_PATH, planned, started, cancel
            )

    def send_findings(self, findings: Sequence[Item]) -> ResponseEnvelope:
        """Deliver findings in batches, like send_batch (for the gateway: as events)."""
        with self._call() as (started, cancel):
            if self._gateway:
                payloads = self._refusing(
                    "send_findings", started, lambda: convert_all(findings, normalize_finding)
                )
                source = self._options.source_system
                canonical = [finding_to_canonical(f, source) for f in payloads]
                parts = self._refusing(
                    "send_findings", started, lambda: self._gateway_sender.prepare(canonical)
                )
                return self._gateway_sender.many("send_findings", parts, started, cancel)
            planned = self._integration_plan("send_findings", started, findings, normalize_finding)
            return self._integration_sender.many(
                "send_findings", FINDINGS_BATCH_PATH, planned, started, cancel
            )

    def send_outputs(
        self, documents: Sequence[Mapping[str, Any]], *, observer: SendObserver = NO_OBSERVER
    ) -> ResponseEnvelope:
        """Deliver what SpectraStrike emits, whatever the shape (broker envelopes, internal
        events, CloudEvents, nmap and metasploit results, findings, VectorVue events): each
        document is recognised and normalized (one nmap result gives one event per host),
        and everything is validated before anything is sent; a problem names its
        document's index. `items` cover every event and then every finding (integration
        API), or every event in document order (gateway). `observer` (a SendObserver) is
        told of each request as it starts and ends, and of each wait, as they happen."""
        with self._call() as (started, cancel):
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
                return self._gateway_sender.many("send_outputs", parts, started, cancel, observer)
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
                planned = sender.plan(events)
                envelopes.append(
                    sender.many(
                        "send_outputs", EVENTS_BATCH_PATH, planned, started, cancel, observer
                    )
                )
            if findings:
                planned = sender.plan(findings)
                sent = sender.many(
                    "send_outputs", FINDINGS_BATCH_PATH, planned, started, cancel, observer
                )
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
                template = parts.body
                body = template.head + b"null" + template.middle + b"null" + template.tail
                return PlannedItem(
                    "event", parts.payload.event_id, event.event_type, event.asset_ref, body
                )
            if isinstance(output, CanonicalEvent):
                encoded = self._integration_sender.encoded(to_integration_event(output))
                payload = encoded.payload
                assert isinstance(payload, models.IntegrationEvent)
                return PlannedItem(
                    "event", payload.event_id, payload.event_type, payload.asset_ref, encoded.body
                )
            body = self._integration_sender.encoded(output).body
            return PlannedItem("finding", output.finding_id, "finding", output.asset_ref, body)

        return self._per_document(documents, plan)

    # -- the cognitive loop (telemetry gateway) ---------------------------------------------
    def push_execution_graph(self, graph: Mapping[str, Any] | ExecutionGraph) -> ResponseEnvelope:
        """Push one execution graph to the gateway: a mapping with `execution_fingerprint`
        and `graph` (a JSON object), and optionally `operator_id`, `tenant_id`,
        `attestation_measurement_hash` (the configured ones by default) and
        `schema_version` ("execution.graph.v1"). Every rule is checked first
        (VectorVueSerializationError naming each field; a `graph.target_urn` that is not
        1-512 characters is refused); a 403 names the operator -> tenant mapping."""
        with self._call() as (started, cancel):
            self._require_gateway("push_execution_graph")
            request = self._refusing(
                "push_execution_graph", started, lambda: self._cognitive.graph(graph)
            )
            return self._cognitive.push(request, started, cancel)

    def query_feedback(self, tenant_id: str, limit: int = 100) -> VerifiedFeedback:
        """The gateway's adjustments for `tenant_id` (from its last `limit` graphs, 1-1000),
        returned only once the answer is verified (signature by a kid of the keyring,
        freshness, nonce not replayed); items that fail a per-item check are in `dropped`.
        A failed check raises FeedbackVerificationError naming it."""
        with self._call() as (started, cancel):
            self._require_gateway("query_feedback")
            query = self._refusing(
                "query_feedback", started, lambda: self._cognitive.query_body(tenant_id, limit)
            )
            return self._cognitive.query(query, started, cancel)

    def _require_gateway(self, operation: str) -> None:
        if not self._gateway:
            raise VectorVueConfigError(
                "profile",
                f"{operation} is a telemetry gateway route (the cognitive loop): set profile "
                '= "telemetry-gateway"',
            )

    # -- the outbox -------------------------------------------------------------------------
    def enqueue(self, document: Mapping[str, Any]) -> list[str]:
        """Store what one SpectraStrike output yields (any shape send_outputs takes) in the
        outbox; returns the items' keys once they are durable. Bad input raises at once and
        nothing is stored; the network is never touched (a worker or `drain` delivers)."""
        return self.enqueue_many([document])

    def enqueue_many(self, documents: Sequence[Mapping[str, Any]]) -> list[str]:
        """`enqueue` for many documents in one durable write (the fast path)."""
        self._ensure_open()
        keys = self._outbox.enqueue(documents)
        if self._worker is not None:
            self._worker.wake()
        return keys

    def drain(self, deadline_seconds: float | None = None) -> DrainReport:
        """Deliver due outbox items until none is due, `deadline_seconds` pass (default:
        the configured deadline_seconds), or VectorVue is unreachable."""
        with self._call() as (_, cancel):
            if deadline_seconds is None:
                deadline_seconds = self._config.deadline_seconds
            return self._outbox.drain(deadline_seconds, cancel)

    @property
    def outbox(self) -> OutboxView:
        """Inspect and manage the outbox: stats, dead letters, retries, purges. The client
        owns the outbox from its first use until close()."""
        self._ensure_open()
        return OutboxView(self._outbox.outbox(), self._clock)

    def start_worker(self) -> None:
        """Deliver the outbox from a background thread until `stop_worker` or `close`."""
        self._ensure_open()
        self._outbox.outbox()  # a client without an outbox says so here, not in the thread
        with self._worker_lock:
            if self._worker is None:
                self._worker = DeliveryWorker(
                    self._outbox.drain,
                    self._outbox.next_due_in,
                    self._config.worker_interval_seconds,
                )
            self._worker.start()

    def stop_worker(self, timeout: float = 10.0) -> bool:
        """Stop the background worker (its current request finishes, a retry it sleeps on
        is not waited for); True when it has stopped within `timeout`. Other sends, on
        other threads, go on."""
        worker = self._worker
        return True if worker is None else worker.stop(timeout)

    def close(self, timeout: float = 0.0) -> None:
        """Stop the worker, interrupting a retry it sleeps on; deliver what the outbox holds
        for up to `timeout` seconds; cancel the sends and drains still in progress on other
        threads (they end after their current attempt); leave the rest durable; release
        the transport, the outbox and whatever else the wiring opened (`closers`).
        Idempotent.

        Returns within `timeout` plus a quarter of a second: a worker still inside a
        request then is not waited for. What it was sending stays in flight in the
        outbox file, and is put back in line (and resent under the same key) when the
        outbox is next opened."""
        if self._closed:
            return
        ends = self._clock.monotonic() + max(timeout, 0.0)

        def left() -> float:
            return max(0.0, ends - self._clock.monotonic())

        worker_stopped = True
        try:
            if self._worker is not None:
                worker_stopped = self._worker.stop(left() + _STOP_GRACE_SECONDS)
            if self._outbox.opened and left() > 0 and worker_stopped:
                self.drain(left())
        finally:
            self._closed = True
            with self._calls_lock:
                for cancel in self._calls:
                    cancel.set()
            self._delivery.close()
            self._outbox.close()
            self._cognitive.close()
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
    @contextmanager
    def _call(self) -> Iterator[tuple[float, threading.Event]]:
        """One public call: when it started (its deadline counts from then) and its own
        cancel token, known to close() for as long as the call runs."""
        self._ensure_open()
        started = self._clock.monotonic()
        cancel = threading.Event()
        with self._calls_lock:
            self._calls.add(cancel)
        try:
            yield started, cancel
        finally:
            with self._calls_lock:
                self._calls.discard(cancel)

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

    def _integration_plan(
        self,
        operation: str,
        started: float,
        items: Sequence[Item],
        normalize: Callable[[Item], Payload],
    ) -> list[PlannedBatch]:
        """The requests of a batch send to the integration API: every item normalized, then
        encoded and planned; a bad item raises (audited) listing every problem of every
        item, those of its encoding (a NUL, a size over max_batch_bytes) included."""
        sender = self._integration_sender

        def plan() -> list[PlannedBatch]:
            try:
                return sender.plan_all(convert_all(items, normalize))
            except VectorVueSerializationError:
                # The error path: each item normalized and encoded in turn, so that the
                # problems of the items that normalize are reported with the others.
                return sender.plan(convert_all(items, lambda i: sender.encoded(normalize(i))))

        return self._refusing(operation, started, plan)

    def _refusing[R](self, operation: str, started: float, work: Callable[[], R]) -> R:
        """Run `work`; a serialization error is audited as a refusal, then raised."""
        try:
            return work()
        except VectorVueSerializationError as exc:
            self._refused(operation, "(local validation)", started, exc, len(exc.problems))
            raise

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
