"""The telemetry-gateway profile of VectorVue as request -> reply logic, for LocalVectorVue.

POST /internal/v1/telemetry, one event per request (design/vectorvue-contract.md, gateway
commit c175221). The body is checked by receiver_gateway_schema.py, the gateway's schema
written from the contract, never by the client's models. The checks run in this order, each
answering `{"detail": "..."}` with the status shown unless it says "plain":

 0. 413  (the bundled nginx, receiver_http.py) a body over 1 MiB, before it is read
 1. 405  not a POST
 2. 415  the lower-cased Content-Type does not contain "application/json"
 3. 422  an empty body
 4. 413  a body over 1,048,576 bytes (exactly 1,048,576 passes); 1-4 come before any
         authentication
 5. 401  a required header missing (all of them are named); X-Service-Identity unknown;
         X-Client-Cert-Sha256 not 64 lowercase hex, or not the SHA-256 of the client
         certificate the connection presented (when it presented one); X-Telemetry-
         Timestamp not a decimal integer or more than 30 s from `now` (fractions of a
         second included); nonce not 8-128 characters; X-Telemetry-Signature not standard
         padded base64 of a valid Ed25519 signature by the identity's key over
         f"{timestamp}.{nonce}.".encode() + the exact body as received
 6. 409  (timestamp, nonce) already used in the last 120 s. Otherwise the pair is used up
         HERE, as soon as the signature verifies: a request refused below still burns it
 7. 500  plain: a body that is not UTF-8 (a gzip body included: nothing decompresses) or
         is nested deeper than receiver_json.CRASH_DEPTH levels
 8. 422  not JSON, or not the schema: "Canonical telemetry schema validation failed: why"
 9. 401  the body's timestamp or nonce not those of the headers; signed_metadata not
         equal to the top level
10. 403  the operator is not mapped to the tenant (an operator absent from
         `operator_tenants` is mapped to nothing)
11. 429  more than `burst_per_minute` requests of this operator in the calendar minute of
         `now`; only requests that passed every other check count (no Retry-After)
12. 202  {"accepted": true, "request_id": <uuid4>}; the event is upserted on (tenant_id,
         event_id), last write wins, in the rewritten form the gateway stores (see
         receiver_gateway_schema.stored_form), and every acceptance is counted. A body
         with a NUL character anywhere is answered 202 all the same and NOT stored
         (PostgreSQL refuses it; the gateway only logs that).

An injected fault (LocalVectorVue.fail_next and friends) answers after step 6, as the real
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
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vectorvue_client.testing.receiver_gateway_schema import (
    REFUSED,
    InvalidError,
    Telemetry,
    check,
    stored_form,
)
from vectorvue_client.testing.receiver_json import CrashError, NotJsonError, has_nul, parse
from vectorvue_client.testing.receiver_reply import MAX_BODY_BYTES, Reply, crash, detail, json_reply

TELEMETRY_PATH: Final = "/internal/v1/telemetry"
TIMESTAMP_WINDOW_SECONDS: Final = 30
REPLAY_RETENTION_SECONDS: Final = 120
NONCE_LENGTH: Final = (8, 128)
IDENTITY_HEADERS: Final = ("X-Service-Identity", "X-Client-Cert-Sha256")
SIGNED_HEADERS: Final = ("X-Telemetry-Timestamp", "X-Telemetry-Nonce", "X-Telemetry-Signature")
_LOWER_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_DECIMAL: Final = re.compile(r"[0-9]{1,20}")


class TelemetryGateway:
    """The gateway's state (replay store, burst counters, stored events) and its rules;
    thread-safe.

    `identities` maps a service name to its Ed25519 public key; `operator_tenants` maps an
    operator_id to the tenant_ids it may write to; `schema_versions` is the allowed list of
    attributes.schema_version (empty: enforcement off); `now` is the clock of the timestamp
    window, the replay store and the calendar minutes of the burst limit.
    """

    def __init__(
        self,
        *,
        identities: Mapping[str, Ed25519PublicKey],
        operator_tenants: Mapping[str, Collection[str]],
        burst_per_minute: int,
        schema_versions: Collection[str],
        now: Callable[[], float],
    ) -> None:
        self._identities = dict(identities)
        if any(isinstance(tenants, str) for tenants in operator_tenants.values()):
            # frozenset("6f1c...") would be a set of characters: every request a silent 403
            raise TypeError("operator_tenants maps an operator_id to a collection of tenant_ids")
        if isinstance(schema_versions, str):
            raise TypeError('schema_versions is a collection of versions, e.g. ["1.0"]')
        self._tenants = {operator: frozenset(t) for operator, t in operator_tenants.items()}
        self._versions = tuple(schema_versions)
        self._now = now
        self._lock = threading.Lock()
        self._seen: set[tuple[int, str]] = set()
        self._seen_order: deque[tuple[float, tuple[int, str]]] = deque()
        self._minutes = MinuteLimit(burst_per_minute, now)
        self._stored: dict[tuple[str, str], bytes] = {}  # decoded on read: callers get copies
        self._receipts: Counter[tuple[str, str]] = Counter()

    @property
    def enforces_schema_version(self) -> bool:
        """Whether the gateway runs with schema-version enforcement on (one switch for the
        telemetry attributes and the execution graph's schema_version)."""
        return bool(self._versions)

    def stored(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored events by (tenant_id, event_id), as the gateway holds them: the last
        body of each, rewritten (receiver_gateway_schema.stored_form). Copies."""
        with self._lock:
            stored = dict(self._stored)
        return {key: msgspec.json.decode(body) for key, body in stored.items()}

    def receipts(self, tenant_id: str, event_id: str) -> int:
        """How many times this event of this tenant was stored: 1 means exactly once."""
        with self._lock:
            return self._receipts[(tenant_id, event_id)]

    def receipts_of(self, event_id: str) -> int:
        """How many times an event with this id was stored, all tenants together."""
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
        denied = self.admit(method, headers, body, client_cert)
        if denied is not None:
            return denied
        try:
            document = parse(body)
        except CrashError:
            return crash(close=False)
        except NotJsonError as exc:
            return detail(422, f"Invalid JSON body: {exc}")
        try:
            request = check(document, self._versions)
        except InvalidError as exc:
            return detail(422, f"{REFUSED}: {exc}")
        timestamp, nonce = headers["x-telemetry-timestamp"], headers["x-telemetry-nonce"]
        return (
            _agreement(request, int(timestamp), nonce)
            or self.authorize(request.operator_id, request.tenant_id)
            or self._count_burst(request.operator_id)
            or self._accept(request, document, has_nul(document, body))
        )

    def admit(
        self, method: str, headers: Mapping[str, str], body: bytes, client_cert: str | None
    ) -> Reply | None:
        """Steps 1-6: the method, the media type, the size, the headers, the signature and
        the replay store. None means the request got past them, and its (timestamp, nonce)
        is now used up."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        if "application/json" not in headers.get("content-type", "").lower():
            return detail(415, "Content-Type must be application/json")
        if not body:
            return detail(422, "Request body is empty")
        if len(body) > MAX_BODY_BYTES:
            return detail(413, "Telemetry payload exceeds 1MiB limit")
        return self.authenticate(headers, body, client_cert)

    def authenticate(
        self, headers: Mapping[str, str], body: bytes, client_cert: str | None
    ) -> Reply | None:
        """Steps 5-6, shared by every signed endpoint of the gateway (telemetry and the
        cognitive loop): the identity, the X-Telemetry-* headers, the signature and ONE
        replay store. None means the (timestamp, nonce) is now used up."""
        denied = self.identify(headers, client_cert) or self._check_signed_headers(headers)
        if denied is not None:
            return denied
        identity = self._identities[headers["x-service-identity"]]
        timestamp, nonce = headers["x-telemetry-timestamp"], headers["x-telemetry-nonce"]
        if not _signature_ok(identity, headers["x-telemetry-signature"], timestamp, nonce, body):
            return detail(401, "Invalid X-Telemetry-Signature")
        key = (int(timestamp), nonce)
        now = self._now()
        with self._lock:
            while self._seen_order and self._seen_order[0][0] <= now - REPLAY_RETENTION_SECONDS:
                self._seen.discard(self._seen_order.popleft()[1])
            if key in self._seen:
                return detail(409, "Replay detected: nonce already used")
            self._seen.add(key)
            self._seen_order.append((now, key))
        return None

    def identify(self, headers: Mapping[str, str], client_cert: str | None) -> Reply | None:
        """The 401 for a request whose identity headers are missing or wrong, else None:
        X-Service-Identity known, X-Client-Cert-Sha256 64 lowercase hex and, when the
        connection presented a certificate, its fingerprint."""
        missing = [name for name in IDENTITY_HEADERS if not headers.get(name.lower())]
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
        return None

    def identity_key(self, headers: Mapping[str, str]) -> Ed25519PublicKey:
        """The public key of the identity a request names (`identify` has passed)."""
        return self._identities[headers["x-service-identity"]]

    def _check_signed_headers(self, headers: Mapping[str, str]) -> Reply | None:
        missing = [name for name in SIGNED_HEADERS if not headers.get(name.lower())]
        if missing:
            return detail(401, f"Missing headers: {', '.join(missing)}")
        timestamp = headers["x-telemetry-timestamp"]
        if not _DECIMAL.fullmatch(timestamp):
            return detail(401, "X-Telemetry-Timestamp must be unix seconds, a decimal integer")
        if abs(self._now() - int(timestamp)) > TIMESTAMP_WINDOW_SECONDS:
            return detail(401, "X-Telemetry-Timestamp outside the allowed window")
        if not NONCE_LENGTH[0] <= len(headers["x-telemetry-nonce"]) <= NONCE_LENGTH[1]:
            return detail(401, "X-Telemetry-Nonce must be 8-128 characters")
        return None

    def authorize(self, operator_id: str, tenant_id: str) -> Reply | None:
        """The 403 for an operator not mapped to this tenant (the exact string), else None."""
        tenants = self._tenants.get(operator_id)
        if tenants is None:
            return detail(403, "Operator is not mapped to any tenant")
        if tenant_id not in tenants:
            return detail(403, "Operator tenant mapping violation")
        return None

    def _count_burst(self, operator_id: str) -> Reply | None:
        if not self._minutes.admit(operator_id):
            return detail(429, "Operator burst anomaly detected")
        return None

    def _accept(self, request: Telemetry, document: dict[str, Any], nul: bool) -> Reply:
        if not nul:  # PostgreSQL cannot store a NUL: the gateway logs it and answers 202
            key = (request.tenant_id, request.payload.event_id)
            stored = msgspec.json.encode(stored_form(document))
            with self._lock:
                self._stored[key] = stored  # last write wins
                self._receipts[key] += 1
        return json_reply(202, {"accepted": True, "request_id": str(uuid.uuid4())})


class MinuteLimit:
    """At most `limit` requests per key (an operator) in each calendar minute of `now`
    (UTC epoch minutes); a refused request is not counted. Thread-safe."""

    def __init__(self, limit: int, now: Callable[[], float]) -> None:
        self._limit = limit
        self._now = now
        self._lock = threading.Lock()
        self._minutes: dict[str, tuple[int, int]] = {}  # key -> (minute, requests)

    def admit(self, key: str) -> bool:
        """Whether one more request of `key` fits in this minute (it is then counted)."""
        minute = int(self._now() // 60)
        with self._lock:
            counted_minute, count = self._minutes.get(key, (minute, 0))
            if counted_minute == minute and count >= self._limit:
                return False
            self._minutes[key] = (minute, count + 1 if counted_minute == minute else 1)
        return True

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._minutes.clear()


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


def _agreement(request: Telemetry, timestamp: int, nonce: str) -> Reply | None:
    """The body must say what the signed headers say, and sign its own metadata."""
    if request.timestamp != timestamp or request.nonce != nonce:
        return detail(401, "Body timestamp and nonce must equal the X-Telemetry-* headers")
    signed = request.signed_metadata
    top = (request.tenant_id, request.operator_id, request.campaign_id)
    if (signed.tenant_id, signed.operator_id, signed.campaign_id) != top:
        return detail(401, "signed_metadata must equal tenant_id, operator_id, campaign_id")
    return None
