"""The integration-api profile of VectorVue as request -> reply logic, for LocalVectorVue.

It follows design/vectorvue-contract.md (VectorVue commit 62be902), quirks included: a
trailing slash gets a 307, a processed batch is always a 202, a 500 is plain text and
closes the connection. Items are checked by receiver_api_schema.py, the server's schema
written from the contract, never by the client's models.

An ingest request goes through, in order: bearer auth (401, see receiver_auth.py), the rate
limit (429), the HMAC signature over the body as received (401; a body that is not UTF-8 is
a 500 already here, as on the server), then the body: empty -> 422 "Request body is
required"; not UTF-8 (a gzip body included: nothing decompresses) or nested deeper than
receiver_json.CRASH_DEPTH -> 500; not JSON -> 422 "Invalid JSON payload"; then the
Idempotency-Key (POST /events only: 409 or the replayed envelope), then the schema (422;
a batch: not an array 422 `validation_failed`, more than `max_batch_items` 422
`batch_too_large`, else per item). (VectorVue itself counts the rate limit first, per peer
address, and checks the signature before the bearer token; the receiver keeps its own
order and a limit per client, which tests of several clients rely on.) Then what
PostgreSQL does:

- a NUL character in any string of an item: a single event or finding is a plain 500 and
  a closed connection; in a batch only that item fails, `ingest_failed`. (The contract says
  such an item "may take the rest of the batch down"; the receiver keeps the simple,
  documented part of it: the others are stored.)
- an X-Request-ID (trimmed; absent or empty: a new uuid4) that is not a UUID: a plain 500
  once the request would be recorded, i.e. only after the schema passed. Nothing is stored.

With a compliance signing secret every 202 envelope of the four POST routes (a batch whose
items all failed included) and the 200 of the status route carry an HMAC-SHA256 `signature`
(receiver_signing.py) for the token's tenant_id claim (the static token: the claim it
carries if it is itself a JWT, else ""); error envelopes carry null; an idempotent replay
returns the stored envelope, its original signed_at and signature included.

The 1 MiB cap on bodies is the bundled nginx's (receiver_http.py). GET .../ingest/status/
{id}: an id that is not a UUID is a 500, an unknown one a 404.
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

from vectorvue_client.testing.receiver_api_schema import InvalidError, check_event, check_finding
from vectorvue_client.testing.receiver_auth import LOGIN_PATH, Accounts
from vectorvue_client.testing.receiver_json import CrashError, NotJsonError, has_nul, parse
from vectorvue_client.testing.receiver_reply import (
    Reply,
    crash,
    detail,
    envelope,
    failed,
    json_reply,
)
from vectorvue_client.testing.receiver_signing import EnvelopeSigner, canonical_tenant, shown

__all__ = ["INGEST_PREFIX", "STATUS_PREFIX", "IntegrationApi", "Reply"]

INGEST_PREFIX: Final = "/api/v1/integrations/spectrastrike/"
STATUS_PREFIX: Final = INGEST_PREFIX + "ingest/status/"
# The status route signs its literal template path, braces included, not the id.
STATUS_TEMPLATE: Final = STATUS_PREFIX + "{request_id}"
SIGNATURE_WINDOW_SECONDS: Final = 300
# route -> (checker, id field, is a batch)
type _Check = Callable[[Any], dict[str, Any]]
# (envelope status, envelope data, [(per-item result, the item to store or None)])
type _Outcome = tuple[str, dict[str, Any], list[tuple[dict[str, Any], dict[str, Any] | None]]]
_ROUTES: Final[Mapping[str, tuple[_Check, str, bool]]] = {
    "events": (check_event, "event_id", False),
    "events/batch": (check_event, "event_id", True),
    "findings": (check_finding, "finding_id", False),
    "findings/batch": (check_finding, "finding_id", True),
}


class IntegrationApi:
    """The server's state (stored items, idempotency keys, ingest records) and its rules;
    who may call it and how often is `accounts`' business. `max_batch_items` is the
    server's VV_SPECTRASTRIKE_MAX_BATCH_SIZE, clamped to 1-1000 as the server does."""

    def __init__(
        self,
        *,
        accounts: Accounts,
        signing_secret: str | None,
        max_batch_items: int,
        now: Callable[[], float],
        compliance_signing_key: str | None = None,
    ) -> None:
        self.accounts = accounts
        self._signer = EnvelopeSigner(compliance_signing_key)
        self._secret = signing_secret.encode() if signing_secret is not None else None
        self._max_batch_items = min(max(max_batch_items, 1), 1000)
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
        request_id = headers.get("x-request-id", "").strip() or str(uuid.uuid4())
        if path.startswith(INGEST_PREFIX) and route in _ROUTES:
            if method != "POST":
                return detail(405, "Method Not Allowed")
            tenant = self._admit(headers)
            if isinstance(tenant, Reply):
                return tenant
            return self._ingest(path, route, headers, body, request_id, tenant)
        if path.startswith(STATUS_PREFIX) and "/" not in path.removeprefix(STATUS_PREFIX):
            if method != "GET":
                return detail(405, "Method Not Allowed")
            tenant = self._admit(headers)
            if isinstance(tenant, Reply):
                return tenant
            return self._status(path.removeprefix(STATUS_PREFIX), request_id, tenant)
        return detail(404, "Not Found")

    def _admit(self, headers: Mapping[str, str]) -> Reply | str:
        """Bearer auth, then the rate limit of all SpectraStrike routes together; the
        caller's tenant as the server signs it when admitted."""
        caller = self.accounts.authenticate(headers)
        if isinstance(caller, Reply):
            return caller
        return self.accounts.admit(caller.key) or canonical_tenant(caller.tenant_id)

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        if self._secret is None:
            return None
        try:
            body.decode("utf-8")  # the server signs the body decoded as text
        except UnicodeDecodeError:
            return crash(close=True)
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

    def _ingest(
        self,
        path: str,
        route: str,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str,
        tenant: str,
    ) -> Reply:
        denied = self._check_signature(headers, body)
        if denied is not None:
            return denied
        if not body:
            return failed(422, "validation_failed", "Request body is required", request_id)
        try:
            document = parse(body)
        except CrashError:
            return crash(close=True)
        except NotJsonError:
            return failed(422, "validation_failed", "Invalid JSON payload", request_id)
        check, id_field, is_batch = _ROUTES[route]
        key = headers.get("idempotency-key") if route == "events" else None
        digest = hashlib.sha256(body).digest()
        with self._lock:
            if key is not None and key in self._idempotency:
                first_digest, first = self._idempotency[key]
                if first_digest != digest:
                    message = "Idempotency-Key reused with a different body"
                    return failed(409, "idempotency_conflict", message, request_id)
                replay = {**first, "status": "replayed"}
                return json_reply(202, replay, {"X-Idempotent-Replay": "true"})
            maybe_nul = b"\\u0000" in body  # in JSON a NUL can only be written escaped
            try:
                outcome: _Outcome | None = (
                    self._batch(check, id_field, document, maybe_nul)
                    if is_batch
                    else self._single(check, id_field, document, maybe_nul)
                )
            except _RefusedError as exc:
                return failed(422, exc.code, str(exc), request_id)
            if outcome is None or not _is_uuid(request_id):
                return crash(close=True)  # PostgreSQL: a NUL, or a status row keyed by non-UUID
            status, data, items = outcome
            for _, item in items:
                if item is not None:
                    self._store(id_field, item)
            answer = envelope(status, data, [], request_id)
            answer["signature"] = self._signer.sign(path, tenant, data, self._now())
            if key is not None:  # a replay returns this envelope, signature and all
                self._idempotency[key] = (digest, answer)
            self._record_ingest(request_id, path, status, [result for result, _ in items])
            return json_reply(202, answer, {"X-Request-ID": request_id})

    def _single(
        self, check: _Check, id_field: str, document: Any, maybe_nul: bool
    ) -> _Outcome | None:
        """Accepted, or None for an item PostgreSQL cannot store (a NUL)."""
        try:
            item = check(document)
        except InvalidError as exc:
            raise _RefusedError("validation_failed", str(exc)) from None
        if maybe_nul and has_nul(item):
            return None
        result = _result(0, item[id_field], None, None)
        return "accepted", {id_field: item[id_field]}, [(result, item)]

    def _batch(self, check: _Check, id_field: str, document: Any, maybe_nul: bool) -> _Outcome:
        if not isinstance(document, list):
            raise _RefusedError("validation_failed", "Batch payload must be an array")
        if len(document) > self._max_batch_items:
            message = f"batch has {len(document)} items; at most {self._max_batch_items} allowed"
            raise _RefusedError("batch_too_large", message)
        items: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for index, raw in enumerate(document):
            sent_id = raw.get(id_field) if isinstance(raw, dict) else None
            try:
                item = check(raw)
            except InvalidError as exc:
                loose_id = sent_id if isinstance(sent_id, str) else None
                items.append((_result(index, loose_id, "validation_error", str(exc)), None))
                continue
            if maybe_nul and has_nul(item):
                message = "the item could not be stored (NUL character)"
                items.append((_result(index, item[id_field], "ingest_failed", message), None))
                continue
            items.append((_result(index, item[id_field], None, None), item))
        total = len(items)
        accepted = sum(1 for _, item in items if item is not None)
        status = "accepted" if accepted == total else "failed" if accepted == 0 else "partial"
        summary = {"total": total, "accepted": accepted, "failed": total - accepted}
        return status, {"summary": summary, "results": [r for r, _ in items]}, items

    def _store(self, id_field: str, item: dict[str, Any]) -> None:
        item_id: str = item[id_field]
        self._stored[id_field].setdefault(item_id, item)  # first version wins
        self._receipts[item_id] += 1

    def _record_ingest(
        self, request_id: str, path: str, status: str, results: list[dict[str, Any]]
    ) -> None:
        failures = [r for r in results if r["status"] == "failed"]
        now = datetime.fromtimestamp(self._now(), UTC)  # shown as ...Z, signed as str()
        self._ingests[str(uuid.UUID(request_id))] = {  # reusing an id overwrites its row
            "request_id": request_id,
            "status": status,
            "endpoint": path,
            "counts": {
                "total": len(results),
                "accepted": len(results) - len(failures),
                "failed": len(failures),
            },
            "failed_items": failures,
            "created_at": now,
            "updated_at": now,
        }

    def _status(self, status_id: str, request_id: str, tenant: str) -> Reply:
        if not _is_uuid(status_id):
            return crash(close=True)  # the database refuses it as a UUID
        with self._lock:
            record = self._ingests.get(str(uuid.UUID(status_id)))
        if record is None:
            return detail(404, "Ingest request not found")
        answer = envelope("accepted", shown(record), [], request_id)
        answer["signature"] = self._signer.sign(STATUS_TEMPLATE, tenant, record, self._now())
        return json_reply(200, answer)

    def _iso_now(self) -> str:
        return datetime.fromtimestamp(self._now(), UTC).isoformat().replace("+00:00", "Z")


class _RefusedError(Exception):
    """The whole request is refused with a 422 envelope carrying `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _result(
    index: int, item_id: str | None, code: str | None, message: str | None
) -> dict[str, Any]:
    """One entry of a batch's `data.results` (and of an ingest's `failed_items`)."""
    return {
        "index": index,
        "item_id": item_id,
        "status": "accepted" if code is None else "failed",
        "error_code": code,
        "error_message": message,
    }


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
