"""HTTP exchanges as plain values: what the client asks the Transport port to do and
what comes back. A transport never raises for a network failure; it returns a
`TransportFailure`, so the retry policy sees every outcome as data."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from vectorvue_client.domain.errors import TransportErrorKind
from vectorvue_client.domain.redaction import mask_headers


class HttpRequest(msgspec.Struct, frozen=True):
    """One HTTP request. `path` is relative to the configured base URL.

    The repr shows header names but masks credential values: a request may be logged
    by a debugger or a test failure, and its Authorization header must not be.
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def __repr__(self) -> str:
        return (
            f"HttpRequest(method={self.method!r}, path={self.path!r}, "
            f"headers={mask_headers(self.headers)!r}, body=<{len(self.body)} bytes>)"
        )

    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


class HttpResponse(msgspec.Struct, frozen=True):
    """A complete HTTP response. Header names are lower-cased by the transport."""

    status: int
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header `name` (case-insensitive), or None."""
        return self.headers.get(name.lower())


class TransportFailure(msgspec.Struct, frozen=True):
    """An exchange that produced no HTTP response; `detail` is already free of secrets."""

    kind: TransportErrorKind
    detail: str


type HttpResult = HttpResponse | TransportFailure


class Timeouts(msgspec.Struct, frozen=True):
    """The time limits of one attempt, in seconds, already clamped to the remaining deadline.

    `connect` bounds making the connection and `read` each socket read (a server that
    trickles its answer can stay under it for ever); `total` is the wall-clock bound of the
    whole exchange: connect, TLS handshake, writing the request, the status line, headers
    and the whole body. None: no bound beyond connect and read.
    """

    connect: float
    read: float
    total: float | None = None


def check_sendable(request: HttpRequest, timeouts: Timeouts) -> None:
    """What every Transport refuses before sending (ValueError): a path not starting with
    "/" (base_url + path could name another host, "@evil.example/..."), and a timeout that
    is not positive (the caller checks the deadline first)."""
    if not request.path.startswith("/"):
        raise ValueError("request.path must start with '/'")
    total = timeouts.total
    if timeouts.connect <= 0 or timeouts.read <= 0 or (total is not None and not total > 0):
        raise ValueError("timeouts must be positive: the caller checks the deadline first")
