"""How VectorVue's integration API signs its success envelopes (commit 62be902), for
LocalVectorVue; written from design/vectorvue-contract.md ("Signed responses", 2).

With a non-empty compliance signing secret (VV_COMPLIANCE_SIGNING_KEY, trimmed), the envelope
field `signature` is {"algorithm": "hmac-sha256", "signed_at", "signature"}: lowercase hex of
HMAC-SHA256 over the UTF-8 of f"{path}|{tenant}|{signed_at}|{canonical data}", where
`signed_at` is the server's UTC time in ISO-8601 with "+00:00" (microseconds when non-zero)
and the canonical data is Python's json.dumps(sort_keys=True, separators=(",", ":")) of the
server's INTERNAL values: a date-time is str() of an aware datetime ("2026-02-22
10:00:00.123456+00:00"), while the response shows it as "2026-02-22T10:00:00.123456Z".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Final

ALGORITHM: Final = "hmac-sha256"


class EnvelopeSigner:
    """Signs envelopes' data with the server's secret; `enabled` is False (and every
    signature None) when the secret is absent or blank."""

    def __init__(self, secret: str | None) -> None:
        trimmed = (secret or "").strip()
        self._key = trimmed.encode("utf-8") if trimmed else None

    @property
    def enabled(self) -> bool:
        """Whether the server signs at all."""
        return self._key is not None

    def sign(self, path: str, tenant: str, data: Any, now: float) -> dict[str, str] | None:
        """The envelope's `signature` for `data` (internal values: datetimes as datetime
        objects) answered on `path` to `tenant`, or None without a secret."""
        if self._key is None:
            return None
        signed_at = datetime.fromtimestamp(now, UTC).isoformat()
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_internal)
        message = f"{path}|{tenant}|{signed_at}|{canonical}".encode()
        mac = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return {"algorithm": ALGORITHM, "signed_at": signed_at, "signature": mac}


def canonical_tenant(claim: object) -> str:
    """The token's tenant_id as the server signs it: a canonical (lowercase, hyphenated)
    UUID. A claim that is not a UUID is kept as it is (VectorVue refuses such a token with a
    401; LocalVectorVue does not check the claim)."""
    text = "" if claim is None else str(claim)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def shown(value: Any) -> Any:
    """`value` as the response shows it: every datetime, at any depth, as
    YYYY-MM-DDTHH:MM:SS[.ffffff]Z (the values are UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, dict):
        return {key: shown(child) for key, child in value.items()}
    if isinstance(value, list):
        return [shown(child) for child in value]
    return value


def _internal(value: object) -> str:
    if isinstance(value, datetime):
        return str(value)  # "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00", the server's own form
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
