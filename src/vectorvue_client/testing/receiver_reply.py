"""What LocalVectorVue answers, as a value, and the body limits both profiles share."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgspec

# Both profiles cap a request body at 1 MiB (413); the integration API also caps a gzip
# body's decompressed size at the same figure.
MAX_BODY_BYTES: Final = 1_048_576
JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}


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


def media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type without parameters, lower-cased ("" when absent)."""
    return headers.get("content-type", "").split(";")[0].strip().lower()


def decode_content(encoding: str, raw: bytes, cap: int, broken_status: int = 400) -> bytes | Reply:
    """`raw` decoded by its Content-Encoding ("", "identity" or "gzip"): the bytes, or 413
    once the output passes `cap` (a gzip bomb is never inflated further), or
    `broken_status` for a broken stream. Concatenated gzip members are decoded in turn, as
    gzip(1) does."""
    if encoding in {"", "identity"}:
        return raw
    out = bytearray()
    data = raw
    while data:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip framing only
        try:
            out += inflater.decompress(data, cap + 1 - len(out))
        except zlib.error:
            return detail(broken_status, "Invalid gzip body")
        if len(out) > cap:
            return detail(413, "Request entity too large")
        if not inflater.eof:
            return detail(broken_status, "Invalid gzip body")
        data = inflater.unused_data
    return bytes(out)
