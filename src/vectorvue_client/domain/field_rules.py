"""The field rules of the integration API's payloads, one function per rule.

Each rule reads one field (from the input mapping, or as a value) and returns it checked
and normalized, or raises a VectorVueSerializationError naming the field and the rule.
`normalize` applies them all, collecting every problem of an item; `normalize_fast` applies
them to input that needs no collecting, because nothing in it is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import NOT_PLAIN, plain_copy, to_json_value
from vectorvue_client.domain.errors import Problem, VectorVueSerializationError
from vectorvue_client.domain.timestamps import to_rfc3339

_ID_RE: Final = re.compile(m.ID_PATTERN)
_TECHNIQUE_RE: Final = re.compile(m.MITRE_TECHNIQUE_PATTERN)
_TACTIC_RE: Final = re.compile(m.MITRE_TACTIC_PATTERN)
_SCORE_RE: Final = re.compile(r"^[0-9]{1,2}(?:\.[0-9]+)?\Z")

SEVERITY_ALIASES: Final[Mapping[str, m.Severity]] = {
    "info": "info",
    "informational": "info",
    "low": "low",
    "medium": "medium",
    "med": "medium",
    "moderate": "medium",
    "high": "high",
    "critical": "critical",
    "crit": "critical",
}
MITRE_FIELDS: Final = ("mitre_techniques", "mitre_tactics")

T = TypeVar("T")


class Problems:
    """Collects every broken rule of one item instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def check(self, fn: Callable[[], T]) -> T | None:
        """`fn()`, or None with its problems recorded if it raised a serialization error."""
        try:
            return fn()
        except VectorVueSerializationError as exc:
            self.found.extend(exc.problems)
            return None

    def add(self, field: str, rule: str) -> None:
        """Record one broken rule."""
        self.found.append(Problem(field=field, rule=rule))

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once, if there is any."""
        if self.found:
            raise VectorVueSerializationError(self.found)


def _bad(field: str, rule: str) -> VectorVueSerializationError:
    return VectorVueSerializationError.single(field, rule)


def _required(data: Mapping[str, Any], field: str) -> Any:
    value = data.get(field)
    if value is None:
        raise _bad(field, "is required")
    return value


def _or_info(severity: Any) -> Any:
    # Absent and null mean the same here, as everywhere else in the normalizer.
    return "info" if severity is None else severity


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _bad(field, f"must be a string, not {type(value).__name__}")
    return value


def check_length(text: str, field: str, bounds: tuple[int, int]) -> str:
    """`text` if its length is within `bounds` (min, max), else an error naming `field`."""
    low, high = bounds
    if len(text) < low:
        raise _bad(field, f"must be at least {low} character(s) long (got {len(text)})")
    if len(text) > high:
        raise _bad(field, f"must be at most {high} characters long (got {len(text)})")
    return text


_check_length = check_length  # the former private name, kept for existing callers


def _text(data: Mapping[str, Any], field: str, bounds: tuple[int, int]) -> str:
    return _check_length(_string(_required(data, field), field), field, bounds)


def _optional_text(data: Mapping[str, Any], field: str, bounds: tuple[int, int]) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    return _check_length(_string(value, field), field, (0, bounds[1]))


def _name(data: Mapping[str, Any], field: str) -> str:
    text = _text(data, field, m.NAME_LEN)
    if not _ID_RE.match(text):
        raise _bad(field, f"{text[:64]!r} has characters outside [A-Za-z0-9._:-]")
    return text


def _optional_id(data: Mapping[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    text = _check_length(_string(value, field), field, m.ID_LEN)
    if not _ID_RE.match(text):
        raise _bad(field, f"{text[:64]!r} has characters outside [A-Za-z0-9._:-]")
    return text


def _timestamp(data: Mapping[str, Any], field: str, *, required: bool) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise _bad(field, "is required")
        return None
    return to_rfc3339(value, field)


def _severity(value: Any, field: str) -> m.Severity:
    if isinstance(value, bool):
        raise _bad(field, "a boolean is not a severity")
    if isinstance(value, str):
        key = value.strip().lower()
        if key in SEVERITY_ALIASES:
            return SEVERITY_ALIASES[key]
        if not _SCORE_RE.match(key):  # float() would also take "1_0", "1e0" and "nan"
            raise _bad(
                field,
                f"{value[:32]!r} is not a severity (use info, low, medium, high, critical, "
                "an alias such as med or crit, or a CVSS score 0-10)",
            )
        score = float(key)
    elif isinstance(value, int):
        score = float(value) if -1 <= value <= 11 else math.inf  # 10**400 overflows float()
    elif isinstance(value, float):
        score = value
    else:
        raise _bad(field, f"a {type(value).__name__} is not a severity")
    if not (math.isfinite(score) and 0.0 <= score <= 10.0):
        shown = repr(value) if len(repr(value)) < 24 else repr(value)[:20] + "..."
        raise _bad(field, f"a numeric severity is a CVSS score from 0 to 10, not {shown}")
    if score == 0.0:
        return "info"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


def _status(value: Any) -> m.FindingStatus:
    if value is None:
        return "open"
    key = _string(value, "status").strip().lower().replace(" ", "_").replace("-", "_")
    if key not in m.FINDING_STATUSES:
        raise _bad("status", f"{value[:32]!r} is not one of {', '.join(m.FINDING_STATUSES)}")
    return key  # type: ignore[return-value]  # checked against FINDING_STATUSES just above


def _metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = data.get("metadata")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise _bad("metadata", f"must be an object, not {type(raw).__name__}")
    copied = plain_copy(raw) if type(raw) is dict else NOT_PLAIN  # no dict() copy first
    metadata: dict[str, Any] = (
        to_json_value(dict(raw), "metadata") if copied is NOT_PLAIN else copied
    )
    return _fold_mitre(data, metadata)


def _fold_mitre(data: Mapping[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    # MITRE ids may come at the top level (VectorVue has no such field) or already inside
    # metadata; either way they are checked and carried in metadata.
    for key in MITRE_FIELDS:
        top = data.get(key)
        if top is not None:
            checked = _mitre(top, key)
            if key in metadata and metadata[key] != checked:
                raise _bad(key, f"given both at the top level and in metadata.{key}, differently")
            metadata[key] = checked
        elif key in metadata:
            metadata[key] = _mitre(metadata[key], f"metadata.{key}")
    return metadata


def mitre_ids(value: Any, field: str) -> list[str]:
    """`value` as a list of MITRE ATT&CK ids, checked against the pattern `field` names:
    tactics (TA####) when `field` ends with "mitre_tactics", techniques otherwise."""
    tactics = field.endswith("mitre_tactics")
    pattern, shape, (_, most) = (
        (_TACTIC_RE, "TA####", m.MITRE_TACTICS_COUNT)
        if tactics
        else (_TECHNIQUE_RE, "T#### or T####.###", m.MITRE_TECHNIQUES_COUNT)
    )
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _bad(field, f"must be a list of MITRE ATT&CK ids ({shape})")
    if len(value) > most:
        raise _bad(field, f"at most {most} ids (got {len(value)})")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.match(item):
            raise _bad(f"{field}[{i}]", f"{item!r} is not a MITRE ATT&CK id of the form {shape}")
    return list(value)


_mitre = mitre_ids  # the former private name, kept for existing callers
