"""Certificate pinning inside the TLS handshake, for the requests transport.

The check runs in the connection's `connect()`, right after the handshake and before
urllib3 writes a single byte of the request: a server whose certificate is not pinned never
sees the request line, the headers (the bearer token) or the body. Pins are SHA-256 of the
leaf certificate's DER; several may be given so that a certificate can be rotated without
an outage. Pinning works with or without CA verification and through CONNECT proxies (the
pinned certificate is the origin's, at the far end of the tunnel).
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


class PinnedHTTPAdapter(HTTPAdapter):
    """An HTTPAdapter whose HTTPS connections, direct or proxied, enforce the pins."""

    def __init__(self, pins: Collection[str], **kwargs: Any) -> None:
        if not pins:
            raise ValueError("a pinned adapter needs at least one pin")
        connection_class = _pinned_connection_class(frozenset(p.lower() for p in pins))
        self._pool_class = type(
            "PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": connection_class}
        )
        super().__init__(**kwargs)  # calls init_poolmanager: the pool class must exist by now

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The default pool manager, with pinned HTTPS pools."""
        super().init_poolmanager(*args, **kwargs)
        self._pin(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy manager for `proxy`, with pinned HTTPS pools behind the tunnel."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        self._pin(manager)
        return manager

    def _pin(self, manager: PoolManager) -> None:
        manager.pool_classes_by_scheme = {
            **manager.pool_classes_by_scheme,
            "https": self._pool_class,
        }
