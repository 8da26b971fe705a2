"""What LocalVectorVue answers, as a value: the reply, the `{"detail"}` errors both profiles
use, the integration API's envelope, the bundled nginx's 413 and the servers' plain 500."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from vectorvue_client.testing.receiver_json import CrashError, NotJsonError, parse

# The bundled nginx caps every request body at 1 MiB (its default client_max_body_size):
# one byte more is its HTML 413, before the app sees anything.
MAX_BODY_BYTES: Final = 1_048_576
_AT: Final = re.compile(r" - at `\$(.*)`$")
_FIELD: Final = re.compile(r"^Object (missing required|contains unknown) field `([^`]+)`")
JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}
NGINX_413: Final = (
    b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
    b"<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server answers; `close` drops the connection afterwards, unannounced."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    close: bool = False


def json_reply(status: int, document: object, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer."""
    return Reply(status, msgspec.json.encode(document), {**JSON_HEADERS, **(headers or {})})


def detail(status: int, text: str, headers: Mapping[str, str] | None = None) -> Reply:
    """The `{"detail": "..."}` answer both profiles use for most errors."""
    return json_reply(status, {"detail": text}, headers)


def crash(*, close: bool) -> Reply:
    """An unhandled exception in the server: a plain-text 500 (the integration API's
    uvicorn then closes the connection)."""
    return Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"}, close)


def too_large() -> Reply:
    """The bundled nginx's answer to a body over MAX_BODY_BYTES."""
    return Reply(413, NGINX_413, {"Content-Type": "text/html"})


def envelope(
    status: str, data: Any, errors: list[dict[str, str]], request_id: str | None = None
) -> dict[str, Any]:
    """The integration API's response envelope, unsigned (signature null; success
    envelopes are signed by the caller when the server has a secret: receiver_signing)."""
    return {
        "request_id": request_id or str(uuid.uuid4()),
        "status": status,
        "data": data,
        "errors": errors,
        "signature": None,
    }


def failed(status: int, code: str, message: str, request_id: str | None = None) -> Reply:
    """An error answered in the envelope (409 and 422 only, as the contract says)."""
    errors = [{"code": code, "message": message}]
    return json_reply(status, envelope("failed", None, errors, request_id))


def unprocessable(kind: str, loc: list[str], message: str) -> Reply:
    """FastAPI's 422 for a request body its model refuses: a list-form detail, each entry
    {"type", "loc": ["body", ...], "msg"} (FastAPI lists every error; this, the first)."""
    return json_reply(422, {"detail": [{"type": kind, "loc": ["body", *loc], "msg": message}]})


def fastapi_body[T](body: bytes, model: type[T]) -> T | Reply:
    """The body converted to `model`, or the 422 FastAPI answers: a missing (empty) body,
    a body that is not JSON, or one the model refuses."""
    if not body:
        return unprocessable("missing", [], "Field required")
    try:
        document = parse(body)
    except (CrashError, NotJsonError) as exc:
        return unprocessable("json_invalid", [], f"JSON decode error: {exc}")
    try:
        return msgspec.convert(document, model)
    except msgspec.ValidationError as exc:
        return unprocessable_from(exc)


def unprocessable_from(error: msgspec.ValidationError) -> Reply:
    """FastAPI's 422 for the error msgspec raised converting a body: the loc from its path
    ("- at `$.bundle.x`"), plus the field a missing or unknown field error names."""
    message = str(error)
    at = _AT.search(message)
    loc = [part for part in (at.group(1) if at else "").split(".") if part]
    field = _FIELD.match(message)
    if field is None:
        return unprocessable("value_error", loc, message)
    kind = "missing" if field.group(1) == "missing required" else "extra_forbidden"
    return unprocessable(kind, [*loc, field.group(2)], message)
