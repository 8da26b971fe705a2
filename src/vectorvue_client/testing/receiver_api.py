"""The integration-api profile of VectorVue as request -> reply logic, for LocalVectorVue.

It follows the VectorVue contract notes (design/vectorvue-contract.md), quirks included: a
trailing slash gets a 307, a non-UUID X-Request-ID a plain-text 500 and a closed connection,
a processed batch is always a 202. Payloads are validated with the client's own Structs,
which carry the contract's limits and forbid unknown fields as the server does; they are
stricter than the server in that event_id, finding_id and a finding's status are required
(the server derives or defaults them) and finding severity aliases ("med") are refused.

An ingest request goes through, in order: bearer auth (401, see receiver_auth.py), the rate
limit (429), the Content-Encoding (415 unless absent, identity or gzip), the HMAC signature
over the bytes AS RECEIVED (401; for gzip, the compressed bytes), decompression capped at
1 MiB of output (413; 400 for a broken gzip stream), then idempotency and validation. The
1 MiB cap on the body as sent is applied before it is read (receiver_http.py).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from vectorvue_client.domain.models import IntegrationEvent, IntegrationFinding
from vectorvue_client.testing.receiver_auth import LOGIN_PATH, Accounts
from vectorvue_client.testing.receiver_items import (
    decode_item,
    envelope,
    failed,
    item_result,
    loose_id,
)
from vectorvue_client.testing.receiver_reply import (
    MAX_BODY_BYTES,
    Reply,
    decode_content,
    detail,
    json_reply,
    media_type,
)

__all__ = ["INGEST_PREFIX", "STATUS_PREFIX", "IntegrationApi", "Reply"]

INGEST_PREFIX: Final = "/api/v1/integrations/spectrastrike/"
STATUS_PREFIX: Final = INGEST_PREFIX + "ingest/status/"
SIGNATURE_WINDOW_SECONDS: Final = 300
# route -> (Struct, id field, is a batch)
_ROUTES: Final[Mapping[str, tuple[type[msgspec.Struct], str, bool]]] = {
    "events": (IntegrationEvent, "event_id", False),
    "events/batch": (IntegrationEvent, "event_id", True),
    "findings": (IntegrationFinding, "finding_id", False),
    "findings/batch": (IntegrationFinding, "finding_id", True),
}


class IntegrationApi:
    """The server's state (stored items, idempotency keys, ingest records) and its rules;
    who may call it and how often is `accounts`' business."""

    def __init__(
        self,
        *,
        accounts: Accounts,
        signing_secret: str | None,
        max_batch_items: int,
        now: Callable[[], float],
    ) -> None:
        self.accounts = accounts
        self._secret = signing_secret.encode() if signing_secret is not None else None
        self._max_batch_items = max_batch_items
        self._now = now
        # One lock around each ingest: idempotency check, upsert and record are one step.
        self._lock = threading.Lock()
        self._stored: dict[str, dict[str, dict[str, Any]]] = {"event_id": {}, "finding_id": {}}
        self._receipts: Counter[str] = Counter()
        self._idempotency: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._ingests: dict[str, dict[str, Any]] = {}

    def stored(self, id_field: str) -> dict[str, dict[str, Any]]:
        """A copy of the stored items keyed by `id_field` ("event_id" or "finding_id")."""
        with self._lock:
            return {key: dict(value) for key, value in self._stored[id_field].items()}

    def receipts(self, item_id: str) -> int:
        """How many times an item with this id was accepted (replays do not count)."""
        with self._lock:
            return self._receipts[item_id]

    def clear(self) -> None:
        """Forget every stored item, receipt, idempotency key and ingest record."""
        with self._lock:
            for items in self._stored.values():
                items.clear()
            self._receipts.clear()
            self._idempotency.clear()
            self._ingests.clear()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The reply to one request; `headers` have lower-case names."""
        path, _, query = target.partition("?")
        request_id = headers.get("x-request-id")
        if request_id is not None and not _is_uuid(request_id):
            return Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"}, True)
        if path.endswith("/") and path != "/" and _known(path.rstrip("/")):
            location = f"https://{headers.get('host', '127.0.0.1')}{path.rstrip('/')}"
            return Reply(307, b"", {"Location": location + (f"?{query}" if query else "")})
        if path == "/healthz":
            if method != "GET":
                return detail(405, "Method Not Allowed")
            health = {"status": "healthy", "version": "local", "timestamp": self._iso_now()}
            return json_reply(200, {**health, "checks": {}})
        if path == LOGIN_PATH:
            return self.accounts.login(method, body)
        route = path.removeprefix(INGEST_PREFIX)
        if path.startswith(INGEST_PREFIX) and route in _ROUTES:
            if method != "POST":
                return detail(405, "Method Not Allowed")
            return self._admit(headers) or self._ingest(path, route, headers, body)
        if path.startswith(STATUS_PREFIX) and "/" not in path.removeprefix(STATUS_PREFIX):
            if method != "GET":
                return detail(405, "Method Not Allowed")
            return self._admit(headers) or self._status(path.removeprefix(STATUS_PREFIX))
        return detail(404, "Not Found")

    def _admit(self, headers: Mapping[str, str]) -> Reply | None:
        """Bearer auth, then the rate limit of all SpectraStrike routes together."""
        client = self.accounts.authenticate(headers)
        if isinstance(client, Reply):
            return client
        return self.accounts.admit(client)

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        if self._secret is None:
            return None
        timestamp, signature = headers.get("x-timestamp"), headers.get("x-signature")
        if not timestamp or not signature:
            return detail(401, "Missing signature headers")
        try:
            sent_at = int(timestamp)
        except ValueError:
            return detail(401, "Invalid signature timestamp")
        if abs(self._now() - sent_at) > SIGNATURE_WINDOW_SECONDS:
            return detail(401, "Signature timestamp outside the allowed window")
        expected = hmac.new(self._secret, timestamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            return detail(401, "Invalid signature")
        return None

    def _ingest(self, path: str, route: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding not in {"", "identity", "gzip"}:
            return detail(415, f"Unsupported Content-Encoding: {encoding}")
        denied = self._check_signature(headers, raw)  # over the bytes as they came
        if denied is not None:
            return denied
        body = decode_content(encoding, raw, MAX_BODY_BYTES)
        if isinstance(body, Reply):
            return body
        struct, id_field, is_batch = _ROUTES[route]
        key = headers.get("idempotency-key") if route == "events" else None
        # The decoded body: the same JSON gzipped twice need not give the same bytes.
        digest = hashlib.sha256(body).digest()
        with self._lock:
            if key is not None and key in self._idempotency:
                first_digest, first = self._idempotency[key]
                if first_digest != digest:
                    message = "Idempotency-Key reused with a different body"
                    return failed(409, "idempotency_conflict", message)
                replay = {**first, "status": "replayed"}
                return json_reply(202, replay, {"X-Idempotent-Replay": "true"})
            if media_type(headers) != "application/json":
                return failed(422, "validation_error", "Content-Type must be application/json")
            if is_batch:
                outcome = self._batch(struct, id_field, body)
            else:
                outcome = self._single(struct, id_field, body)
            if isinstance(outcome, Reply):
                return outcome
            status, data, results = outcome
            answer = envelope(status, data, [])
            if key is not None:
                self._idempotency[key] = (digest, answer)
            self._record_ingest(answer["request_id"], path, status, results)
            return json_reply(202, answer, {"X-Request-ID": answer["request_id"]})

    def _single(
        self, struct: type[msgspec.Struct], id_field: str, body: bytes
    ) -> Reply | tuple[str, dict[str, Any], list[dict[str, Any]]]:
        try:
            item = decode_item(body, struct)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            return failed(422, "validation_error", str(exc))
        item_id = self._store(id_field, item)
        result = item_result(0, item_id, None)
        return "accepted", {id_field: item_id, "status": "accepted"}, [result]

    def _batch(
        self, struct: type[msgspec.Struct], id_field: str, body: bytes
    ) -> Reply | tuple[str, dict[str, Any], list[dict[str, Any]]]:
        try:
            raw_items = msgspec.json.decode(body, type=list[msgspec.Raw])
        except msgspec.DecodeError as exc:
            return failed(422, "validation_error", str(exc))
        if len(raw_items) > self._max_batch_items:
            message = f"batch has {len(raw_items)} items; at most {self._max_batch_items} allowed"
            return failed(422, "batch_too_large", message)
        results = []
        for index, raw in enumerate(raw_items):
            try:
                item = decode_item(raw, struct)
            except msgspec.DecodeError as exc:
                results.append(item_result(index, loose_id(raw, id_field), exc))
                continue
            results.append(item_result(index, self._store(id_field, item), None))
        accepted = sum(1 for r in results if r["status"] == "accepted")
        total = len(results)
        status = "accepted" if accepted == total else "failed" if accepted == 0 else "partial"
        summary = {"total": total, "accepted": accepted, "failed": total - accepted}
        return status, {"summary": summary, "results": results}, results

    def _store(self, id_field: str, item: msgspec.Struct) -> str:
        decoded: dict[str, Any] = msgspec.to_builtins(item)
        item_id: str = decoded[id_field]
        self._stored[id_field].setdefault(item_id, decoded)  # first version wins
        self._receipts[item_id] += 1
        return item_id

    def _record_ingest(
        self, request_id: str, path: str, status: str, results: list[dict[str, Any]]
    ) -> None:
        failed = [r for r in results if r["status"] == "failed"]
        now = self._iso_now()
        self._ingests[request_id] = {
            "request_id": request_id,
            "status": status,
            "endpoint": path,
            "counts": {
                "total": len(results),
                "accepted": len(results) - len(failed),
                "failed": len(failed),
            },
            "failed_items": failed,
            "created_at": now,
            "updated_at": now,
        }

    def _status(self, request_id: str) -> Reply:
        with self._lock:
            record = self._ingests.get(request_id)
        if record is None:
            return detail(404, "Ingest request not found")
        return json_reply(200, envelope("accepted", record, [], request_id))

    def _iso_now(self) -> str:
        return datetime.fromtimestamp(self._now(), UTC).isoformat().replace("+00:00", "Z")


def _known(path: str) -> bool:
    route = path.removeprefix(INGEST_PREFIX)
    if path in {"/healthz", LOGIN_PATH}:
        return True
    return path.startswith(INGEST_PREFIX) and route in _ROUTES


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
