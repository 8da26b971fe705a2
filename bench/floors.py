"""The floors the client is measured against: the least its work could cost.

- raw: the same bodies, encoded beforehand, posted by urllib3 (nothing checked, nothing built).
- validating: what any client that checks the contract must do at least: `msgspec.convert`
  of the same input dicts into Structs whose Meta constraints are the integration API's
  event rules (written here from ../shared/design/vectorvue-contract.md, "Event" and
  "Limits the client mirrors exactly", never imported from the client, whose models are
  what is measured), one encoding, one scan for NUL, then the same POST.

Both post through one urllib3 pool built like the client's (the same TLS context settings,
pool size, no retries, no redirects) to the same receiver, with the same header set.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
import ssl
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

import msgspec
import urllib3
from msgspec import Meta
from receivers import TOKEN, Receiver

EVENTS: Final = "/api/v1/integrations/spectrastrike/events"
BATCH: Final = "/api/v1/integrations/spectrastrike/events/batch"

# The client's header set, but for the Idempotency-Key each POST adds (see post).
HEADERS: Final = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": "vectorvue-client-bench",
}

# -- the contract's event, as Meta constraints -------------------------------------------------
# ^[A-Za-z0-9._:-]+$ in the contract (pydantic: $ is the end of the text there, hence \Z).
_ID_PATTERN: Final = r"^[A-Za-z0-9._:-]+\Z"
Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=_ID_PATTERN)]
Name = Annotated[str, Meta(min_length=1, max_length=64, pattern=_ID_PATTERN)]
# The server trims and lower-cases severity; convert can only check a spelling, so the floor
# takes the canonical one (the bench's inputs use it). Folding case is the client's extra.
Severity = Literal["info", "low", "medium", "high", "critical"]


class Event(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An integration API event: unknown fields are a 422 there, so here too."""

    event_id: Id | msgspec.UnsetType = msgspec.UNSET  # optional: the server derives one
    source_system: Name
    event_type: Name
    occurred_at: datetime.datetime  # ISO-8601 datetime; encoded back as RFC 3339
    severity: Severity
    asset_ref: Annotated[str, Meta(min_length=1, max_length=128)]
    message: Annotated[str, Meta(min_length=1, max_length=1024)]
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


_EVENTS: Final = msgspec.json.Encoder()
# NUL in any string at any depth (keys too) is refused by PostgreSQL after sending: the
# encoder writes it as \u0000, so one scan of the body finds every one. (A text holding a
# literal backslash-u0000 would also match; the floor is a cost, not a verdict.)
_NUL: Final = b"\\u0000"


def validated_body(events: Sequence[dict[str, Any]]) -> bytes:
    """The batch body of `events`, checked by the contract's rules, or ValueError."""
    body = _EVENTS.encode(msgspec.convert(events, list[Event]))
    if _NUL in body:
        raise ValueError("a text holds NUL")
    return body


def validated_one(event: dict[str, Any]) -> bytes:
    """The body of one event, checked by the contract's rules, or ValueError."""
    body = _EVENTS.encode(msgspec.convert(event, Event))
    if _NUL in body:
        raise ValueError("a text holds NUL")
    return body


# -- the wire ----------------------------------------------------------------------------------
def pool(receiver: Receiver, size: int = 10) -> urllib3.HTTPSConnectionPool:
    """A pool like the client's urllib3 transport's: its TLS context settings (TLS 1.2 at
    least, no session tickets, no compression, the receiver's CA alone, host names checked),
    `size` connections, no retries and no redirects."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET
    context.load_verify_locations(cafile=receiver.ca_path)
    port = int(receiver.url.rsplit(":", 1)[1])
    return urllib3.HTTPSConnectionPool(
        "127.0.0.1",
        port,
        maxsize=size,
        block=False,
        ssl_context=context,
        cert_reqs=ssl.CERT_REQUIRED,
        retries=urllib3.Retry(0, redirect=False),
    )


def key(body: bytes) -> str:
    """An Idempotency-Key derived from the body, UUID-shaped as the client's: any client
    that resends safely needs one (and LocalVectorVue, the fallback receiver, refuses one
    key for two bodies)."""
    h = hashlib.sha256(body).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def post(connections: urllib3.HTTPSConnectionPool, path: str, body: bytes, key: str) -> None:
    """One POST, its answer read to the end (as the client reads it)."""
    headers = {**HEADERS, "Idempotency-Key": key}
    answer = connections.urlopen("POST", path, body=body, headers=headers, redirect=False)
    if answer.status >= 300:
        raise RuntimeError(f"the receiver answered {answer.status}")


# -- a bare durable queue ----------------------------------------------------------------------
class Store:
    """The least a durable outbox could be: one SQLite table in WAL mode, synchronous FULL
    (the client's default), a unique content key per item, one transaction per put."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(
            "CREATE TABLE items (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
            " body BLOB NOT NULL, state INTEGER NOT NULL DEFAULT 0)"
        )

    def put(self, bodies: Sequence[bytes]) -> None:
        """Store `bodies` durably, each under a key derived from its bytes."""
        rows = [(key(body), body) for body in bodies]
        self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany("INSERT OR IGNORE INTO items (key, body) VALUES (?, ?)", rows)
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def validated_items(events: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each event checked by the contract's rules and encoded on its own (as an outbox
    stores them), or ValueError."""
    bodies = [_EVENTS.encode(e) for e in msgspec.convert(events, list[Event])]
    if any(_NUL in body for body in bodies):
        raise ValueError("a text holds NUL")
    return bodies
