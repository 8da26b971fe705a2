"""Rules of the telemetry gateway that no Struct constraint can express.

The gateway refuses (422) a description or an attribute string that looks like a SQL
statement. A pentest finding about SQL injection quotes exactly such strings, so the client
must catch them locally with a clear error instead of burning a nonce on a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

# The shapes the gateway refuses, as documented: whole words, any case, any whitespace.
SQL_LIKE: Final = re.compile(
    r"(?is)\bunion\s+(?:all\s+)?select\b"
    r"|\bdrop\s+table\b"
    r"|\bdelete\s+from\b"
    r"|\binsert\s+into\b"
    r"|\bupdate\b\s+\S+\s+\bset\b"
    r"|\bor\s+1\s*=\s*1\b"
)


def sql_like_fragment(text: str) -> str | None:
    """The first SQL-looking fragment of `text`, or None."""
    match = SQL_LIKE.search(text)
    return match.group(0) if match else None


def sql_like_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, fragment) for every string inside `value` (nested dicts and lists included)
    that the gateway would refuse as SQL-looking."""
    if isinstance(value, str):
        fragment = sql_like_fragment(value)
        if fragment is not None:
            yield path, fragment
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from sql_like_strings(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from sql_like_strings(item, f"{path}[{i}]")
