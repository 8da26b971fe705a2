"""The integration API's envelopes and per-item validation, for LocalVectorVue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import msgspec

from vectorvue_client.testing.receiver_reply import Reply, json_reply

_DATETIME_FIELDS: Final = ("occurred_at", "first_seen", "last_seen")


def envelope(
    status: str, data: Any, errors: list[dict[str, str]], request_id: str | None = None
) -> dict[str, Any]:
    """The integration API's response envelope (responses are never signed here)."""
    request_id = request_id or str(uuid.uuid4())
    return {
        "request_id": request_id,
        "status": status,
        "data": data,
        "errors": errors,
        "signature": None,
    }


def failed(status: int, code: str, message: str) -> Reply:
    """An error answered in the envelope (409 and 422 only, as the contract says)."""
    return json_reply(status, envelope("failed", None, [{"code": code, "message": message}]))


def decode_item(raw: bytes | msgspec.Raw, struct: type[msgspec.Struct]) -> msgspec.Struct:
    """One item, validated as the server does: the Struct's rules, and datetimes that
    parse (the Structs only bound their length)."""
    item = msgspec.json.decode(raw, type=struct)
    for name in _DATETIME_FIELDS:
        value = getattr(item, name, None)
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise msgspec.ValidationError(f"Invalid datetime - at `$.{name}`") from None
    return item


def item_result(index: int, item_id: str | None, error: Exception | None) -> dict[str, Any]:
    """One entry of a batch's `data.results`."""
    return {
        "index": index,
        "item_id": item_id,
        "status": "accepted" if error is None else "failed",
        "error_code": None if error is None else "validation_error",
        "error_message": None if error is None else str(error),
    }


def loose_id(raw: msgspec.Raw, id_field: str) -> str | None:
    """The id of an item that failed validation, when it has a string one."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    item_id = value.get(id_field) if isinstance(value, dict) else None
    return item_id if isinstance(item_id, str) else None
