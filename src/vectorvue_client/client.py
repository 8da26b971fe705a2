"""VectorVueClient: the application service.

The one place that loops, sleeps (through the Clock port) and calls the ports, always in
this order: validate -> normalize -> encode once -> sign those bytes -> transport ->
retry decision -> envelope -> audit record. Every decision is delegated to the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import msgspec

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain import models
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.batching import plan_batches
from vectorvue_client.domain.encoding import encode, encode_array
from vectorvue_client.domain.envelope import (
    ResponseEnvelope,
    api_error,
    map_response,
    merge_batches,
)
from vectorvue_client.domain.errors import (
    Problem,
    TransportErrorKind,
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
)
from vectorvue_client.domain.identity import idempotency_key
from vectorvue_client.domain.normalize import normalize_event, normalize_finding
from vectorvue_client.domain.redaction import Secret, scrub
from vectorvue_client.domain.retry import Retry, RetryPolicy, decide, parse_retry_after
from vectorvue_client.ports import AuditSink, Clock, CredentialSource, Entropy, Signer, Transport
from vectorvue_client.version import USER_AGENT

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
    ) -> None:
        self._config = config
        self._transport = transport
        self._credentials = credentials
        self._signer = signer
        self._audit = audit
        self._clock = clock
        self._entropy = entropy
        self._policy = RetryPolicy(
            max_retries=config.max_retries,
            base_delay=config.backoff_base_seconds,
            max_delay=config.backoff_max_seconds,
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
        return self._config

    # -- public operations ------------------------------------------------------------------
    def health_check(self) -> bool:
        """True when VectorVue answers /healthz with 200 and status "healthy". One attempt,
        no credentials sent; failures are audited, never raised."""
        self._ensure_open()
        started = self._clock.monotonic()
        timeout = min(self._config.timeout_seconds, self._config.deadline_seconds)
        request = HttpRequest("GET", HEALTH_PATH, self._base_headers())
        result = self._transport.send(request, Timeouts(timeout, timeout))
        healthy = False
        error: str | None = None
        if isinstance(result, HttpResponse):
            status = _json_field(result.body, "status")
            healthy = result.status == 200 and status == "healthy"
            if not healthy:
                error = f"HTTP {result.status}, status {status!r}"
        else:
            error = f"{result.kind.value}: {result.detail}"
        self._record(
            "health_check",
            request,
            "success" if healthy else "unhealthy",
            started,
            attempts=(_summary(result, None),),
            status_code=_status_of(result),
            error=error,
        )
        return healthy

    def send_event(self, event: Item, *, idempotency_key: str | None = None) -> ResponseEnvelope:
        """Normalize, validate and deliver one event. The Idempotency-Key is derived from the
        body unless given, and is the same on every attempt."""
        payload = self._normalize_one("send_event", EVENTS_PATH, normalize_event, event)
        return self._send_one("send_event", EVENTS_PATH, payload, idempotency_key)

    def send_finding(
        self, finding: Item, *, idempotency_key: str | None = None
    ) -> ResponseEnvelope:
        """Normalize, validate and deliver one finding."""
        payload = self._normalize_one("send_finding", FINDINGS_PATH, normalize_finding, finding)
        return self._send_one("send_finding", FINDINGS_PATH, payload, idempotency_key)

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
        """Release the transport's connections. Idempotent."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the pipeline -----------------------------------------------------------------------
    def _normalize_one(
        self, operation: str, path: str, normalize: Callable[[Item], Payload], item: Item
    ) -> Payload:
        self._ensure_open()
        self._ensure_profile()
        try:
            return normalize(item)
        except VectorVueSerializationError as exc:
            self._record_invalid(operation, path, exc, 1)
            raise

    def _send_one(
        self, operation: str, path: str, payload: msgspec.Struct, key: str | None
    ) -> ResponseEnvelope:
        started = self._clock.monotonic()
        body = encode(payload)
        return self._deliver(
            operation, path, body, key or idempotency_key(body), started, item_ids=(), indices=()
        )

    def _send_many(
        self,
        operation: str,
        path: str,
        normalize: Callable[[Item], Payload],
        items: Sequence[Item],
    ) -> ResponseEnvelope:
        self._ensure_open()
        self._ensure_profile()
        started = self._clock.monotonic()
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
        plan = plan_batches(
            [len(b) for b in bodies],
            max_count=self._config.batch_size,
            max_bytes=self._config.max_batch_bytes,
        )
        problems.extend(
            Problem(
                "(item)",
                f"encodes to {len(bodies[i])} bytes, more than max_batch_bytes "
                f"({self._config.max_batch_bytes})",
                index=origins[i],
            )
            for i in plan.oversized
        )
        problems.sort(key=lambda p: -1 if p.index is None else p.index)
        if problems:
            error = VectorVueSerializationError(problems)
            count = len(items) if isinstance(items, Sequence) else 0
            self._record_invalid(operation, path, error, count)
            raise error
        parts = []
        for chunk in plan.batches:
            body = encode_array([bodies[i] for i in chunk])
            ids = [_item_id(payloads[i]) for i in chunk]
            parts.append(
                self._deliver(
                    operation,
                    path,
                    body,
                    idempotency_key(body),
                    started,
                    item_ids=ids,
                    indices=chunk,
                )
            )
        return merge_batches(parts, len(payloads))

    def _deliver(
        self,
        operation: str,
        path: str,
        body: bytes,
        key: str,
        started: float,
        *,
        item_ids: Sequence[str],
        indices: Sequence[int],
    ) -> ResponseEnvelope:
        deadline = self._config.deadline_seconds
        attempts: list[AttemptSummary] = []
        tokens: list[Secret] = []
        base = (
            *self._base_headers(),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", key),
        )
        request = HttpRequest("POST", path, base, body)
        result: HttpResult = TransportFailure(TransportErrorKind.DEADLINE, "no attempt was made")
        while True:
            remaining = deadline - (self._clock.monotonic() - started)
            if remaining <= 0:
                result = TransportFailure(
                    TransportErrorKind.DEADLINE,
                    f"deadline of {deadline}s spent before attempt {len(attempts) + 1}",
                )
                break
            try:
                token = self._credentials.get()
            except VectorVueConfigError as exc:
                self._record(
                    operation,
                    request,
                    "invalid",
                    started,
                    attempts=tuple(attempts),
                    error=str(exc),
                    key=key,
                )
                raise
            tokens.append(token)
            # A fresh timestamp, nonce and signature for every attempt over the same bytes;
            # the idempotency key stays.
            timestamp = int(self._clock.time())
            signature = self._signer.sign(body, timestamp=timestamp, nonce=self._entropy.nonce())
            request = HttpRequest(
                "POST",
                path,
                (*base, ("Authorization", f"Bearer {token.reveal()}"), *signature),
                body,
            )
            timeout = min(self._config.timeout_seconds, remaining)
            result = self._transport.send(request, Timeouts(connect=timeout, read=timeout))
            decision = decide(
                self._policy,
                attempt=len(attempts) + 1,
                outcome=result,
                elapsed=self._clock.monotonic() - started,
                deadline=deadline,
                jitter=self._entropy.random(),
                now=self._clock.time(),
            )
            delay = decision.delay if isinstance(decision, Retry) else None
            attempts.append(_summary(result, delay))
            if delay is None:
                break
            self._clock.sleep(delay)
        return self._conclude(
            operation, request, result, started, tuple(attempts), key, tokens, item_ids, indices
        )

    def _conclude(
        self,
        operation: str,
        request: HttpRequest,
        result: HttpResult,
        started: float,
        attempts: tuple[AttemptSummary, ...],
        key: str,
        tokens: Sequence[Secret],
        item_ids: Sequence[str],
        indices: Sequence[int],
    ) -> ResponseEnvelope:
        count = max(len(item_ids), 1)
        if isinstance(result, TransportFailure):
            detail = scrub(result.detail, tokens)
            self._record(
                operation,
                request,
                "transport_error",
                started,
                attempts=attempts,
                error=f"{result.kind.value}: {detail}",
                key=key,
                items=count,
            )
            raise VectorVueTransportError(result.kind, detail, attempts=len(attempts) or 1)
        envelope = map_response(
            result,
            attempts=len(attempts),
            idempotency_key=key,
            item_ids=item_ids,
            item_indices=indices or None,
            secrets=tokens,
        )
        ok = 200 <= result.status < 300
        outcome = "success" if envelope.success else ("rejected" if ok else "api_error")
        self._record(
            operation,
            request,
            outcome,
            started,
            attempts=attempts,
            status_code=result.status,
            error=envelope.error,
            key=key,
            request_id=envelope.request_id,
            items=count,
        )
        if not ok:
            raise api_error(
                envelope, parse_retry_after(result.header("retry-after"), self._clock.time())
            )
        return envelope

    # -- helpers ----------------------------------------------------------------------------
    def _base_headers(self) -> tuple[tuple[str, str], ...]:
        return (("Accept", "application/json"), ("User-Agent", USER_AGENT))

    def _ensure_open(self) -> None:
        if self._closed:
            raise VectorVueError("the client is closed")

    def _ensure_profile(self) -> None:
        if self._config.profile != "integration-api":
            raise VectorVueConfigError(
                "profile", f"{self._config.profile!r} delivery is not available in this version"
            )

    def _record_invalid(
        self, operation: str, path: str, exc: VectorVueSerializationError, items: int
    ) -> None:
        request = HttpRequest("POST", path)
        self._record(
            operation,
            request,
            "invalid",
            self._clock.monotonic(),
            attempts=(),
            error=str(exc),
            items=items,
        )

    def _record(
        self,
        operation: str,
        request: HttpRequest,
        outcome: str,
        started: float,
        *,
        attempts: tuple[AttemptSummary, ...],
        status_code: int | None = None,
        error: str | None = None,
        key: str | None = None,
        request_id: str | None = None,
        items: int = 1,
    ) -> None:
        self._audit.record(
            AuditRecord(
                operation=operation,
                method=request.method,
                path=request.path,
                outcome=outcome,
                status_code=status_code,
                attempts=attempts,
                duration_seconds=max(0.0, self._clock.monotonic() - started),
                item_count=items,
                idempotency_key=key,
                request_id=request_id,
                error=error,
            )
        )


def _summary(result: HttpResult, delay: float | None) -> AttemptSummary:
    if isinstance(result, HttpResponse):
        return AttemptSummary(status_code=result.status, failure=None, retry_after_seconds=delay)
    return AttemptSummary(status_code=None, failure=result.kind.value, retry_after_seconds=delay)


def _status_of(result: HttpResult) -> int | None:
    return result.status if isinstance(result, HttpResponse) else None


def _item_id(payload: msgspec.Struct) -> str:
    if isinstance(payload, models.IntegrationEvent):
        return payload.event_id
    assert isinstance(payload, models.IntegrationFinding)
    return payload.finding_id


def _json_field(body: bytes, name: str) -> object:
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return parsed.get(name) if isinstance(parsed, dict) else None
