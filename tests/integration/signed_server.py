"""A small integration API over real HTTPS on 127.0.0.1 that signs its envelopes as the
contract says VectorVue does ("Signed responses", 2), written from the contract, not from
the client: HMAC-SHA256 (Python's hmac) over `path|tenant|signed_at|data`, the data as
`json.dumps(sort_keys=True, separators=(",", ":"))`, the status route's template path and
its date-times as the database holds them (a space and +00:00).

Also a JWT maker (the client reads the token's tenant_id claim, never verifies it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from hostile.echo_server import Reply, Seen

BASE = "/api/v1/integrations/spectrastrike"
STATUS_TEMPLATE = BASE + "/ingest/status/{request_id}"
SIGNED_AT = "2026-02-22T10:00:00.123456+00:00"


def make_jwt(tenant: str, sub: str = "SpectraStrike-Bot") -> str:
    """An HS256-shaped JWT with `tenant_id` and `sub` claims (signed with a test key)."""

    def b64(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    head = b64({"alg": "HS256", "typ": "JWT"})
    body = b64({"sub": sub, "tenant_id": tenant, "role": "operator", "exp": 4102444800})
    mac = hmac.new(b"jwt-test-key", f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def mac(secret: str, path: str, tenant: str, signed_at: str, data: Any) -> str:
    """The contract's MAC: key = UTF-8 of the trimmed secret."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    message = f"{path}|{tenant}|{signed_at}|{canonical}".encode()
    return hmac.new(secret.strip().encode(), message, hashlib.sha256).hexdigest()


def tenant_of(seen: Seen) -> str:
    """The tenant_id claim of the request's bearer token, canonical."""
    token = seen.headers["authorization"].removeprefix("Bearer ")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(uuid.UUID(claims["tenant_id"]))


def signed_envelope(
    secret: str | None, path: str, tenant: str, data: Any, signed_data: Any = None
) -> dict[str, Any]:
    """A 202-style envelope; signed when `secret` is given (over `signed_data`, default
    `data`: the status route signs what the database held)."""
    signature = None
    if secret is not None:
        over = data if signed_data is None else signed_data
        signature = {
            "algorithm": "hmac-sha256",
            "signed_at": SIGNED_AT,
            "signature": mac(secret, path, tenant, SIGNED_AT, over),
        }
    return {
        "request_id": str(uuid.uuid4()),
        "status": "accepted",
        "data": data,
        "errors": [],
        "signature": signature,
    }


def event_answer(secret: str | None, seen: Seen, **tamper: Any) -> Reply:
    """The 202 of POST .../events for the request `seen`; `tamper` overrides keys of the
    envelope after signing."""
    event_id = json.loads(seen.body)["event_id"]
    envelope = signed_envelope(secret, seen.path, tenant_of(seen), {"event_id": event_id})
    envelope.update(tamper)
    return Reply.json(202, envelope)
