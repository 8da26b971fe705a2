"""Certificate pinning inside the TLS handshake, for both HTTP transports.

The check runs in the connection's `connect()`, right after the handshake and before
urllib3 writes a single byte of the request: a server whose certificate is not pinned never
sees the request line, the headers (the bearer token) or the body. Pins are SHA-256 of the
leaf certificate's DER; several may be given so that a certificate can be rotated without
an outage. Pinning works with or without CA verification and through CONNECT proxies (the
pinned certificate is the origin's, at the far end of the tunnel).

`pinned_pool_class` is the one pinned pool both transports use: the urllib3 transport
installs it in its pool manager with `install_pool_class`, requests through
`PinnedHTTPAdapter`.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Collection
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPSConnection


class PinMismatchError(ssl.SSLError):
    """The server's certificate is not one of the pinned ones.

    An ssl.SSLError so that urllib3 treats it like any handshake failure: the connection is
    dropped, never reused, and the error reaches the transport wrapped but intact.
    """


def _pinned_connection_class(pins: frozenset[str]) -> type[HTTPSConnection]:
    class PinnedHTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            sock: Any = self.sock
            der = sock.getpeercert(binary_form=True) if sock is not None else None
            digest = hashlib.sha256(der or b"").hexdigest()
            if digest not in pins:
                self.close()
                raise PinMismatchError(
                    f"the server certificate (SHA-256 {digest}) is not among the "
                    f"{len(pins)} pinned certificate(s); nothing was sent"
                )
            # A matching pin authenticates the peer even without CA verification, so
            # urllib3 need not warn about an "unverified" request.
            self.is_verified = True

    return PinnedHTTPSConnection


def pinned_pool_class(pins: Collection[str]) -> type[HTTPSConnectionPool]:
    """An HTTPSConnectionPool class whose connections, direct or tunnelled through a
    CONNECT proxy, enforce `pins` (compared case-insensitively) in the handshake."""
    if not pins:
        raise ValueError("pinning needs at least one pin")
    connection_class = _pinned_connection_class(frozenset(p.lower() for p in pins))
    return type(
        "PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": connection_class}
    )


def install_pool_class(manager: PoolManager, pool_class: type[HTTPSConnectionPool]) -> None:
    """Make `manager` (a PoolManager or ProxyManager) build its HTTPS pools from
    `pool_class`."""
    manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": pool_class}


class PinnedHTTPAdapter(HTTPAdapter):
    """An HTTPAdapter whose HTTPS connections, direct or proxied, enforce the pins."""

    def __init__(self, pins: Collection[str], **kwargs: Any) -> None:
        if not pins:
            raise ValueError("a pinned adapter needs at least one pin")
        self._pool_class = pinned_pool_class(pins)
        super().__init__(**kwargs)  # calls init_poolmanager: the pool class must exist by now

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The default pool manager, with pinned HTTPS pools."""
        super().init_poolmanager(*args, **kwargs)
        install_pool_class(self.poolmanager, self._pool_class)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy manager for `proxy`, with pinned HTTPS pools behind the tunnel."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        install_pool_class(manager, self._pool_class)
        return manager
