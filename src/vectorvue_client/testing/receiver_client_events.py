"""POST /api/v1/client/events of VectorVue's app (commit 62be902) as request -> reply logic,
for LocalVectorVue; written from design/vectorvue-contract.md ("POST /api/v1/client/events"),
never from the client's models. In order:

 1. 405  not a POST
 2. 422  the body schema, FastAPI's list-form {"detail": [{"type", "loc", "msg"}]}, even
         without a token: `event_type` 3-64 and `object_type` 3-32 characters (strings),
         optional `object_id` <= 128, `severity` <= 32, `timestamp` a date-time (ISO-8601,
         no zone = UTC, or unix seconds), `metadata_json` an object; other keys ignored
 3. 401  the bearer token (receiver_auth.Accounts; the integration API's own limiter does
         not apply here)
 4. 422  {"detail": "Unsupported event_type: X"} / "Unsupported object_type: x": the
         trimmed upper-cased event_type / trimmed lower-cased object_type not allowed
 5. 429  {"detail": "Event rate limit exceeded"}: more than `limit` in a sliding 60 s per
         (tenant, lower-cased sub); a refused request is not counted
 6. 202  {"accepted": true}; stored with severity trimmed and lower-cased, the timestamp
         in UTC (now when absent) and `metadata_json` reduced (`reduced_metadata`).
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.testing.receiver_auth import Accounts
from vectorvue_client.testing.receiver_json import is_datetime
from vectorvue_client.testing.receiver_reply import (
    Reply,
    detail,
    fastapi_body,
    json_reply,
    unprocessable,
)
from vectorvue_client.testing.receiver_signing import canonical_tenant

CLIENT_EVENTS_PATH: Final = "/api/v1/client/events"
EVENT_TYPES: Final = frozenset(
    {
        "FINDING_VIEWED",
        "FINDING_ACKNOWLEDGED",
        "REMEDIATION_OPENED",
        "REMEDIATION_COMPLETED",
        "REPORT_DOWNLOADED",
        "DASHBOARD_VIEWED",
    }
)
OBJECT_TYPES: Final = frozenset({"finding", "report", "dashboard", "remediation"})
EVENTS_PER_WINDOW: Final = 120
WINDOW_SECONDS: Final = 60.0
# metadata_json keys dropped before storage (compared trimmed, in any case)
PRIVATE_KEYS: Final = frozenset(
    {"ip", "ip_address", "ipaddr", "user_agent", "ua", "keystrokes", "keypress", "keyboard"}
)
METADATA_MAX_KEYS: Final = 24
METADATA_KEY_CUT: Final = 80
METADATA_VALUE_CUT: Final = 512


class ClientEvent(msgspec.Struct):
    """The body; open: unknown keys are ignored."""

    event_type: Annotated[str, Meta(min_length=3, max_length=64)]
    object_type: Annotated[str, Meta(min_length=3, max_length=32)]
    object_id: Annotated[str, Meta(max_length=128)] | None = None
    severity: Annotated[str, Meta(max_length=32)] | None = None
    timestamp: str | int | float | None = None
    metadata_json: dict[str, Any] | None = None


class ClientEvents:
    """The route's state (stored events, rate windows) and rules; thread-safe."""

    def __init__(
        self, *, accounts: Accounts, now: Callable[[], float], limit: int = EVENTS_PER_WINDOW
    ) -> None:
        self._accounts = accounts
        self._now = now
        self._limit = limit
        self._lock = threading.Lock()
        self._windows: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._stored: list[dict[str, Any]] = []

    def stored(self) -> list[dict[str, Any]]:
        """The stored events, oldest first (copies)."""
        with self._lock:
            return [
                {**event, "metadata_json": dict(event["metadata_json"])} for event in self._stored
            ]

    def clear(self) -> None:
        """Forget the stored events and the rate windows."""
        with self._lock:
            self._stored.clear()
            self._windows.clear()

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        client_cert: str | None,
    ) -> Reply:
        """The reply to one request to CLIENT_EVENTS_PATH."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        event = _checked(body)
        if isinstance(event, Reply):
            return event
        caller = self._accounts.authenticate(headers)
        if isinstance(caller, Reply):
            return caller
        event_type = event.event_type.strip().upper()
        if event_type not in EVENT_TYPES:
            return detail(422, f"Unsupported event_type: {event_type}")
        object_type = event.object_type.strip().lower()
        if object_type not in OBJECT_TYPES:
            return detail(422, f"Unsupported object_type: {object_type}")
        tenant = canonical_tenant(caller.tenant_id)
        now = self._now()
        stored = {
            "tenant_id": tenant,
            "user": caller.subject,
            "event_type": event_type,
            "object_type": object_type,
            "object_id": event.object_id,
            "severity": event.severity.strip().lower() if event.severity is not None else None,
            "timestamp": _utc(event.timestamp, now),
            "metadata_json": reduced_metadata(event.metadata_json or {}),
        }
        with self._lock:
            window = self._windows[(tenant, caller.subject.lower())]
            while window and window[0] <= now - WINDOW_SECONDS:
                window.popleft()
            if len(window) >= self._limit:
                return detail(429, "Event rate limit exceeded")
            window.append(now)
            self._stored.append(stored)
        return json_reply(202, {"accepted": True})


def reduced_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """metadata_json as the server stores it: keys trimmed, empty and private keys dropped,
    the first METADATA_MAX_KEYS kept, keys cut to METADATA_KEY_CUT characters, values that
    are not scalars turned into strings cut to METADATA_VALUE_CUT characters."""
    reduced: dict[str, Any] = {}
    for key, value in metadata.items():
        name = key.strip()
        if not name or name.lower() in PRIVATE_KEYS:
            continue
        if len(reduced) >= METADATA_MAX_KEYS:
            break
        scalar = value is None or isinstance(value, str | int | float | bool)
        reduced[name[:METADATA_KEY_CUT]] = value if scalar else str(value)[:METADATA_VALUE_CUT]
    return reduced


def _checked(body: bytes) -> ClientEvent | Reply:
    """The body as a ClientEvent, or FastAPI's 422 with a list-form detail."""
    event = fastapi_body(body, ClientEvent)
    stamp = event.timestamp if isinstance(event, ClientEvent) else None
    if stamp is not None and not is_datetime(stamp):
        return unprocessable("datetime_parsing", ["timestamp"], "Input should be a valid datetime")
    return event


def _utc(value: str | float | None, now: float) -> str:
    """The event's time in UTC, ISO-8601: `now` when absent; a time without a zone is UTC."""
    if value is None:
        moment = datetime.fromtimestamp(now, UTC)
    elif isinstance(value, str) and not value.strip().isdigit():
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(float(value), UTC)
    return moment.isoformat()
