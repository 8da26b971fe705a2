"""Signer for servers without request signing: adds nothing."""

from __future__ import annotations


class UnsignedSigner:
    """Adds no header: the server has no signing secret configured."""

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """No signature headers."""
        return ()
