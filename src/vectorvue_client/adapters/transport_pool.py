"""The one HTTPS connection pool both transports use: the urllib3 transport installs its
class in its pool manager, requests through its adapter (transport_requests.py).

- Its connections check the pins in the handshake (transport_pinning.py), connect within
  the exchange's wall-clock budget (transport_sockets.py), and give a proxy's CONNECT
  tunnel a socket that keeps to that budget too.
- It never hands out a connection that has been idle longer than `max_idle_seconds`: such
  a connection is closed, and a fresh one made in its place. A server closes idle
  keep-alive connections after a few seconds (uvicorn after 5), and a request written on
  a connection it is closing is lost: an attempt spent, or with max_retries 0 a failed
  send. urllib3 itself drops only a connection whose close has already arrived.
"""

from __future__ import annotations

import math
import socket
import ssl
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar, Final

from urllib3 import HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError

from vectorvue_client.adapters.transport_pinning import PinMismatchError, check_pin, pin_set
from vectorvue_client.adapters.transport_sockets import (
    CONNECTING,
    budgeted,
    over_budget,
    seconds_left,
)

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

# Below the 5 s keep-alive of uvicorn, which the VectorVue contract names.
DEFAULT_MAX_IDLE_SECONDS: Final = 4.0


class ExchangeConnection(HTTPSConnection):
    """An HTTPS connection that enforces `pins` (none: no pinning) and keeps its connect,
    and a proxy tunnel's plain socket, within the exchange's budget."""

    pins: ClassVar[frozenset[str]] = frozenset()
    # When the pool last took it back (monotonic seconds); None while it is out.
    idle_since: float | None = None

    def _new_conn(self) -> socket.socket:
        left = seconds_left(CONNECTING)
        if left is not None and (self.timeout is None or left < self.timeout):
            self.timeout = left
            try:
                sock = super()._new_conn()
            except ConnectTimeoutError as exc:
                raise over_budget(CONNECTING) from exc
        else:
            sock = super()._new_conn()
        # Until TLS to the origin wraps it, a tunnel's socket carries the CONNECT exchange.
        return budgeted(sock) if self.proxy_is_tunneling else sock

    def connect(self) -> None:
        """Connect, shake hands, and check the pins before anything is written."""
        super().connect()
        if self.pins:
            try:
                check_pin(self.sock, self.pins)
            except PinMismatchError:
                self.close()
                raise
            # A matching pin authenticates the peer even without CA verification, so
            # urllib3 need not warn about an "unverified" request.
            self.is_verified = True


class ExchangePool(HTTPSConnectionPool):
    """An HTTPS pool of ExchangeConnections that closes, rather than reuses, one idle for
    longer than `max_idle_seconds`."""

    ConnectionCls = ExchangeConnection
    max_idle_seconds: ClassVar[float] = DEFAULT_MAX_IDLE_SECONDS

    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        conn = super()._get_conn(timeout)
        if isinstance(conn, ExchangeConnection) and conn.idle_since is not None:
            idle = time.monotonic() - conn.idle_since
            conn.idle_since = None
            if idle > self.max_idle_seconds:
                # The same path as urllib3's for a connection it sees dropped: closed here,
                # connected afresh by urlopen (through the proxy's tunnel when there is one).
                conn.close()
        return conn

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        if isinstance(conn, ExchangeConnection):
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)


def pool_class(
    pins: Collection[str] = (), max_idle_seconds: float = DEFAULT_MAX_IDLE_SECONDS
) -> type[ExchangePool]:
    """The ExchangePool class for one transport: its pins (compared case-insensitively)
    and its idle limit in seconds (positive, finite)."""
    if not (math.isfinite(max_idle_seconds) and max_idle_seconds > 0):
        raise ValueError("max_idle_seconds must be a positive, finite number of seconds")
    pinned, limit = pin_set(pins), max_idle_seconds

    class Connection(ExchangeConnection):
        pins = pinned

    class Pool(ExchangePool):
        ConnectionCls = Connection
        max_idle_seconds = limit

    return Pool


def install_pool_class(manager: PoolManager, cls: type[HTTPSConnectionPool]) -> None:
    """Make `manager` (a PoolManager or ProxyManager) build its HTTPS pools from `cls`."""
    manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": cls}


def tls_settings(context: ssl.SSLContext) -> dict[str, Any]:
    """The pool settings that make urllib3 use `context` as it is: urllib3 sets
    `cert_reqs` on the context for each connection (None would mean "verify")."""
    return {"ssl_context": context, "cert_reqs": context.verify_mode}
