"""The Transport port over urllib3 alone: one HTTPS exchange per send, outcomes as values,
by the rules of the requests transport (transport_common.py holds the shared ones) but
without requests' per-request machinery (settings merge, PreparedRequest, hooks, cookies).

- One connection pool for the base URL's host, built at construction: a CONNECT tunnel
  through `proxy` when one is given, of the pool class both transports share
  (transport_pool.py: pins, the exchange's budget, no connection idle too long). Nothing
  comes from the environment: urllib3 reads no proxy variable, and the TLS context is
  built once, from `verify` and `client_cert` alone (transport_sockets.py: urllib3's own
  would load the OS trust store, which obeys SSL_CERT_FILE, whenever no CA is given, and
  would log session keys to the file SSLKEYLOGFILE names).
- `Timeouts.total` bounds the whole exchange in wall-clock time (transport_sockets.py).
- `Retry(0, redirect=False)` and `redirect=False`: retries and redirects are decided by
  domain/retry.py, never here.
- The wire is requests': the same default headers, header checks and framing, and the
  request target requests would send for base_url + path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Final
from urllib.parse import urlsplit

import certifi
import requests
from urllib3 import PoolManager, ProxyManager, Timeout
from urllib3.util import Retry, make_headers, parse_url

from vectorvue_client.adapters.transport_common import (
    CAUGHT,
    check_target,
    fail,
    failure,
    read_response,
)
from vectorvue_client.adapters.transport_pool import (
    DEFAULT_MAX_IDLE_SECONDS,
    install_pool_class,
    pool_class,
    tls_settings,
)
from vectorvue_client.adapters.transport_sockets import ExchangeBudget, tls_context
from vectorvue_client.domain.errors import TransportErrorKind as Kind
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts, check_sendable

_RETRIES: Final = Retry(0, redirect=False)
# requests' default headers, so that the server sees the same request from either backend.
_DEFAULT_HEADERS: Final = {
    "Accept-Encoding": ", ".join(make_headers(accept_encoding=True)["accept-encoding"].split(",")),
    "Accept": "*/*",
    "Connection": "keep-alive",
}
_NO_LENGTH_WHEN_EMPTY: Final = frozenset({"GET", "HEAD"})
_MAX_TARGETS: Final = 256


class Urllib3Transport:
    """A Transport (see ports.py) that performs one HTTPS exchange per `send` with urllib3.

    Network problems come back as `TransportFailure` values whose detail never holds a
    header value; redirects are refused, bodies over `max_response_bytes` are refused; a
    pooled connection idle for more than `max_idle_seconds` is replaced, not reused.
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
        max_idle_seconds: float = DEFAULT_MAX_IDLE_SECONDS,
    ) -> None:
        self._base_url = check_target(base_url, max_response_bytes)
        if _header_problem("User-Agent", user_agent):
            raise ValueError("user_agent must not hold a line break or start with whitespace")
        self._max_response_bytes = max_response_bytes
        self._closed = False
        self._defaults = {
            name.lower(): (name, value)
            for name, value in {"User-Agent": user_agent, **_DEFAULT_HEADERS}.items()
        }
        self._targets: dict[str, str] = {}
        self._timeout: tuple[float, float, Timeout] = (0.0, 0.0, Timeout(1.0))

        ca = None if verify is False else certifi.where() if verify is True else verify
        pool_kwargs = tls_settings(tls_context(ca, client_cert))
        self._manager = (
            _proxy_manager(proxy, ca, pool_size)
            if proxy
            else PoolManager(num_pools=1, maxsize=pool_size, block=False)
        )
        install_pool_class(self._manager, pool_class(pins, max_idle_seconds))
        # The pool requests would pick for this URL: the same host and port parsing.
        origin = urlsplit(str(_prepared(self._base_url + "/").url))
        if not origin.hostname:
            raise ValueError("base_url must be an https:// URL with a host")
        self._pool = self._manager.connection_from_host(
            origin.hostname, origin.port, scheme="https", pool_kwargs=pool_kwargs
        )

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Perform one exchange of `request`; a network problem is a TransportFailure."""
        if self._closed:  # a plain attribute: reads and writes of it are atomic
            raise RuntimeError("the transport is closed")
        check_sendable(request, timeouts)
        path = request.path
        connect, read, total = timeouts.connect, timeouts.read, timeouts.total
        method = request.method.upper()
        body = request.body
        headers = self._headers(request.headers, method, body)
        if isinstance(headers, str):
            return fail(Kind.PROTOCOL, headers, request.headers)
        cached = self._timeout
        if cached[0] == connect and cached[1] == read:
            timeout = cached[2]
        else:  # urllib3 clones it per request: one instance may serve every thread
            timeout = Timeout(connect=connect, read=read)
            self._timeout = (connect, read, timeout)
        target = self._targets.get(path) or self._target(path)
        with ExchangeBudget(total):
            try:
                response = self._pool.urlopen(
                    method,
                    target,
                    body=body or None,
                    headers=headers,
                    retries=_RETRIES,
                    redirect=False,
                    assert_same_host=False,
                    timeout=timeout,
                    preload_content=False,
                    decode_content=True,
                )
            except CAUGHT as exc:
                return failure(exc, timeouts, request.headers)
            try:
                return read_response(response, self._max_response_bytes, request.headers)
            except CAUGHT as exc:
                return failure(exc, timeouts, request.headers)
            finally:
                # After a complete read urllib3 has already put the connection back in the
                # pool and both are no-ops; otherwise the connection is closed, not reused
                # dirty (nor reused after the budget cut an operation short).
                response.close()
                response.release_conn()

    def close(self) -> None:
        """Close pooled connections; a later `send` raises RuntimeError."""
        self._closed = True
        self._manager.clear()

    def _headers(
        self, given: Sequence[tuple[str, str]], method: str, body: bytes
    ) -> dict[str, str] | str:
        """The headers to send (or what is wrong with them), merged as requests merges
        them: names case-insensitive, the last value winning, the defaults first."""
        merged = self._defaults.copy()  # lower-cased name -> (name as sent, value)
        for name, value in given:
            merged[name.lower()] = (name, value)
        for name, value in merged.values():
            problem = _header_problem(name, value)
            if problem:
                return f"invalid request header {problem} (header {name!r}: {value!r})"
        # The framing is ours: a Content-Length given by the caller never reaches the wire
        # when there is a body (a wrong one would desynchronise the connection).
        if body:
            merged["content-length"] = ("Content-Length", str(len(body)))
        elif method not in _NO_LENGTH_WHEN_EMPTY and "content-length" not in merged:
            merged["content-length"] = ("Content-Length", "0")
        return dict(merged.values())

    def _target(self, path: str) -> str:
        # The path and query requests would send (dot segments removed, characters
        # percent-encoded as it does, no fragment); computed once per distinct path.
        target = _prepared(self._base_url + path).path_url
        if len(self._targets) >= _MAX_TARGETS:  # ids in paths make them unbounded
            self._targets.clear()
        self._targets[path] = target
        return target


def _header_problem(name: str, value: str) -> str | None:
    """requests' header check (utils.check_header_validity), which is stricter than
    http.client's: no leading whitespace and no CR or LF anywhere, so that no header can
    be folded onto or split into another."""
    if _BAD_NAME.search(name):
        return "name"
    if _BAD_VALUE.search(value):
        return "value"
    return None


# The checks above, one C-level search each: empty, a leading whitespace character (\s is
# str.isspace's set), or a character a header may not hold.
_BAD_NAME: Final = re.compile(r"\A(?:\Z|\s)|[:\r\n]")
_BAD_VALUE: Final = re.compile(r"\A\s|[\r\n]")


def _prepared(url: str) -> requests.PreparedRequest:
    """`url` as requests normalises it; never on the path of a send of a known path."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared


def _proxy_manager(proxy: str, ca: str | None, pool_size: int) -> ProxyManager:
    """A manager whose HTTPS pools tunnel through `proxy` with CONNECT. An https:// proxy
    is verified against the same CA as the server, and is not shown the client certificate."""
    url = parse_url(proxy)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("proxy must be an http:// or https:// URL with a host")
    if url.auth:
        raise ValueError("proxy must not carry credentials (user:password@)")
    return ProxyManager(
        url.url,
        num_pools=1,
        maxsize=pool_size,
        block=False,
        proxy_ssl_context=tls_context(ca, None) if url.scheme == "https" else None,
    )
