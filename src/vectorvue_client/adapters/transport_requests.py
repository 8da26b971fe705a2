"""The Transport port over requests + urllib3: one HTTPS exchange, outcomes as values.

- A hardened Session (http_session.py: nothing from the environment, no cookies, HTTPS
  only). `verify` is still passed on every call, so that no session-level merge can
  override it.
- `Retry(0, redirect=False)` and `allow_redirects=False`: retries and redirects are decided
  by domain/retry.py, never here.
- The body is streamed and capped (transport_common.py, as in the urllib3 transport); a
  response not read to its end is closed rather than returned to the pool with unread
  bytes on its connection.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

import requests
import requests.adapters
from urllib3.util import Retry

from vectorvue_client.adapters.http_session import hardened_session
from vectorvue_client.adapters.transport_common import CAUGHT, check_target, failure, read_response
from vectorvue_client.adapters.transport_pinning import PinnedHTTPAdapter
from vectorvue_client.domain.http import HttpRequest, HttpResult, Timeouts


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
        self._base_url = check_target(base_url, max_response_bytes)
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
        except CAUGHT as exc:
            return failure(exc, timeouts, request.headers)
        try:
            return read_response(response.raw, self._max_response_bytes, request.headers)
        except CAUGHT as exc:
            return failure(exc, timeouts, request.headers)
        finally:
            # After a complete read urllib3 has already put the connection back in the pool
            # and this is a no-op; otherwise it closes the connection instead of reusing it.
            response.close()

    def close(self) -> None:
        """Close pooled connections; a later `send` raises RuntimeError."""
        with self._lock:
            self._closed = True
        self._session.close()
