"""Signer for the integration API's request signing: HMAC-SHA256 over "<ts>.<body>"."""

from __future__ import annotations

import hashlib
import hmac

from vectorvue_client.ports import CredentialSource


class HmacSigner:
    """`X-Timestamp: <unix seconds>` and `X-Signature: hex(HMAC-SHA256(secret,
    f"{timestamp}." + body))`, as VectorVue verifies them. The secret is fetched from its
    source at each signature, so a rotation takes effect at the next attempt."""

    def __init__(self, secret: CredentialSource) -> None:
        self._secret = secret

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """Headers signing exactly `body` at `timestamp` (this contract has no nonce)."""
        key = self._secret.get().reveal().encode()
        mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return (("X-Timestamp", str(timestamp)), ("X-Signature", mac))
