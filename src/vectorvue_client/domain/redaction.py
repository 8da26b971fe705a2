"""What a secret looks like, and how it is masked before any text leaves the client.

Two defences, both needed: values we know are secret (the API key, the signing key) are
wrapped in `Secret` the moment they are read and scrubbed verbatim from any outgoing text;
text we did not write (server error bodies, exception messages of libraries) is also
scrubbed of shapes that are secret wherever they appear (bearer tokens, URL userinfo,
key=value pairs with secret-sounding keys).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable

MASK = "***"

# Header names whose values are credentials or proofs of them.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-signature",
        "x-telemetry-signature",
    }
)

_SHAPES = (
    # An authorization scheme followed by a credential-looking token: 8+ characters with a
    # digit or a token symbol, so that prose such as "Missing bearer token" stays readable.
    (
        re.compile(r"(?i)\b(bearer|basic)\s+(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}"),
        r"\1 " + MASK,
    ),
    # Userinfo in a URL, with or without a password (a bare "token@" is a credential too).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), r"\1" + MASK + "@"),
    # A secret-sounding key, then = or :, then a quoted value (spaces and all) or a bare one.
    (
        re.compile(
            r"(?i)(\b[\w-]*(?:api[_-]?key|secret|password|passwd|token|authorization)[\w-]*"
            r"[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s\"',;&}]+)"
        ),
        r"\1" + MASK,
    ),
)

# What each shape cannot match without: for ASCII text, (?i) is plain ASCII case folding,
# so a shape none of whose words is in the lower-cased text is skipped, which spares three
# regex scans of every text that holds no secret (most of them). Other text takes every
# scan: Unicode case folding has its surprises (U+017F, the long s, matches "s").
_WORDS = (
    ("bearer", "basic"),
    ("://",),
    ("apikey", "api_key", "api-key", "secret", "password", "passwd", "token", "authorization"),
)

# Secrets shorter than this are not scrubbed verbatim: replacing every "a" in a message
# because a test key was "a" would mangle text and protect nothing.
_MIN_VERBATIM = 4


class Secret:
    """A credential. str, repr and format show a mask; `reveal()` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call it only where the value goes on the wire or into a MAC."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        # Hashing must not depend on the value: a hash is a (weak) oracle.
        return hash(Secret)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled: it would leave the process unmasked")


def scrub(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """`text` with every known secret and every secret-shaped substring masked."""
    values = [s.reveal() if isinstance(s, Secret) else s for s in secrets]
    values = [v for v in values if len(v) >= _MIN_VERBATIM]
    text = _remove(text, values)
    ascii_text = text.isascii()
    lowered = text.lower() if ascii_text else ""
    for (pattern, replacement), words in zip(_SHAPES, _WORDS, strict=True):
        if ascii_text:
            for word in words:
                if word in lowered:
                    break
            else:
                continue  # none of its words: this shape cannot match
        text, count = pattern.subn(replacement, text)
        if count and ascii_text:
            lowered = text.lower()  # the mask is ASCII: the text still is
    # Once more: a mask next to a secret's remains can spell the secret again.
    return _remove(text, values)


def _remove(text: str, values: list[str]) -> str:
    # Repeat until no known value is left: masking one occurrence can join two fragments
    # into a new one. Each pass shortens the text (values are longer than the mask), so
    # this ends.
    changed = True
    while changed:
        changed = False
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
                changed = True
    return text


def mask_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Headers fit to show: sensitive values replaced by the mask, names kept."""
    return tuple(
        (name, MASK if name.lower() in SENSITIVE_HEADERS else value) for name, value in headers
    )


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Values of the credential headers, whole and as their last word (the bare token of
    "Bearer <token>"): what to scrub from any text about that request."""
    out: list[str] = []
    for name, value in headers:
        if name.lower() in SENSITIVE_HEADERS:
            out.append(value)
            out.extend(value.split()[-1:])
    return out


def failure_detail(detail: str, secrets: Iterable[str | Secret]) -> str:
    """A transport failure's detail fit to keep: scrubbed, then cut to 300 characters
    (in that order: a cut first could leave half a secret that the scrub cannot find)."""
    return excerpt(scrub(detail, secrets), 300)


def excerpt(text: str, limit: int = 200) -> str:
    """At most `limit` characters of `text` (server bodies can be huge), marked if cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"
