"""Rules of the telemetry gateway that no Struct constraint can express, equal to the
gateway's own (VectorVue commit c175221; contract: "Limits the client mirrors exactly").

- SQL-looking text: the gateway refuses (422) a description or an attribute string that
  matches one of its six patterns. A pentest finding about SQL injection quotes exactly such
  strings, so the client must catch them with a clear error instead of burning a nonce.
- Size: a body over 1 MiB is answered 413 after the nonce is spent; refused locally.
- attributes: attestation_measurement_hash and schema_version as the gateway reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.errors import Problem
from vectorvue_client.domain.redaction import excerpt

# The gateway's six patterns, verbatim: re.IGNORECASE on str patterns, so Unicode-aware
# (\s takes U+00A0, \w and \b take any letter). One alternation finds a match exactly
# where one of the six would.
SQL_LIKE: Final = re.compile(
    r"\bunion\s+select\b"
    r"|\bdrop\s+table\b"
    r"|\bdelete\s+from\b"
    r"|\binsert\s+into\b"
    r"|\bupdate\s+\w+\s+set\b"
    r"|\bor\s+1\s*=\s*1\b",
    re.IGNORECASE,
)
# Python's case-insensitive regex costs some 50 ns a character, so text is first tested
# with str methods: without a keyword (lower-cased) there is no match. Exact because under
# IGNORECASE only four non-ASCII letters match ASCII ones (re's documentation: U+0130,
# U+0131, U+017F, U+212A), and text holding one of them always takes the regex.
_KEYWORDS: Final = ("union", "drop", "delete", "insert", "update")
_CASE_TWINS: Final = ("\u0130", "\u0131", "\u017f", "\u212a")
_HEX64: Final = re.compile(m.HEX64_PATTERN)


def may_be_sql(text: str) -> bool:
    """False only where SQL_LIKE cannot match `text`."""
    if any(twin in text for twin in _CASE_TWINS):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _KEYWORDS) or ("or" in lowered and "=" in text)


def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string value inside `value`, nested objects and arrays
    included (keys not)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")


def sql_like_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, fragment) for every string VALUE inside `value` (nested objects and arrays
    included, keys not) that the gateway would refuse as SQL-looking."""
    for where, text in strings(value, path):
        match = SQL_LIKE.search(text) if may_be_sql(text) else None
        if match is not None:
            yield where, match.group(0)


def sql_problems(description: str, attributes: Mapping[str, Any]) -> list[Problem]:
    """The SQL-looking strings of a payload, each named by its path in the body."""
    texts = [description]
    _strings(attributes, texts)
    # NUL joins them: neither a letter nor a space, so no keyword spans two strings.
    if not may_be_sql("\x00".join(texts)):
        return []
    found = [
        *sql_like_strings(description, "payload.description"),
        *sql_like_strings(attributes, "payload.attributes"),
    ]
    return [
        Problem(
            path,
            f"looks like a SQL statement ({excerpt(fragment, 40)!r}), which the gateway "
            "refuses (422); reword it or send this event through the integration API",
        )
        for path, fragment in found
    ]


def _strings(value: Any, out: list[str]) -> None:
    """Append every string value inside `value` to `out` (keys not)."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings(item, out)


def attribute_problems(attributes: Mapping[str, Any]) -> list[Problem]:
    """The gateway's two required attributes, read as it reads them: converted to a string
    and trimmed. A schema_version of "2." requires attributes.contract_v2, an object."""
    problems = []
    if not _HEX64.match(str(attributes.get("attestation_measurement_hash")).strip()):
        problems.append(
            Problem(
                "payload.attributes.attestation_measurement_hash",
                "is required, 64 hexadecimal characters: from the event, or configured",
            )
        )
    version = str(attributes.get("schema_version")).strip()
    if not version:
        problems.append(Problem("payload.attributes.schema_version", "must not be empty"))
    elif version.startswith("2.") and not isinstance(attributes.get("contract_v2"), dict):
        problems.append(
            Problem(
                "payload.attributes.contract_v2",
                f"is required, an object, with schema_version {version!r} (2.x)",
            )
        )
    return problems


def size_problem(size: int, payload: Mapping[str, Any]) -> Problem:
    """The body is `size` bytes, over the gateway's limit: named after its largest part
    (the description or one top-level attribute) so the user knows what to cut."""
    parts = {"payload.description": payload.get("description")}
    for key, value in payload.get("attributes", {}).items():
        parts[f"payload.attributes.{key}"] = value
    largest = max(parts, key=lambda path: len(encode(parts[path])))
    return Problem(
        largest,
        f"makes the gateway body {size:,} bytes ({len(encode(parts[largest])):,} of "
        f"them here), over the gateway's limit of {m.MAX_BODY_BYTES:,} bytes (it would "
        "answer 413 after the attempt's nonce is spent)",
    )
