"""The Transport port over requests + urllib3: one HTTPS exchange, outcomes as values.

- A hardened Session (http_session.py: nothing from the environment, no cookies, HTTPS
  only) over one adapter whose TLS is fixed at construction: a context built from
  `verify` and `client_cert` alone (transport_sockets.py), in pools of the class both
  transports share (transport_pool.py: pins, the exchange's budget, no connection idle
  too long). What requests would derive per request from `verify` and `cert` never
  reaches the pools, so neither its merge of settings nor the environment can change them.
- `Timeouts.total` bounds the whole exchange in wall-clock time (transport_sockets.py).
- `Retry(0, redirect=False)` and `allow_redirects=False`: retries and redirects are decided
  by domain/retry.py, never here.
- The body is streamed and capped (transport_common.py, as in the urllib3 transport); a
  response not read to its end is closed rather than returned to the pool with unread
  bytes on its connection.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import certifi
import requests
import requests.adapters
from urllib3 import HTTPSConnectionPool
from urllib3.util import Retry

from vectorvue_client.adapters.http_session import hardened_session
from vectorvue_client.adapters.transport_common import CAUGHT, check_target, failure, read_response
from vectorvue_client.adapters.transport_pool import (
    DEFAULT_MAX_IDLE_SECONDS,
    install_pool_class,
    pool_class,
)
from vectorvue_client.adapters.transport_sockets import ExchangeBudget, tls_context
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts, check_sendable

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs


class RequestsTransport:
    """A Transport (see ports.py) that performs one HTTPS exchange per `send` with requests.

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
        self._max_response_bytes = max_response_bytes
        # Given per request: with trust_env off, nothing else can add or change a proxy.
        self._proxies = {"https": proxy} if proxy else {}
        self._closed = False
        self._lock = threading.Lock()

        ca = None if verify is False else certifi.where() if verify is True else verify
        adapter = _ExchangeAdapter(
            tls_context(ca, client_cert),
            # An https:// proxy is verified against the same CA, and is not shown the
            # client certificate (as in the urllib3 transport).
            tls_context(ca, None) if proxy and proxy.lower().startswith("https:") else None,
            pool_class(pins, max_idle_seconds),
            pool_connections=1,
            pool_maxsize=pool_size,
            max_retries=Retry(0, redirect=False),
        )
        self._session = hardened_session(adapter)
        self._session.headers["User-Agent"] = user_agent

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        """Perform one exchange of `request`; a network problem is a TransportFailure."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the transport is closed")
        check_sendable(request, timeouts)
        with ExchangeBudget(timeouts.total):
            try:
                response = self._session.request(
                    request.method,
                    self._base_url + request.path,
                    headers=dict(request.headers),
                    data=request.body,
                    timeout=(timeouts.connect, timeouts.read),
                    proxies=self._proxies,
                    allow_redirects=False,
                    stream=True,
                )
            except CAUGHT as exc:
                return failure(exc, timeouts, request.headers)
            try:
                return read_response(response.raw, self._max_response_bytes, request.headers)
            except CAUGHT as exc:
                return failure(exc, timeouts, request.headers)
            finally:
                # After a complete read urllib3 has already put the connection back in the
                # pool and this is a no-op; otherwise it closes the connection instead of
                # reusing it.
                response.close()

    def close(self) -> None:
        """Close pooled connections; a later `send` raises RuntimeError."""
        with self._lock:
            self._closed = True
        self._session.close()


class _ExchangeAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose HTTPS pools, direct or behind a proxy's tunnel, are of `pool`
    and use `context` as it is.

    requests would otherwise turn each request's `verify` and `cert` into pool settings
    that urllib3 loads into the context at every new connection (certifi's bundle for
    verify=True, on top of the configured CA), and build a context of its own, which
    obeys SSLKEYLOGFILE, for an https:// proxy.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        proxy_context: ssl.SSLContext | None,
        pool: type[HTTPSConnectionPool],
        **kwargs: Any,
    ) -> None:
        # urllib3 sets `cert_reqs` on the context for each connection: it must say what
        # the context already does.
        verifies = context.verify_mode != ssl.CERT_NONE
        self._tls: _PoolKwargs = {
            "ssl_context": context,
            "cert_reqs": "CERT_REQUIRED" if verifies else "CERT_NONE",
        }
        self._proxy_context = proxy_context
        self._pool_class = pool
        super().__init__(**kwargs)  # calls init_poolmanager: the pool class must exist by now

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """The pool manager, with pools of our class."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        install_pool_class(self.poolmanager, self._pool_class)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy manager for `proxy`: our context for an https:// proxy, and a tunnel
        to pools of our class."""
        manager = super().proxy_manager_for(
            proxy, **{**proxy_kwargs, "proxy_ssl_context": self._proxy_context}
        )
        install_pool_class(manager, self._pool_class)
        return manager

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        """The pool for the request's host, with our TLS settings whatever `verify` and
        `cert` say."""
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        return host_params, self._tls.copy()

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Nothing: the pool's settings (our context) already hold the CA, the client
        certificate and the verification mode."""
