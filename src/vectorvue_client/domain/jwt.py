"""Reading a JWT's claims without verifying it: the client only needs to know when the
token it was given expires.

The client cannot verify a VectorVue JWT (HS256 under a key only the server has), and does
not need to: it never believes a claim for an authorization decision, it only reads `exp`
to log in again before the server would refuse the token. The server verifies every use.

Strict about the shape (RFC 7515 compact serialization: three unpadded base64url segments,
a JSON object header and a JSON object payload), so that something that is not a JWT is
never mistaken for one. Error messages are our own words and counts: they never quote the
token, a segment of it or what a segment decodes to (a JWT is a bearer credential, and a
malformed one may be a credential of another kind).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import msgspec

# Far above any real bearer token (VectorVue's are ~250 characters) and above what HTTP
# servers accept in a header anyway; it bounds the work done on something that is not one.
MAX_TOKEN_CHARS: Final = 16 * 1024

_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+")


def jwt_claims(token: str) -> Mapping[str, Any]:
    """The claims of `token`, UNVERIFIED (read-only). ValueError, quoting nothing of the
    token, when it is not shaped as a JWT."""
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"the token is not a JWT: it is longer than {MAX_TOKEN_CHARS} characters")
    segments = token.split(".")
    if len(segments) != 3:
        raise ValueError(f"the token is not a JWT: it has {len(segments)} segment(s), 3 expected")
    header, payload, signature = segments
    _check_segment(signature, "signature")
    if not isinstance(_json(header, "header"), dict):
        raise ValueError("the token is not a JWT: its header is not a JSON object")
    claims = _json(payload, "payload")
    if not isinstance(claims, dict):
        raise ValueError("the token is not a JWT: its payload is not a JSON object")
    return MappingProxyType(claims)


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of `token` (Unix seconds, UNVERIFIED) as a float; None when the token
    has none, or one that is not a finite number. ValueError as jwt_claims when the token
    is not shaped as a JWT."""
    return json_seconds(jwt_claims(token).get("exp"))


def json_seconds(value: object) -> float | None:
    """A decoded JSON number as finite float seconds; None for anything else (a string,
    a boolean, NaN, an integer too large for a float)."""
    # bool is an int in Python, and `true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


def _check_segment(segment: str, name: str) -> None:
    # The alphabet check comes first: the base64 module silently skips characters that are
    # not base64, so "a.b" with stray bytes would otherwise decode.
    if not _SEGMENT.fullmatch(segment):
        raise ValueError(f"the token is not a JWT: its {name} is empty or not unpadded base64url")
    if len(segment) % 4 == 1:
        # No whole number of bytes has a base64 encoding of this length.
        raise ValueError(f"the token is not a JWT: its {name} has an impossible base64 length")


def _json(segment: str, name: str) -> Any:
    _check_segment(segment, name)
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"the token is not a JWT: its {name} is not base64url") from None
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        # Not quoted: msgspec's message may point into the decoded text.
        raise ValueError(f"the token is not a JWT: its {name} is not JSON") from None
