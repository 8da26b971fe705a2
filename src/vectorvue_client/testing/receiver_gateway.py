"""The telemetry-gateway profile of VectorVue as request -> reply logic, for LocalVectorVue.

POST /internal/v1/telemetry, one event per request (design/vectorvue-contract.md). The
checks run in this order, each answering `{"detail": "..."}` with the status shown:

 1. 413  body over 1 MiB, by Content-Length, before the body is read (receiver_http.py:
         the TLS terminator refuses it before the gateway sees anything)
 2. 405  not a POST
 3. 415  Content-Type not application/json; Content-Encoding not identity or gzip
 4. 401  a required header missing (all of them are named); X-Service-Identity unknown;
         X-Client-Cert-Sha256 not 64 lowercase hex, or not the SHA-256 of the client
         certificate the connection presented (when it presented one); X-Telemetry-
         Timestamp not a decimal integer or more than 30 s from `now` (fractions of a
         second included: 30.5 s is too old); nonce not 8-128 chars
 5. 409  (timestamp, nonce) already seen in the last 120 s. Otherwise the pair is recorded
         as used HERE, before the checks below, so a request they refuse still burns its
         nonce: the contract's observed behaviour, and why every retry needs a new one
 6. 401  X-Telemetry-Signature not standard padded base64 of a valid Ed25519 signature,
         by the identity's key, over f"{timestamp}.{nonce}.".encode() + the exact body
         as received (for gzip, the compressed bytes, as adr/0011 says)
 7. 413  a gzip body over 1 MiB once decompressed (a gzip bomb is never inflated further)
    422  a broken gzip stream; a body that is not a GatewayRequest (unknown keys refused at
         every level except inside payload.attributes)
 8. 429  more than `burst_per_minute` requests of this operator in the calendar minute of
         `now`; every request that gets this far counts, whatever its outcome (no
         Retry-After). It sits here because the operator is only known from the body
 9. 422  timestamp or nonce of the body not those of the headers; signed_metadata not equal
         to the top level; attributes without attestation_measurement_hash (64 hex) or
         schema_version "1.0"; a SQL-looking description or attribute string; observed_at
         not an ISO-8601 datetime
10. 403  the operator is not mapped to the tenant (an operator absent from
         `operator_tenants` is mapped to nothing)
11. 202  {"accepted": true, "request_id": <uuid4>}; the event is upserted on
         (tenant_id, event_id), first version wins, and every acceptance is counted

An injected fault (LocalVectorVue.fail_next and friends) answers after step 5, as the real
gateway's 503 does: the request's pair is used up first (see `admit`).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vectorvue_client.domain import gateway_rules
from vectorvue_client.domain.models import GATEWAY_SCHEMA_VERSION, NONCE_LEN, GatewayRequest
from vectorvue_client.testing.receiver_reply import (
    MAX_BODY_BYTES,
    Reply,
    decode_content,
    detail,
    json_reply,
    media_type,
)

TELEMETRY_PATH: Final = "/internal/v1/telemetry"
TIMESTAMP_WINDOW_SECONDS: Final = 30
REPLAY_RETENTION_SECONDS: Final = 120
REQUIRED_HEADERS: Final = (
    "X-Service-Identity",
    "X-Client-Cert-Sha256",
    "X-Telemetry-Timestamp",
    "X-Telemetry-Nonce",
    "X-Telemetry-Signature",
)
_LOWER_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_ANY_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_DECIMAL: Final = re.compile(r"[0-9]{1,20}")
_DECODER: Final = msgspec.json.Decoder(GatewayRequest)


class TelemetryGateway:
    """The gateway's state (replay store, burst counters, stored events) and its rules;
    thread-safe.

    `identities` maps a service name to its Ed25519 public key; `operator_tenants` maps an
    operator_id to the tenant_ids it may write to; `now` is the clock of the timestamp
    window, the replay store and the calendar minutes of the burst limit.
    """

    def __init__(
        self,
        *,
        identities: Mapping[str, Ed25519PublicKey],
        operator_tenants: Mapping[str, Collection[str]],
        burst_per_minute: int,
        now: Callable[[], float],
    ) -> None:
        self._identities = dict(identities)
        if any(isinstance(tenants, str) for tenants in operator_tenants.values()):
            # frozenset("6f1c...") would be a set of characters: every request a silent 403
            raise TypeError("operator_tenants maps an operator_id to a collection of tenant_ids")
        self._tenants = {operator: frozenset(t) for operator, t in operator_tenants.items()}
        self._burst = burst_per_minute
        self._now = now
        self._lock = threading.Lock()
        self._seen: set[tuple[int, str]] = set()
        self._seen_order: deque[tuple[float, tuple[int, str]]] = deque()
        self._minutes: dict[str, tuple[int, int]] = {}  # operator -> (minute, requests)
        self._stored: dict[tuple[str, str], bytes] = {}  # decoded on read: callers get copies
        self._receipts: Counter[tuple[str, str]] = Counter()

    def stored(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The accepted events by (tenant_id, event_id): the first body of each, decoded."""
        with self._lock:
            stored = dict(self._stored)
        return {key: msgspec.json.decode(body) for key, body in stored.items()}

    def receipts(self, tenant_id: str, event_id: str) -> int:
        """How many times this event of this tenant was accepted: 1 means exactly once."""
        with self._lock:
            return self._receipts[(tenant_id, event_id)]

    def receipts_of(self, event_id: str) -> int:
        """How many times an event with this id was accepted, all tenants together."""
        with self._lock:
            return sum(n for (_, item), n in self._receipts.items() if item == event_id)

    def clear(self) -> None:
        """Forget the replay store, the burst counters, the stored events and receipts."""
        with self._lock:
            self._seen.clear()
            self._seen_order.clear()
            self._minutes.clear()
            self._stored.clear()
            self._receipts.clear()

    def handle(
        self, method: str, headers: Mapping[str, str], body: bytes, client_cert: str | None
    ) -> Reply:
        """The reply to one request to TELEMETRY_PATH; `headers` have lower-case names and
        `client_cert` is the SHA-256 (hex) of the certificate the client presented."""
        denied = self.admit(method, headers, client_cert)
        if denied is not None:
            return denied
        identity = self._identities[headers["x-service-identity"]]
        timestamp, nonce = headers["x-telemetry-timestamp"], headers["x-telemetry-nonce"]
        if not _signature_ok(identity, headers["x-telemetry-signature"], timestamp, nonce, body):
            return detail(401, "Invalid X-Telemetry-Signature")
        decoded = decode_content(_encoding(headers), body, MAX_BODY_BYTES, broken_status=422)
        if isinstance(decoded, Reply):
            return decoded
        try:
            request = _DECODER.decode(decoded)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            return detail(422, str(exc))
        return (
            self._count_burst(request.operator_id)
            or _semantic_error(request, int(timestamp), nonce)
            or self._authorize(request)
            or self._accept(request, decoded)
        )

    def admit(
        self, method: str, headers: Mapping[str, str], client_cert: str | None
    ) -> Reply | None:
        """Steps 2-5: the method, the media type, the headers and the replay store. None
        means the request got past them, and its (timestamp, nonce) is now used up."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        if media_type(headers) != "application/json":
            return detail(415, "Content-Type must be application/json")
        if _encoding(headers) not in {"", "identity", "gzip"}:
            return detail(415, f"Unsupported Content-Encoding: {_encoding(headers)}")
        denied = self._check_headers(headers, client_cert)
        if denied is not None:
            return denied
        key = (int(headers["x-telemetry-timestamp"]), headers["x-telemetry-nonce"])
        now = self._now()
        with self._lock:
            while self._seen_order and self._seen_order[0][0] <= now - REPLAY_RETENTION_SECONDS:
                self._seen.discard(self._seen_order.popleft()[1])
            if key in self._seen:
                return detail(409, "replay detected")
            self._seen.add(key)
            self._seen_order.append((now, key))
        return None

    def _check_headers(self, headers: Mapping[str, str], client_cert: str | None) -> Reply | None:
        missing = [name for name in REQUIRED_HEADERS if not headers.get(name.lower())]
        if missing:
            return detail(401, f"Missing headers: {', '.join(missing)}")
        identity = headers["x-service-identity"]
        if identity not in self._identities:
            hint = "" if self._identities else " (the gateway knows no identities)"
            return detail(401, f"Unknown service identity{hint}")
        stated = headers["x-client-cert-sha256"]
        if not _LOWER_HEX64.fullmatch(stated):
            return detail(401, "X-Client-Cert-Sha256 must be 64 lowercase hex characters")
        if client_cert is not None and stated != client_cert:
            return detail(401, "X-Client-Cert-Sha256 does not match the client certificate")
        timestamp = headers["x-telemetry-timestamp"]
        if not _DECIMAL.fullmatch(timestamp):
            return detail(401, "X-Telemetry-Timestamp must be unix seconds, a decimal integer")
        if abs(self._now() - int(timestamp)) > TIMESTAMP_WINDOW_SECONDS:
            return detail(401, "X-Telemetry-Timestamp outside the allowed window")
        if not NONCE_LEN[0] <= len(headers["x-telemetry-nonce"]) <= NONCE_LEN[1]:
            return detail(401, "X-Telemetry-Nonce must be 8-128 characters")
        return None

    def _count_burst(self, operator_id: str) -> Reply | None:
        minute = int(self._now() // 60)
        with self._lock:
            counted_minute, count = self._minutes.get(operator_id, (minute, 0))
            count = count + 1 if counted_minute == minute else 1
            self._minutes[operator_id] = (minute, count)
        if count > self._burst:
            return detail(429, "Too many requests for this operator in this minute")
        return None

    def _authorize(self, request: GatewayRequest) -> Reply | None:
        if request.tenant_id not in self._tenants.get(request.operator_id, frozenset()):
            return detail(403, "Operator is not mapped to this tenant")
        return None

    def _accept(self, request: GatewayRequest, body: bytes) -> Reply:
        key = (request.tenant_id, request.payload.event_id)
        with self._lock:
            if key not in self._stored:  # first version wins
                self._stored[key] = body
            self._receipts[key] += 1
        return json_reply(202, {"accepted": True, "request_id": str(uuid.uuid4())})


def _encoding(headers: Mapping[str, str]) -> str:
    return headers.get("content-encoding", "").strip().lower()


def _signature_ok(
    key: Ed25519PublicKey, value: str, timestamp: str, nonce: str, body: bytes
) -> bool:
    try:
        signature = base64.b64decode(value, validate=True)  # padding and alphabet enforced
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(signature, f"{timestamp}.{nonce}.".encode() + body)
    except InvalidSignature:
        return False
    return True


def _semantic_error(request: GatewayRequest, timestamp: int, nonce: str) -> Reply | None:
    """What the Struct cannot say: agreement with the headers and within the body, the
    required attributes, SQL-looking strings and a datetime that parses."""
    if request.timestamp != timestamp or request.nonce != nonce:
        return detail(422, "timestamp and nonce must equal the X-Telemetry-* headers")
    signed = request.signed_metadata
    top = (request.tenant_id, request.operator_id, request.campaign_id)
    if (signed.tenant_id, signed.operator_id, signed.campaign_id) != top:
        return detail(422, "signed_metadata must equal tenant_id, operator_id, campaign_id")
    attributes = request.payload.attributes
    measurement = attributes.get("attestation_measurement_hash")
    if not isinstance(measurement, str) or not _ANY_HEX64.fullmatch(measurement):
        return detail(422, "payload.attributes.attestation_measurement_hash must be 64 hex")
    if attributes.get("schema_version") != GATEWAY_SCHEMA_VERSION:
        return detail(422, f'payload.attributes.schema_version must be "{GATEWAY_SCHEMA_VERSION}"')
    description = request.payload.description
    sql_like = [
        *gateway_rules.sql_like_strings(description, "payload.description"),
        *gateway_rules.sql_like_strings(attributes, "payload.attributes"),
    ]
    if sql_like:
        path, fragment = sql_like[0]
        return detail(422, f"{path} looks like a SQL statement ({fragment!r})")
    try:
        datetime.fromisoformat(request.payload.observed_at)
    except ValueError:
        return detail(422, "payload.observed_at must be an ISO-8601 datetime")
    return None
