"""Field rules shared by every SpectraStrike normalizer.

Each rule takes the value and the dotted path it came from in the input document, and
returns the checked value or raises a VectorVueSerializationError naming that path and the
rule, so that an operator can find the offending key in the orchestrator's output.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from vectorvue_client.domain import models as m
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.field_rules import Problems, annotated, mitre_ids
from vectorvue_client.domain.field_rules import severity as severity_level
from vectorvue_client.domain.timestamps import to_rfc3339

Source = tuple[str, Mapping[str, Any]]
"""Where lifted fields may be found: (dotted path of the mapping, "" for the top, mapping)."""


def bad(path: str, rule: str) -> VectorVueSerializationError:
    """The error for one broken rule."""
    return VectorVueSerializationError.single(path, rule)


def at(prefix: str, key: str) -> str:
    """The dotted path of `key` inside the mapping at `prefix`."""
    return f"{prefix}.{key}" if prefix else key


def string(value: Any, path: str) -> str:
    """`value` if it is a string."""
    if not isinstance(value, str):
        raise bad(path, f"must be a string, not {type(value).__name__}")
    return value


def nonempty(value: Any, path: str) -> str:
    """A string of at least one character (an operator or campaign name)."""
    if not string(value, path):
        raise bad(path, "must not be empty")
    return value  # type: ignore[no-any-return]  # checked to be a str just above


def identifier(value: Any, path: str) -> str:
    """An event id: 1-128 characters of [A-Za-z0-9._:-] (models.Id)."""
    return str(annotated(value, path, m.Id))


def name(value: Any, path: str) -> str:
    """An event type or source system: 1-64 characters of [A-Za-z0-9._:-] (models.Name)."""
    return str(annotated(value, path, m.Name))


def fits_identifier(value: str) -> bool:
    """True when `value` may be used as an event id as it is."""
    try:
        identifier(value, "")
    except VectorVueSerializationError:
        return False
    return True


def uuid(value: Any, path: str) -> str:
    """A tenant id: a UUID, as the telemetry gateway requires (models.Uuid)."""
    return str(annotated(value, path, m.Uuid))


def hex64(value: Any, path: str) -> str:
    """An execution hash: 64 hexadecimal digits, a SHA-256 (models.Hex64)."""
    return str(annotated(value, path, m.Hex64))


def asset(value: Any, path: str) -> str:
    """An asset reference: 1-128 characters (models.AssetRef)."""
    return str(annotated(value, path, m.AssetRef))


def description(value: Any, path: str) -> str:
    """A description: 1-4096 characters (models.Description)."""
    return str(annotated(value, path, m.Description))


def mitre(value: Any, path: str) -> tuple[str, ...]:
    """MITRE ATT&CK ids (techniques T####(.###), or tactics TA#### for a *mitre_tactics path)."""
    return tuple(mitre_ids(value, path))


def severity(value: Any, path: str) -> m.Severity:
    """A severity level from a level, an alias or a CVSS score (see field_rules.severity)."""
    return severity_level(value, path)


def timestamp(value: Any, path: str) -> str:
    """A timestamp as RFC 3339 UTC with `Z`."""
    return to_rfc3339(value, path)


def count(value: Any, path: str) -> int:
    """A non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(path, "must be a non-negative integer")
    return value


def port(value: Any, path: str) -> int:
    """A TCP/UDP port number, 0-65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise bad(path, "must be a port number (an integer from 0 to 65535)")
    return value


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """`value` if it is a JSON object."""
    if not isinstance(value, Mapping):
        raise bad(path, f"must be an object, not {type(value).__name__}")
    return value


def array(value: Any, path: str) -> Sequence[Any]:
    """`value` if it is a JSON array."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise bad(path, f"must be a list, not {type(value).__name__}")
    return value


def required(data: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    """`data[key]`, which must be present and not null."""
    value = data.get(key)
    if value is None:
        raise bad(at(prefix, key), "is required")
    return value


def get(data: Mapping[str, Any], key: str, default: Any) -> Any:
    """`data[key]`, or `default` when absent or null (but not when merely empty or false:
    an empty string where a list belongs is an error, not an empty list)."""
    value = data.get(key)
    return default if value is None else value


def optional[T](
    data: Mapping[str, Any], key: str, rule: Callable[[Any, str], T], prefix: str = ""
) -> T | None:
    """`data[key]` checked by `rule`, or None when absent or null."""
    value = data.get(key)
    return None if value is None else rule(value, at(prefix, key))


def reject_unknown(
    data: Mapping[str, Any], allowed: Collection[str], prefix: str, problems: Problems
) -> None:
    """Record every key of `data` that is not in `allowed`.

    The orchestrator's own shapes are closed: a key we do not know may be one that must not
    be forwarded, or a misspelling of one we need (a "timestmap" that silently went missing
    would be worse than a refusal that names it).
    """
    if type(data) is dict and type(allowed) is tuple and data.keys() <= _key_set(allowed):
        return  # every key known (one set operation instead of a scan per key)
    for key in data:
        if key not in allowed:
            problems.add(at(prefix, str(key)), f"unknown key (known: {', '.join(sorted(allowed))})")


@functools.cache
def _key_set(keys: tuple[str, ...]) -> frozenset[str]:
    # The callers pass a few module constants: each becomes a set once.
    return frozenset(keys)


def lift[T](sources: Sequence[Source], key: str, rule: Callable[[Any, str], T]) -> T | None:
    """`key` from the first source holding it (not null), checked by `rule`; None if none does.

    Two sources holding different values is an error: picking one silently could file an
    event under the wrong tenant.
    """
    found: tuple[str, Any] | None = None
    for prefix, data in sources:
        value = data.get(key)
        if value is None:
            continue
        path = at(prefix, key)
        if found is None:
            found = (path, value)
        elif found[1] != value:
            raise bad(path, f"differs from {found[0]}; give it once, or the same in both")
    return None if found is None else rule(found[1], found[0])
