"""What a secret looks like, and how it is masked before any text leaves the client.

Two defences, both needed:

- By value. Every secret the client knows (API key, login password and JWT, HMAC secret,
  Ed25519 key material, Vault token, role_id and secret_id) is wrapped in `Secret` the
  moment it is read, and a `Secret` registers its value, process-wide, as it is made
  (`remember` registers derived forms, such as a key's other encodings). `mask_known`
  masks every registered value wherever it appears: no key word is needed before it, so a
  server that echoes a secret bare is masked too (ADR 0021).
- By shape. Text we did not write (server error bodies, exception messages of libraries)
  is also scrubbed by `scrub` of shapes that are secret wherever they appear (bearer
  tokens, URL userinfo, key=value pairs with secret-sounding keys): that covers secrets
  the client never held.
"""

from __future__ import annotations

import hmac
import itertools
import re
from collections.abc import Iterable
from typing import Any, Final

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

# -- Known secrets, by value -------------------------------------------------------------
# Process-wide, not per client: text is written after a client is closed (the CLI's stderr,
# an exception a caller logs later), and several clients in one process masking each
# other's secrets is harmless. Bounded, so that a long-lived process that reads a rotated
# credential many times does not grow without end: the KNOWN_LIMIT values registered (or
# read again) most recently are kept.
KNOWN_LIMIT: Final = 256
# value -> tick of its latest registration. Only single dict operations touch it (each is
# atomic under the GIL): the domain imports no lock, and none is needed for what a race
# could cost (see _view).
_known: dict[str, int] = {}
_ticks = itertools.count(1)
# Moves whenever the set of known values changes (a value added or evicted): a view built
# at an older stamp is rebuilt before use.
_stamp: list[int] = [0]
# (stamp, values longest first, the same as a set, their UTF-8 bytes): what every scrub
# reads.
type _View = tuple[int, tuple[str, ...], frozenset[str], tuple[bytes, ...]]
_cached_view: _View = (0, (), frozenset(), ())


def remember(*values: str) -> None:
    """Register `values` as secrets, to be masked by value from every text the client
    writes or raises: for forms of a secret that are not themselves a `Secret` (a key's
    base64 or hex encodings). Values shorter than 4 characters are ignored (see scrub)."""
    for value in values:
        _remember(value)


def _remember(value: str) -> None:
    if len(value) < _MIN_VERBATIM:
        return
    new = value not in _known
    _known[value] = next(_ticks)  # a value read again is recent again: it is kept longest
    if not new:
        return
    while len(_known) > KNOWN_LIMIT:
        # The least recently registered goes. list() copies in one C call, so a
        # registration in another thread cannot change the dict under the iteration.
        oldest = min(list(_known.items()), key=lambda entry: entry[1])[0]
        _known.pop(oldest, None)
    _stamp[0] = next(_ticks)


def forget_known_secrets() -> None:
    """Forget every registered value. For tests, which must not mask text with values an
    earlier test registered; a running client has no reason to call it."""
    _known.clear()
    _stamp[0] = next(_ticks)


def known_secrets() -> tuple[str, ...]:
    """The registered values, longest first (for tests and diagnostics: never show them)."""
    return _view()[1]


def _view() -> _View:
    global _cached_view  # one cache, replaced whole (a tuple), never mutated
    view = _cached_view
    stamp = _stamp[0]
    if view[0] != stamp:
        # The stamp is read before the values: a value registered meanwhile moves the stamp
        # after this read, so a view missing it is rebuilt at the next call. Longest first:
        # masking a secret's own substring first would leave the rest of it in the text.
        values = tuple(sorted(_known, key=len, reverse=True))  # copied first, in C
        encoded = tuple(v.encode("utf-8", "surrogatepass") for v in values)
        view = (stamp, values, frozenset(values), encoded)
        _cached_view = view
    return view


def _values(secrets: Iterable[str | Secret]) -> tuple[str, ...]:
    """The registered values with `secrets` (given for one call) among them, longest first."""
    _, known, known_set, _ = _view()
    extra = _extra(known_set, secrets)
    if not extra:
        return known
    return tuple(sorted({*known, *extra}, key=len, reverse=True))


def _extra(known: frozenset[str], secrets: Iterable[str | Secret]) -> set[str] | None:
    """The values of `secrets` long enough to mask that `known` lacks; None when there is
    none (nearly always: a Secret registered itself when it was made)."""
    extra = None
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if len(value) >= _MIN_VERBATIM and value not in known:
            extra = extra or set()
            extra.add(value)
    return extra


class Secret:
    """A credential. str, repr and format show a mask; `reveal()` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value
        _remember(value)  # from now on, every text the client writes is masked of it

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
    """`text` with every known secret (registered, or in `secrets`) and every secret-shaped
    substring masked: for text of others (server bodies, library messages)."""
    values = _values(secrets)
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


def mask_known(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """`text` with every known secret (registered, or in `secrets`) masked, and nothing
    else changed: for text whose words are ours (an exception, a log line, an audit
    record), where a shape could mask a setting's name ("api_key_env: ...")."""
    return _remove(text, _values(secrets))


def mask_known_json(value: Any, secrets: Iterable[str | Secret] = ()) -> Any:
    """A decoded JSON value (dicts, lists, strings, numbers...) with every known secret
    masked in every string of it, object keys too, at any depth; new containers, the
    given value is left as it is. Two keys that mask alike keep the later value."""
    values = _values(secrets)
    if isinstance(value, str):
        return _remove(value, values)
    if not isinstance(value, list | dict):
        return value
    # Iterative: a decoded document can nest deeper than Python's recursion limit.
    root: list[Any] | dict[str, Any] = [] if isinstance(value, list) else {}
    pending: list[tuple[Any, Any]] = [(value, root)]

    def copy(item: Any) -> Any:
        if isinstance(item, str):
            return _remove(item, values)
        if isinstance(item, list | dict):
            target: list[Any] | dict[str, Any] = [] if isinstance(item, list) else {}
            pending.append((item, target))  # filled later, already in its place
            return target
        return item

    while pending:
        source, target = pending.pop()
        if isinstance(source, list):
            target.extend(copy(item) for item in source)
        else:
            for key, item in source.items():
                target[_remove(key, values) if isinstance(key, str) else key] = copy(item)
    return root


def json_may_hold_secret(raw: bytes, secrets: Iterable[str | Secret] = ()) -> bool:
    """False only when the JSON document `raw` surely holds no known secret in any of its
    strings: none occurs in its bytes, and it has no backslash (an escape such as \\u0068
    can spell a secret that a byte search misses). True means: walk it (mask_known_json)."""
    if b"\\" in raw:
        return True
    _, _, known, encoded = _view()
    extra = _extra(known, secrets)
    if extra:
        encoded = (*encoded, *(v.encode("utf-8", "surrogatepass") for v in extra))
    for value in encoded:  # noqa: SIM110 - any(<generator>) costs more, on every success
        if value in raw:
            return True
    return False


def _remove(text: str, values: tuple[str, ...]) -> str:
    # Repeat until no known value is left: masking one occurrence can join two fragments
    # into a new one. Each pass shortens the text (values are longer than the mask), so
    # this ends. Values come longest first: a secret that contains another is masked whole.
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
