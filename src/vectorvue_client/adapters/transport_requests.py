"""The Transport port over requests + urllib3: one HTTPS exchange, outcomes as values.

- A hardened Session (http_session.py: nothing from the environment, no cookies, HTTPS
  only). `verify` is still passed on every call, so that no session-level merge can
  override it.
- `Retry(0, redirect=False)` and `allow_redirects=False`: retries and redirects are decided
  by domain/retry.py, never here.
- The body is streamed and capped; a response not read to its end is closed rather than
  returned to the pool with unread bytes on its connection.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import ssl
import threading
from collections.abc import Collection, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import requests
import requests.adapters
from requests import exceptions as rq
from urllib3 import exceptions as u3
from urllib3.util import Retry

from vectorvue_client.adapters.http_session import exception_chain, hardened_session
from vectorvue_client.adapters.transport_pinning import PinMismatchError, PinnedHTTPAdapter
from vectorvue_client.domain.errors import TransportErrorKind as Kind
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
)
from vectorvue_client.domain.redaction import failure_detail, header_secrets

_CHUNK: Final = 64 * 1024

# The first rule that matches any exception of the cause chain wins, so specific causes
# come before the wrappers requests and urllib3 put around them (a requests.ConnectionError
# can hold a read timeout; a ProtocolError a RemoteDisconnected or a BadStatusLine).
_RULES: Final[tuple[tuple[Kind, tuple[type[BaseException], ...]], ...]] = (
    (Kind.PIN_MISMATCH, (PinMismatchError,)),
    # A TLS-level EOF is the peer hanging up, not a TLS failure: it is what writing to a
    # pooled connection that the server has just closed (after its plain-text 500) gives.
    (Kind.CONNECTION_LOST, (ssl.SSLEOFError, ssl.SSLZeroReturnError)),
    (Kind.TLS, (ssl.SSLError, u3.SSLError, rq.SSLError)),
    # NewConnectionError and NameResolutionError are ConnectTimeoutErrors.
    (Kind.CONNECT, (u3.ConnectTimeoutError, rq.ConnectTimeout, ConnectionRefusedError)),
    (Kind.TIMEOUT, (u3.ReadTimeoutError, rq.ReadTimeout, TimeoutError)),
    (
        Kind.CONNECTION_LOST,
        (
            http.client.RemoteDisconnected,
            http.client.IncompleteRead,  # urllib3's IncompleteRead and InvalidChunkLength too
            ConnectionError,  # reset, aborted, broken pipe
            rq.ChunkedEncodingError,
        ),
    ),
    (
        Kind.PROTOCOL,
        (
            http.client.HTTPException,
            u3.DecodeError,
            u3.HeaderParsingError,
            u3.InvalidHeader,
            u3.LocationValueError,
            rq.ContentDecodingError,
            rq.InvalidHeader,
            rq.InvalidURL,
        ),
    ),
    # requests.RequestException is an OSError: this must stay after the specific rules.
    (Kind.CONNECTION_LOST, (u3.ProtocolError, rq.ConnectionError, OSError)),
)
_WHAT: Final = {
    Kind.PIN_MISMATCH: "certificate pin mismatch",
    Kind.TLS: "TLS handshake or certificate verification failed",
    Kind.CONNECT: "no connection made (connect timeout {connect:g} s)",
    Kind.TIMEOUT: "no answer within the read timeout of {read:g} s",
    Kind.CONNECTION_LOST: "the connection was lost mid-exchange",
    Kind.PROTOCOL: "the peer did not speak HTTP as expected",
}
_CAUGHT: Final = (rq.RequestException, u3.HTTPError, http.client.HTTPException, OSError)


class RequestsTransport:
    """A Transport (see ports.py) that performs one HTTPS exchange per `send` with requests.

    Network problems come back as `TransportFailure` values whose detail never holds a
    header value; redirects are refused, bodies over `max_response_bytes` are refused.
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str = True,
        client_cert: tuple[str, str] | None = None,
        pool_size: int = 10,
        max_response_bytes: int = 1 << 20,
        user_agent: str = "vectorvue-client",
        pins: Collection[str] = (),
        proxy: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme.lower() != "https" or not parts.netloc:
            raise ValueError("base_url must be an https:// URL with a host")
        if max_response_bytes < 0:
            raise ValueError("max_response_bytes must not be negative")
        self._base_url = base_url.rstrip("/")
        self._verify = verify
        self._client_cert = client_cert
        self._max_response_bytes = max_response_bytes
        # Given per request: with trust_env off, nothing else can add or change a proxy.
        self._proxies = {"https": proxy} if proxy else {}
        self._closed = False
        self._lock = threading.Lock()

        adapter_options: dict[str, Any] = {
            "pool_connections": 1,
            "pool_maxsize": pool_size,
            "max_retries": Retry(0, redirect=False),
        }
        self._session = hardened_session(
            PinnedHTTPAdapter(pins, **adapter_options)
            if pins
            else requests.adapters.HTTPAdapter(**adapter_options)
        )
        self._session.headers["User-Agent"] = user_agent

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Perform one exchange of `request`; a network problem is a TransportFailure."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the transport is closed")
        if not request.path.startswith("/"):
            # Without it, base_url + path could name another host ("@evil.example/...").
            raise ValueError("request.path must start with '/'")
        if timeouts.connect <= 0 or timeouts.read <= 0:
            raise ValueError("timeouts must be positive: the caller checks the deadline first")
        secrets = header_secrets(request.headers)
        try:
            response = self._session.request(
                request.method,
                self._base_url + request.path,
                headers=dict(request.headers),
                data=request.body,
                timeout=(timeouts.connect, timeouts.read),
                verify=self._verify,
                cert=self._client_cert,
                proxies=self._proxies,
                allow_redirects=False,
                stream=True,
            )
        except _CAUGHT as exc:
            return _failure(exc, timeouts, secrets)
        try:
            return self._read(response, secrets)
        except _CAUGHT as exc:
            return _failure(exc, timeouts, secrets)
        finally:
            # After a complete read urllib3 has already put the connection back in the pool
            # and this is a no-op; otherwise it closes the connection instead of reusing it.
            response.close()

    def close(self) -> None:
        """Close pooled connections; a later `send` raises RuntimeError."""
        with self._lock:
            self._closed = True
        self._session.close()

    def _read(self, response: requests.Response, secrets: list[str]) -> HttpResult:
        status = response.status_code
        headers = {name.lower(): value for name, value in response.headers.items()}
        if 300 <= status < 400:
            location = headers.get("location", "(none)")
            return _fail(
                Kind.REDIRECT,
                f"HTTP {status} redirect to {location} refused: redirects are never followed",
                secrets,
            )
        too_large = _fail(
            Kind.RESPONSE_TOO_LARGE,
            f"response body exceeds {self._max_response_bytes} bytes",
            secrets,
        )
        if _declared_length(headers) > self._max_response_bytes:
            return too_large
        body = bytearray()
        for chunk in _capped_chunks(response, self._max_response_bytes + 1):
            body += chunk
        if len(body) > self._max_response_bytes:
            return too_large
        return HttpResponse(status=status, headers=headers, body=bytes(body))


def _capped_chunks(response: requests.Response, limit: int) -> Iterator[bytes]:
    """Decoded body chunks, `limit` bytes in all at most."""
    remaining = limit
    while remaining > 0:
        chunk = response.raw.read(min(_CHUNK, remaining), decode_content=True)
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def _declared_length(headers: dict[str, str]) -> int:
    """Content-Length when it states the decoded size (no content coding), else -1."""
    if headers.get("content-encoding", "identity").lower() != "identity":
        return -1
    try:
        return int(headers.get("content-length", "-1"))
    except ValueError:
        return -1


def _failure(exc: BaseException, timeouts: Timeouts, secrets: list[str]) -> TransportFailure:
    chain = exception_chain(exc)
    kind, cause = Kind.PROTOCOL, exc
    for rule_kind, types in _RULES:
        matches = [e for e in chain if isinstance(e, types)]
        if matches:
            # The innermost match names the real cause better than its wrappers do.
            kind, cause = rule_kind, matches[-1]
            break
    what = _WHAT[kind].format(connect=timeouts.connect, read=timeouts.read)
    if kind is Kind.TLS:
        what = _tls_what(cause, what)
    return _fail(kind, f"{what}: {type(cause).__name__}: {cause}", secrets)


# TLS alerts that mean "your client certificate", not "my certificate": the operator must
# be sent to client_cert/client_key, not to ca_bundle.
_CLIENT_CERT_ALERTS: Final = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate (mutual "
    "TLS): set client_cert and client_key",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust our client certificate's issuer",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server refused our client certificate as expired",
}


def _tls_what(cause: BaseException, default: str) -> str:
    reason = getattr(cause, "reason", None)
    return _CLIENT_CERT_ALERTS.get(reason, default) if isinstance(reason, str) else default


def _fail(kind: Kind, detail: str, secrets: list[str]) -> TransportFailure:
    return TransportFailure(kind, failure_detail(detail, secrets))
