"""VectorVueClient: the application service's public face.

It validates and normalizes what it is given, encodes each payload once, plans batches,
and hands each request's bytes to `Delivery` (delivery.py), which runs the attempt loop.
Every decision (normalization, encoding, batching, retries, envelopes) is the domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.delivery import BASE_HEADERS, Delivery, Send, json_field, summary
from vectorvue_client.domain import models
from vectorvue_client.domain.batching import plan_batches
from vectorvue_client.domain.encoding import GZIP_MIN_BYTES, encode, encode_array, gzip_body
from vectorvue_client.domain.envelope import ResponseEnvelope, merge_batches
from vectorvue_client.domain.errors import (
    Problem,
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.http import HttpRequest, HttpResponse, Timeouts
from vectorvue_client.domain.identity import idempotency_key
from vectorvue_client.domain.normalize import normalize_event, normalize_finding
from vectorvue_client.ports import AuditSink, Clock, CredentialSource, Entropy, Signer, Transport

_BASE: Final = "/api/v1/integrations/spectrastrike"
EVENTS_PATH: Final = f"{_BASE}/events"
EVENTS_BATCH_PATH: Final = f"{_BASE}/events/batch"
FINDINGS_PATH: Final = f"{_BASE}/findings"
FINDINGS_BATCH_PATH: Final = f"{_BASE}/findings/batch"
HEALTH_PATH: Final = "/healthz"

Payload = TypeVar("Payload", models.IntegrationEvent, models.IntegrationFinding)
Item = Mapping[str, Any] | msgspec.Struct


class VectorVueClient:
    """Delivers events and findings to VectorVue.

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
        closers: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._closers = tuple(closers)
        self._delivery = Delivery(
            config=config,
            transport=transport,
            credentials=credentials,
            signer=signer,
            audit=audit,
            clock=clock,
            entropy=entropy,
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

    # -- public operations ------------------------------------------------------------------
    def health_check(self) -> bool:
        """True when VectorVue answers /healthz with 200 and status "healthy". One attempt,
        no credentials sent; failures are audited, never raised."""
        self._ensure_open()
        clock, config = self._delivery.clock, self._delivery.config
        send = Send("health_check", HEALTH_PATH, b"", "", clock.monotonic())
        read = min(config.timeout_seconds, config.deadline_seconds)
        connect = min(config.connect_timeout_seconds or read, config.deadline_seconds)
        request = HttpRequest("GET", HEALTH_PATH, BASE_HEADERS)
        result = self._delivery.transport.send(request, Timeouts(connect, read))
        if isinstance(result, HttpResponse):
            status = json_field(result.body, "status")
            healthy = result.status == 200 and status == "healthy"
            error = None if healthy else f"HTTP {result.status}, status {status!r}"
        else:
            healthy, error = False, f"{result.kind.value}: {result.detail}"
        self._delivery.record(
            send,
            "success" if healthy else "unhealthy",
            method="GET",
            attempts=(summary(result, None),),
            status_code=result.status if isinstance(result, HttpResponse) else None,
            error=error,
        )
        return healthy

    def send_event(self, event: Item, *, idempotency_key: str | None = None) -> ResponseEnvelope:
        """Normalize, validate and deliver one event. The Idempotency-Key is derived from the
        body unless given, and is the same on every attempt."""
        return self._send_one("send_event", EVENTS_PATH, normalize_event, event, idempotency_key)

    def send_finding(
        self, finding: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """Normalize, validate and deliver one finding."""
        return self._send_one(
            "send_finding", FINDINGS_PATH, normalize_finding, finding, idempotency_key
        )

    def send_batch(self, events: Sequence[Item]) -> ResponseEnvelope:
        """Deliver events in as few requests as `batch_size` and `max_batch_bytes` allow.

        Every item is validated before anything is sent: one bad item raises a
        VectorVueSerializationError listing every problem, and nothing goes out.
        """
        return self._send_many("send_batch", EVENTS_BATCH_PATH, normalize_event, events)

    def send_findings(self, findings: Sequence[Item]) -> ResponseEnvelope:
        """Deliver findings in batches, like send_batch."""
        return self._send_many("send_findings", FINDINGS_BATCH_PATH, normalize_finding, findings)

    def close(self) -> None:
        """Release the transport's connections and whatever else the wiring opened (a Vault
        session, an audit file: `closers`). Idempotent."""
        if not self._closed:
            self._closed = True
            self._delivery.transport.close()
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

    # -- validate, normalize, encode once, plan -----------------------------------------------
    def _send_one(
        self,
        operation: str,
        path: str,
        normalize: Callable[[Item], Payload],
        item: Item,
        key: str | None,
    ) -> ResponseEnvelope:
        started = self._start()
        try:
            body = encode(normalize(item))
        except VectorVueSerializationError as exc:
            self._refused(operation, path, started, exc, 1)
            raise
        return self._delivery.post(self._send(operation, path, body, key, started))

    def _send_many(
        self,
        operation: str,
        path: str,
        normalize: Callable[[Item], Payload],
        items: Sequence[Item],
    ) -> ResponseEnvelope:
        started = self._start()
        payloads: list[Payload] = []
        bodies: list[bytes] = []
        origins: list[int] = []  # the caller's index of each valid item
        problems: list[Problem] = []
        if isinstance(items, (str, bytes, Mapping)) or not items:
            problems.append(Problem("items", "must be a non-empty list of items"))
        else:
            for index, item in enumerate(items):
                try:
                    payload = normalize(item)
                    bodies.append(encode(payload))
                except VectorVueSerializationError as exc:
                    problems.extend(exc.at_index(index).problems)
                    continue
                payloads.append(payload)
                origins.append(index)
        limit = self._delivery.config.max_batch_bytes
        plan = plan_batches(
            [len(b) for b in bodies], max_count=self._delivery.config.batch_size, max_bytes=limit
        )
        problems.extend(
            Problem(
                "(item)",
                f"encodes to {len(bodies[i])} bytes, more than max_batch_bytes ({limit})",
                index=origins[i],
            )
            for i in plan.oversized
        )
        if problems:
            problems.sort(key=lambda p: -1 if p.index is None else p.index)
            error = VectorVueSerializationError(problems)
            count = len(items) if isinstance(items, Sequence) else 0
            self._refused(operation, path, started, error, count)
            raise error
        parts = []
        for chunk in plan.batches:
            body = encode_array([bodies[i] for i in chunk])
            ids = [_item_id(payloads[i]) for i in chunk]
            send = self._send(operation, path, body, None, started, ids, chunk)
            parts.append(self._delivery.post(send))
        return merge_batches(parts, len(payloads))

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
        # The key is derived from the JSON, so it does not depend on compression settings;
        # compression happens once, here, and the signature covers the compressed bytes
        # that are actually sent.
        key = key or idempotency_key(body)
        gzipped = self._delivery.config.gzip_requests and len(body) >= GZIP_MIN_BYTES
        wire = gzip_body(body) if gzipped else body
        items = max(len(item_ids), 1)
        return Send(operation, path, wire, key, started, item_ids, indices, items, gzipped)

    def _start(self) -> float:
        self._ensure_open()
        profile = self._delivery.config.profile
        if profile != "integration-api":
            raise VectorVueConfigError(
                "profile", f"{profile!r} delivery is not available in this version"
            )
        return self._delivery.clock.monotonic()

    def _ensure_open(self) -> None:
        if self._closed:
            raise VectorVueError("the client is closed")

    def _refused(
        self, operation: str, path: str, started: float, exc: VectorVueError, items: int
    ) -> None:
        send = Send(operation, path, b"", "", started, items=items)
        self._delivery.record(send, "invalid", error=str(exc))


def _item_id(payload: msgspec.Struct) -> str:
    if isinstance(payload, models.IntegrationEvent):
        return payload.event_id
    assert isinstance(payload, models.IntegrationFinding)
    return payload.finding_id
