"""The rules of the integration API's payloads that no Struct annotation can say.

Types, lengths and patterns are the annotations of `models` (checked by msgspec); what is
here reads a value into its canonical form: severity aliases and CVSS scores, the finding
status, metadata as plain JSON data with the MITRE ids folded in and normalized. Each rule
returns the value checked and normalized, or raises a VectorVueSerializationError naming
the field and the rule. `Problems` collects every broken rule of an item, on the error path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final, TypeVar

import msgspec

from vectorvue_client.domain import models as m
from vectorvue_client.domain.encoding import to_json_value
from vectorvue_client.domain.errors import Problem, VectorVueSerializationError

_TECHNIQUE_RE: Final = re.compile(m.MITRE_TECHNIQUE_PATTERN)
_TACTIC_RE: Final = re.compile(m.MITRE_TACTIC_PATTERN)
_SCORE_RE: Final = re.compile(r"^[0-9]{1,2}(?:\.[0-9]+)?\Z")

_SEVERITY_ALIASES: Final[Mapping[str, m.Severity]] = {
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
_TECHNIQUES: Final = "mitre_techniques"
_TACTICS: Final = "mitre_tactics"
_MITRE_FIELDS: Final = frozenset({_TECHNIQUES, _TACTICS})

T = TypeVar("T")


class Problems:
    """Collects every broken rule of one item instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def check(self, fn: Callable[..., T], *args: Any) -> T | None:
        """`fn(*args)`, or None with its problems recorded if it raised a serialization
        error."""
        try:
            return fn(*args)
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


def struct_problems(
    data: Mapping[Any, Any], shape: type[msgspec.Struct], problems: Problems
) -> None:
    """Record every rule of `shape` that `data` breaks, each field converted on its own
    against its annotation (the rule stays written once, in the annotation): the error
    path of a `msgspec.convert(data, shape)` that raised. Absent and null are the same:
    "is required" for an annotated field without a default (a field typed Any is read,
    and reported, by its Python rule)."""
    fields = msgspec.structs.fields(shape)
    known = {f.encode_name for f in fields}
    for key in data:
        if key not in known:
            problems.add(str(key), f"unknown field (allowed: {', '.join(sorted(known))})")
    for f in fields:
        value = data.get(f.encode_name)
        if value is None:
            if f.required and f.type is not Any:
                problems.add(f.encode_name, "is required")
            continue
        if f.type is Any:
            continue
        problems.check(partial(annotated, value, f.encode_name, f.type))


def annotated(value: Any, field: str, rule: Any) -> Any:
    """`value` if it is of the annotated type `rule` (a type of `models`: its Meta is the
    rule), else an error naming `field` and the rule."""
    try:
        return msgspec.convert(value, rule)
    except msgspec.ValidationError as exc:
        raise _bad(field, _said(exc, value)) from None


def _said(exc: msgspec.ValidationError, value: Any) -> str:
    # msgspec's words for the annotation ("Expected `str` of length <= 128"), said as the
    # other rules say theirs, with what the value was; anything else as msgspec says it.
    said = str(exc).split(" - at `$", 1)[0]
    if isinstance(value, str):
        if bound := _LENGTH_SAID.fullmatch(said):
            limit, size = int(bound.group(2)), len(value)
            if bound.group(1) == ">=":
                return f"must be at least {limit} character(s) long (got {size})"
            return f"must be at most {limit} characters long (got {size})"
        if pattern := _PATTERN_SAID.fullmatch(said):
            shown = pattern.group(1).replace("\\\\", "\\")  # msgspec doubles backslashes
            return f"{value[:64]!r} {_PATTERN_WORDS.get(shown, f'does not match {shown}')}"
    if got := _TYPE_SAID.fullmatch(said):
        return f"must be a string, not {got.group(1)}"
    return said


# The patterns of `models`, in words.
_PATTERN_WORDS: Final = {
    m.ID_PATTERN: "has characters outside [A-Za-z0-9._:-]",
    m.UUID_PATTERN: "is not a UUID (8-4-4-4-12 hexadecimal digits)",
    m.HEX64_PATTERN: "is not 64 hexadecimal digits (a SHA-256)",
}
_LENGTH_SAID: Final = re.compile(r"Expected `str` of length (>=|<=) ([0-9]+)")
_PATTERN_SAID: Final = re.compile(r"Expected `str` matching regex '(.*)'")
_TYPE_SAID: Final = re.compile(r"Expected `str(?: \| null)?`, got `(\w+)`")


def severity(value: Any, field: str) -> m.Severity:
    """A severity level from a name, an alias (any case, surrounding space) or a CVSS score
    0-10 (number or numeric string): 0 info, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high,
    9.0-10.0 critical."""
    if type(value) is str:
        level = _SEVERITY_ALIASES.get(value) or _SEVERITY_ALIASES.get(value.strip().lower())
        if level is not None:
            return level
    if isinstance(value, bool):
        raise _bad(field, "a boolean is not a severity")
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _SEVERITY_ALIASES:
            return _SEVERITY_ALIASES[key]
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


def status(value: Any) -> m.FindingStatus:
    """A finding status: VectorVue trims and lower-cases it; a space or a dash is read as
    the underscore of in_progress. Absent: open."""
    if value is None:
        return "open"
    if not isinstance(value, str):
        raise _bad("status", f"must be a string, not {type(value).__name__}")
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in m.FINDING_STATUSES:
        raise _bad("status", f"{value[:32]!r} is not one of {', '.join(m.FINDING_STATUSES)}")
    return key  # type: ignore[return-value]  # checked against FINDING_STATUSES just above


def metadata(raw: Any, techniques: Any, tactics: Any) -> dict[str, Any]:
    """`raw` metadata (absent: {}) as plain JSON data, with the MITRE ids `techniques` and
    `tactics` (the item's top-level mitre_techniques/mitre_tactics, which VectorVue has no
    field for; None when absent) folded in, and any already inside it normalized."""
    if raw is None:
        raw = {}
    elif type(raw) is not dict:
        if not isinstance(raw, Mapping):
            raise _bad("metadata", f"must be an object, not {type(raw).__name__}")
        raw = dict(raw)
    out: dict[str, Any] = to_json_value(raw, "metadata")
    if techniques is None and tactics is None and _MITRE_FIELDS.isdisjoint(out):
        return out  # no MITRE id to fold or check (most metadata)
    for key, top in ((_TECHNIQUES, techniques), (_TACTICS, tactics)):
        if top is not None:
            checked = mitre_ids(top, key)
            inside = out.get(key)
            if inside is not None and mitre_ids(inside, f"metadata.{key}") != checked:
                raise _bad(key, f"given both at the top level and in metadata.{key}, differently")
            out[key] = checked
        elif key in out:
            out[key] = mitre_ids(out[key], f"metadata.{key}")
    return out


def mitre_ids(value: Any, field: str) -> list[str]:
    """`value` as a list of MITRE ATT&CK ids, trimmed and upper-cased as VectorVue stores
    them (t1059.001 -> T1059.001), each then matching the pattern `field` names: tactics
    (TA####) when `field` ends with "mitre_tactics", techniques otherwise. Every entry must
    be a string."""
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
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _bad(f"{field}[{i}]", f"must be a string, not {type(item).__name__}")
        folded = item.strip().upper()
        if not pattern.match(folded):
            raise _bad(f"{field}[{i}]", f"{item!r} is not a MITRE ATT&CK id of the form {shape}")
        out.append(folded)
    return out
