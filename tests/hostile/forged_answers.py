"""Answers LocalVectorVue never gives, for EchoServer (real TLS on 127.0.0.1) to send: a
feedback answer forged, replayed, stale, for another tenant or with bad items, and an
integration envelope tampered, mis-signed or signed over the wrong path. Every signature is
made here from the contract's rules ("Cognitive loop (gateway)", "Signed responses"), with
`cryptography`'s Ed25519, Python's hmac and json.dumps(sort_keys=True, separators=(",",
":")): nothing of the client's.

Genuine answers are LocalVectorVue's business (tests/integration/test_*_end_to_end.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hostile.echo_server import EchoServer, Reply, Seen

# -- feedback answers of the gateway's cognitive loop -----------------------------------
QUERY = "/internal/v1/cognitive/feedback/adjustments/query"
IDENTITY = "spectrastrike-producer"
TENANT = "a0000000-0000-4000-8000-00000000000b"
OTHER_TENANT = "b0000000-0000-4000-8000-00000000000c"
MEASUREMENT = "ab" * 32


class FeedbackForger:
    """Signs feedback answers as the gateway does, with any key, kid, time or nonce; the
    client's keyring (`keyring_file`) trusts `key` under `kid`."""

    def __init__(self, tmp_path: Path, now: Callable[[], float], kid: str = "default") -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid, self.now, self.answers = kid, now, 0
        public = base64.b64encode(self.key.public_key().public_bytes_raw()).decode()
        self.keyring_file = str(tmp_path / "keyring.json")
        Path(self.keyring_file).write_text(json.dumps({kid: public}))

    def adjustment(self, tenant: str = TENANT, **changes: Any) -> dict[str, Any]:
        """One well-formed adjustment for `tenant` (keys in the server's model order)."""
        return {
            "tenant_id": tenant,
            "execution_fingerprint": "cd" * 32,
            "target_urn": "urn:target:web-01",
            "action": "tighten",
            "confidence": 0.82,
            "rationale": "dense execution graph",
            "control": "execution",
            "ttl_seconds": 1800,
            "timestamp": int(self.now()),
            "schema_version": "feedback.adjustment.v1",
            "attestation_measurement_hash": MEASUREMENT,
            **changes,
        }

    def signed(
        self,
        tenant: str,
        data: list[Any],
        *,
        nonce: str | None = None,
        signed_data: list[Any] | None = None,
        signed_tenant: str | None = None,
        signed_at: int | None = None,
    ) -> Reply:
        """A 200 feedback answer; `signed_data` / `signed_tenant`: sign other data or
        another tenant than the answer carries (a forgery)."""
        signed_at = int(self.now()) if signed_at is None else signed_at
        self.answers += 1
        nonce = nonce or f"answer-nonce-{self.answers:011d}"  # 24 URL-safe characters
        canonical = json.dumps(
            data if signed_data is None else signed_data, sort_keys=True, separators=(",", ":")
        )
        parts = (signed_tenant or tenant, signed_at, nonce, "feedback.response.v1", self.kid)
        message = "|".join(str(part) for part in parts) + "|" + canonical
        body = {
            "request_id": str(uuid.uuid4()),
            "status": "accepted",
            "data": data,
            "errors": [],
            "signature": base64.b64encode(self.key.sign(message.encode())).decode(),
            "kid": self.kid,
            "signature_algorithm": "Ed25519",
            "signed_at": signed_at,
            "nonce": nonce,
            "schema_version": "feedback.response.v1",
        }
        return Reply(200, json.dumps(body, ensure_ascii=False).encode())


def gateway_settings(server: EchoServer, tmp_path: Path, forger: FeedbackForger) -> dict[str, Any]:
    """Client settings (telemetry-gateway profile) for `server`, trusting `forger`'s key."""
    cert, key = server.issue_client_cert(IDENTITY)
    producer = tmp_path / "producer.pem"
    producer.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {
        "base_url": server.url,
        "profile": "telemetry-gateway",
        "ca_bundle": server.ca_pem_path,
        "client_cert": cert,
        "client_key": key,
        "service_identity": IDENTITY,
        "signing_key_file": str(producer),
        "feedback_keyring_file": forger.keyring_file,
        "operator_id": "op-1",
        "tenant_id": TENANT,
        "attestation_measurement_hash": MEASUREMENT,
        "max_retries": 0,
    }


# -- signed envelopes of the integration API ---------------------------------------------
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
