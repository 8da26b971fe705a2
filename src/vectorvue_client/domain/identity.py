"""Deterministic identities: content ids for payloads, idempotency keys for requests.

Both are hashes of canonical bytes, so the same content always gets the same identity:
VectorVue upserts on event_id/finding_id and replays on Idempotency-Key, which makes
every resend (a retry, a crash-and-restart, an operator re-running a file) harmless.
"""

from __future__ import annotations

import hashlib
from typing import Final

_ID_HEX: Final = 40  # 160 bits: collisions are not a practical concern for ids


def content_id(prefix: str, canonical: bytes) -> str:
    """`<prefix>-<40 hex of SHA-256(canonical)>`: fits the contract's id pattern."""
    return f"{prefix}-{hashlib.sha256(canonical).hexdigest()[:_ID_HEX]}"


def idempotency_key(body: bytes) -> str:
    """A UUID-shaped key derived from the exact request body (UUID-shaped because that is
    the one format every VectorVue header validator accepts)."""
    h = hashlib.sha256(body).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
