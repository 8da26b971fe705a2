"""In-memory fakes of every port, for the client's own tests and for embedders' tests.

Each fake keeps the contract of its port (the shared contract suite in tests/contract runs
against the fake and the real adapter alike) and records what it was asked to do.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.errors import TransportErrorKind, VectorVueConfigError
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
    check_sendable,
)
from vectorvue_client.domain.redaction import Secret, failure_detail, header_secrets

# 2026-11-25T00:00:00Z: a fixed "now" keeps signatures and ids reproducible in tests.
FAKE_EPOCH = 1_795_564_800.0
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20

type Handler = Callable[[HttpRequest], HttpResult]


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request as the fake transport saw it, with the timeouts it was given (`total`
    included, so that a test can check the wall-clock budget each attempt was given)."""

    request: HttpRequest
    timeouts: Timeouts


class FakeTransport:
    """A Transport that answers from a script or a handler function, in memory.

    It applies the same rules as the real adapter to what the "server" answers: a 3xx is a
    REDIRECT failure naming the Location, a body over the cap is RESPONSE_TOO_LARGE, and
    header names come back lower-cased.
    """

    def __init__(
        self,
        script: Iterable[HttpResult] = (),
        *,
        handler: Handler | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._script: deque[HttpResult] = deque(script)
        self._handler = handler
        self._max_response_bytes = max_response_bytes
        self._lock = threading.Lock()
        self.sent: list[SentRequest] = []
        self.closed = False

    @property
    def requests(self) -> list[HttpRequest]:
        """Every request sent, in order."""
        return [s.request for s in self.sent]

    def push(self, *results: HttpResult) -> None:
        """Append answers to the script."""
        with self._lock:
            self._script.extend(results)

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Record `request` and answer the next scripted result (or the handler's)."""
        with self._lock:
            if self.closed:
                raise RuntimeError("the transport is closed")
            check_sendable(request, timeouts)
            self.sent.append(SentRequest(request, timeouts))
            if self._script:
                result = self._script.popleft()
            elif self._handler is not None:
                result = self._handler(request)
            else:
                raise AssertionError(f"FakeTransport has no answer for {request!r}")
        return _as_transport_would(result, self._max_response_bytes, request)

    def close(self) -> None:
        """Mark closed; later sends raise."""
        self.closed = True


def _as_transport_would(
    result: HttpResult, max_response_bytes: int, request: HttpRequest
) -> HttpResult:
    if isinstance(result, TransportFailure):
        return result
    if 300 <= result.status < 400:
        location = {k.lower(): v for k, v in result.headers.items()}.get("location", "(none)")
        detail = (
            f"HTTP {result.status} redirect to {location} refused: redirects are never followed"
        )
        return TransportFailure(
            TransportErrorKind.REDIRECT,
            failure_detail(detail, header_secrets(request.headers)),
        )
    if len(result.body) > max_response_bytes:
        return TransportFailure(
            TransportErrorKind.RESPONSE_TOO_LARGE,
            f"response body exceeds {max_response_bytes} bytes",
        )
    return HttpResponse(
        status=result.status,
        headers={k.lower(): v for k, v in result.headers.items()},
        body=result.body,
    )


def json_response(
    status: int, body: bytes | str, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """A response with a JSON content type, for scripts."""
    raw = body.encode() if isinstance(body, str) else body
    return HttpResponse(status, {"content-type": "application/json", **(headers or {})}, raw)


class FakeCredentialSource:
    """A CredentialSource holding one value (None: the credential is missing)."""

    def __init__(self, value: str | None, *, field: str = "api_key_env") -> None:
        self._value = value
        self._field = field
        self.calls = 0
        self.invalidations = 0

    def get(self) -> Secret:
        """The secret, or the VectorVueConfigError a missing credential gives."""
        self.calls += 1
        if self._value is None:
            raise VectorVueConfigError(self._field, "the credential is not available")
        return Secret(self._value)

    def rotate(self, value: str | None) -> None:
        """Replace the credential, as a secret store would."""
        self._value = value

    def invalidate(self) -> None:
        """Count the call (this fake keeps nothing to forget)."""
        self.invalidations += 1


@dataclass(frozen=True, slots=True)
class SignCall:
    """One call of RecordingSigner.sign."""

    body: bytes
    timestamp: int
    nonce: str


class RecordingSigner:
    """A Signer that records every call and signs with a visible, keyless digest.

    The header value `"<timestamp>.<nonce>.<sha256(body)>"` lets a test check from the
    request alone that a signature is fresh and covers exactly the bytes that were sent.
    """

    HEADER = "X-Test-Signature"

    def __init__(self) -> None:
        self.calls: list[SignCall] = []

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """Record the call and return the test signature header."""
        self.calls.append(SignCall(body, timestamp, nonce))
        digest = hashlib.sha256(body).hexdigest()
        return ((self.HEADER, f"{timestamp}.{nonce}.{digest}"),)


class MemoryAuditSink:
    """An AuditSink that keeps records in a list."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        """Keep `record`."""
        self.records.append(record)


class FakeClock:
    """A Clock that only moves when slept on or advanced; it records every sleep."""

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self._now = start
        self._mono = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Seconds since the fake clock was made."""
        return self._mono

    def time(self) -> float:
        """The fake Unix time."""
        return self._now

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Record the sleep and advance by it, at once (not at all once `cancel` is set)."""
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        self.sleeps.append(seconds)
        if not cancel.is_set():
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward, as a slow exchange would."""
        self._now += seconds
        self._mono += seconds


class FakeEntropy:
    """Entropy from a seeded generator: reproducible jitter, nonces unique by construction."""

    def __init__(self, seed: int = 0, *, jitter: float | None = None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - reproducible on purpose: a test fake
        self._jitter = jitter
        self._count = 0

    def random(self) -> float:
        """The fixed jitter if one was given, else the next seeded draw."""
        return self._jitter if self._jitter is not None else self._rng.random()

    def nonce(self) -> str:
        """A counter (unique) followed by seeded randomness (unpredictable-looking)."""
        self._count += 1
        return f"n{self._count:06d}{self._rng.getrandbits(64):016x}"
