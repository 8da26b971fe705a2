"""Reading a request body the way VectorVue's two servers do, for LocalVectorVue: bytes that
are not UTF-8 and documents nested too deep crash them (a plain 500), and a NUL character
passes their validation but not PostgreSQL. Written from design/vectorvue-contract.md, not
from the client's code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

# Both servers' recursive validators crash "beyond about 500 levels" (150 were measured as
# accepted). The receiver draws the line here: a body nested deeper than this many levels
# (the body itself is level 1) gets the plain 500. The client caps attributes and metadata
# at 256 levels, far from both sides of it.
CRASH_DEPTH: Final = 500


class CrashError(Exception):
    """What the server answers with a plain-text 500 (and, on the integration API, a closed
    connection): the reason is for the test reading it, the server says nothing."""


class NotJsonError(ValueError):
    """The body is not a JSON document (the servers' 422)."""


def parse(body: bytes) -> Any:
    """The body as Python values: CrashError for bytes that are not UTF-8 (gzip included: nothing
    on the server decompresses) or a document nested deeper than CRASH_DEPTH; NotJsonError for
    anything else that is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CrashError("the body is not UTF-8") from None
    try:
        # The servers' own parser (Python's json): big integers stay exact, 1e400 is inf.
        document = json.loads(text)
    except RecursionError:
        raise CrashError(f"the body is nested deeper than {CRASH_DEPTH} levels") from None
    except ValueError as exc:
        raise NotJsonError(str(exc)) from None
    # Cheap bound first: a document cannot be deeper than its count of brackets.
    if body.count(b"[") + body.count(b"{") > CRASH_DEPTH and depth(document) > CRASH_DEPTH:
        raise CrashError(f"the body is nested deeper than {CRASH_DEPTH} levels")
    return document


def depth(value: Any) -> int:
    """Levels of nesting of objects and arrays (a scalar is 0, `{}` and `[]` are 1)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def has_nul(value: Any, raw: bytes | None = None) -> bool:
    """Whether U+0000 occurs in any string of `value`, object keys included, at any depth.
    `raw`, the JSON text it came from, lets the common case skip the walk: in JSON a NUL
    can only be written as the escape \\u0000."""
    if raw is not None and b"\\u0000" not in raw:
        return False
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def is_datetime(value: str | float) -> bool:
    """Whether the servers' datetime parser takes `value`: an ISO-8601 string (with or
    without an offset) or a unix time, as a number or a string of digits."""
    try:
        if isinstance(value, str) and not value.strip().isdigit():
            datetime.fromisoformat(value)
        else:
            datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    return True
