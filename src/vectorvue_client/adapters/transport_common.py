"""What both HTTP transports share, so that one rule holds for both: how an exception
becomes a TransportFailure, and how a response is turned into a value (redirects refused,
the body read to a cap).

Both backends end in urllib3 (requests sends through it), so both see the same urllib3
response and the same exceptions underneath; requests only adds its own wrappers, which
the rules below also know.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

from requests import exceptions as rq
from urllib3 import BaseHTTPResponse
from urllib3 import exceptions as u3

from vectorvue_client.adapters.http_session import exception_chain
from vectorvue_client.adapters.transport_pinning import PinMismatchError
from vectorvue_client.adapters.transport_sockets import ExchangeDeadlineExceeded
from vectorvue_client.domain.errors import TransportErrorKind as Kind
from vectorvue_client.domain.http import HttpResponse, HttpResult, Timeouts, TransportFailure
from vectorvue_client.domain.redaction import failure_detail, header_secrets

type Headers = Sequence[tuple[str, str]]

# The first rule that matches any exception of the cause chain wins, so specific causes
# come before the wrappers requests and urllib3 put around them (a requests.ConnectionError
# can hold a read timeout; a ProtocolError a RemoteDisconnected or a BadStatusLine).
RULES: Final[tuple[tuple[Kind, tuple[type[BaseException], ...]], ...]] = (
    # The exchange's wall-clock budget ran out, whatever urllib3 or requests wrapped it in
    # (a read timeout, an aborted connection, a failed connect).
    (Kind.TIMEOUT, (ExchangeDeadlineExceeded,)),
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
    # ClosedPoolError: close() ran while a send was starting (requests: a ConnectionError).
    (Kind.CONNECTION_LOST, (u3.ProtocolError, u3.ClosedPoolError, rq.ConnectionError, OSError)),
)
_WHAT: Final = {
    Kind.PIN_MISMATCH: "certificate pin mismatch",
    Kind.TLS: "TLS handshake or certificate verification failed",
    Kind.CONNECT: "no connection made (connect timeout {connect:g} s)",
    Kind.TIMEOUT: "no answer within the read timeout of {read:g} s",
    Kind.CONNECTION_LOST: "the connection was lost mid-exchange",
    Kind.PROTOCOL: "the peer did not speak HTTP as expected",
}
# What a send catches and turns into a value; anything else is a bug and propagates.
CAUGHT: Final = (rq.RequestException, u3.HTTPError, http.client.HTTPException, OSError)

# TLS alerts that mean "your client certificate", not "my certificate": the operator must
# be sent to client_cert/client_key, not to ca_bundle.
_CLIENT_CERT_ALERTS: Final = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate (mutual "
    "TLS): set client_cert and client_key",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust our client certificate's issuer",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused our client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server refused our client certificate as expired",
}


def failure(exc: BaseException, timeouts: Timeouts, request_headers: Headers) -> TransportFailure:
    """The TransportFailure that `exc` (raised by a send) stands for, free of the request's
    credential header values and of anything shaped like a secret."""
    chain = exception_chain(exc)
    kind, cause = Kind.PROTOCOL, exc
    for rule_kind, types in RULES:
        matches = [e for e in chain if isinstance(e, types)]
        if matches:
            # The innermost match names the real cause better than its wrappers do.
            kind, cause = rule_kind, matches[-1]
            break
    if isinstance(cause, ExchangeDeadlineExceeded):  # its message says it all
        return fail(kind, str(cause), request_headers)
    what = _WHAT[kind].format(connect=timeouts.connect, read=timeouts.read)
    if kind is Kind.TLS:
        what = _tls_what(cause, what)
    return fail(kind, f"{what}: {type(cause).__name__}: {cause}", request_headers)


def check_target(base_url: str, max_response_bytes: int) -> str:
    """`base_url` without its trailing slash, once both transports' rules hold: https with a
    host, no userinfo (requests would turn it into a Basic header; urllib3 would send it
    nowhere it should go), a cap that is not negative."""
    parts = urlsplit(base_url)
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise ValueError("base_url must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url must not carry credentials (user:password@)")
    if max_response_bytes < 0:
        raise ValueError("max_response_bytes must not be negative")
    return base_url.rstrip("/")


def fail(kind: Kind, detail: str, request_headers: Headers) -> TransportFailure:
    """A failure of `kind`; `detail` is scrubbed of the request's credentials here, so that
    the success path never pays for it."""
    return TransportFailure(kind, failure_detail(detail, header_secrets(request_headers)))


def read_response(
    raw: BaseHTTPResponse, max_response_bytes: int, request_headers: Headers
) -> HttpResult:
    """`raw` (a urllib3 response, not yet read) as a value: a 3xx is a REDIRECT failure, a
    body over `max_response_bytes` (declared or decoded) a RESPONSE_TOO_LARGE one.

    At most max_response_bytes + 1 decoded bytes are read. A body read to its end has put
    its connection back in the pool; the caller closes `raw` afterwards in every case, which
    drops a connection left with unread bytes instead of reusing it.
    """
    status = raw.status
    # Duplicate header lines merged with ", ", names lower-cased (what requests gives too).
    headers = {name.lower(): value for name, value in raw.headers.itermerged()}
    if 300 <= status < 400:
        location = headers.get("location", "(none)")
        return fail(
            Kind.REDIRECT,
            f"HTTP {status} redirect to {location} refused: redirects are never followed",
            request_headers,
        )
    if _declared_length(headers) > max_response_bytes:
        return _too_large(max_response_bytes, request_headers)
    body = raw.read(max_response_bytes + 1, decode_content=True)
    if len(body) > max_response_bytes:
        return _too_large(max_response_bytes, request_headers)
    return HttpResponse(status=status, headers=headers, body=body)


def _too_large(max_response_bytes: int, request_headers: Headers) -> TransportFailure:
    return fail(
        Kind.RESPONSE_TOO_LARGE,
        f"response body exceeds {max_response_bytes} bytes",
        request_headers,
    )


def _declared_length(headers: dict[str, str]) -> int:
    """Content-Length when it states the decoded size (no content coding), else -1."""
    if headers.get("content-encoding", "identity").lower() != "identity":
        return -1
    try:
        return int(headers.get("content-length", "-1"))
    except ValueError:
        return -1


def _tls_what(cause: BaseException, default: str) -> str:
    reason = getattr(cause, "reason", None)
    return _CLIENT_CERT_ALERTS.get(reason, default) if isinstance(reason, str) else default
