"""The whole boundary of the hexagon on one page.

Every port is a typing.Protocol: adapters and fakes fit them structurally (mypy --strict
proves it where the container wires them) and inherit from nothing of ours.
"""

from __future__ import annotations

from typing import Protocol

from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts
from vectorvue_client.domain.redaction import Secret


class Transport(Protocol):
    """Performs exactly one HTTP exchange: never retries, never follows a redirect, and
    returns network failures as a TransportFailure value instead of raising."""

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Send `request` and return the response or the failure."""
        ...

    def close(self) -> None:
        """Release pooled connections; further sends are an error."""
        ...


class CredentialSource(Protocol):
    """Where a credential comes from (environment, file, Vault, ...)."""

    def get(self) -> Secret:
        """The current credential; VectorVueConfigError when it cannot be had (a source
        that must reach a server may also raise VectorVueTransportError)."""
        ...

    def invalidate(self) -> None:
        """Forget any credential kept in memory, so that the next `get` fetches it anew
        (called once after VectorVue answers 401). A no-op for sources that keep none."""
        ...


class Signer(Protocol):
    """Proves the integrity of a request body: returns the headers to add to one attempt."""

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """Headers that sign exactly `body` at `timestamp` with `nonce`."""
        ...


class AuditSink(Protocol):
    """Receives one redacted record per outbound operation. Must not raise."""

    def record(self, record: AuditRecord) -> None:
        """Keep `record`."""
        ...


class Clock(Protocol):
    """Time, behind a port so that tests are exact and waits are interruptible."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for durations and deadlines."""
        ...

    def time(self) -> float:
        """Unix time in seconds: for signature timestamps and HTTP dates."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a backoff)."""
        ...


class Entropy(Protocol):
    """Randomness, behind a port: backoff jitter and per-attempt nonces."""

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        ...

    def nonce(self) -> str:
        """A fresh unpredictable token of 16 to 128 URL-safe characters."""
        ...
