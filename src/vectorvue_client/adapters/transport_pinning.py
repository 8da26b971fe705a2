"""Certificate pinning inside the TLS handshake, for both HTTP transports.

The check runs in the connection's `connect()` (transport_pool.py), right after the
handshake and before urllib3 writes a single byte of the request: a server whose
certificate is not pinned never sees the request line, the headers (the bearer token) or
the body. Pins are SHA-256 of the leaf certificate's DER; several may be given so that a
certificate can be rotated without an outage. Pinning works with or without CA
verification and through CONNECT proxies (the pinned certificate is the origin's, at the
far end of the tunnel).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Collection
from typing import Any


class PinMismatchError(ssl.SSLError):
    """The server's certificate is not one of the pinned ones.

    An ssl.SSLError so that urllib3 treats it like any handshake failure: the connection is
    dropped, never reused, and the error reaches the transport wrapped but intact.
    """

    def __str__(self) -> str:
        # ssl.SSLError shows a lone argument as its args tuple's repr: "('the server...',)".
        return str(self.args[0]) if self.args else ""


def pin_set(pins: Collection[str]) -> frozenset[str]:
    """`pins` as compared: lower-cased (a pin may be given in any case)."""
    return frozenset(p.lower() for p in pins)


def check_pin(sock: Any, pins: frozenset[str]) -> None:
    """Raise PinMismatchError unless the leaf certificate `sock` (a TLS socket after its
    handshake, or None) presented is among `pins`."""
    der = sock.getpeercert(binary_form=True) if sock is not None else None
    digest = hashlib.sha256(der or b"").hexdigest()
    if digest not in pins:
        raise PinMismatchError(
            f"the server certificate (SHA-256 {digest}) is not among the "
            f"{len(pins)} pinned certificate(s); nothing was sent"
        )
