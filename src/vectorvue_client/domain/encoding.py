"""Deterministic encoding: the one place payloads become bytes.

One module-level Encoder with `order="deterministic"`: Struct fields in definition order,
dict keys sorted, so equal payloads always give equal bytes whatever the input's key order.
msgspec writes NaN and infinity as `null`, silently; JSON cannot carry them and a finding's
score must not turn into "no score", so they are refused here with the path that held them.
`encode_json_data` (content ids, document hashes, integration-API bodies) also refuses a
NUL character (U+0000) in any string, key or value, at any depth: VectorVue's database
cannot store it (the integration API answers 500, the gateway drops the event after a 202).
Both checks search the bytes encoded anyway, and walk the value (to name the field) only
on a hit.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

import msgspec

from vectorvue_client.domain.errors import Problem, VectorVueSerializationError

_ENCODER: Final = msgspec.json.Encoder(order="deterministic")
# Searches measured about twice as fast as `in` on payload-sized bytes (CPython's
# bytes.__contains__ takes its general substring search for a short needle).
_NULL_SEARCH: Final = re.compile(b"null").search
# msgspec writes U+0000 as the escape below. A hit may also be a text holding a backslash
# then "u0000" (escaped as \\u0000): the walk on a hit tells them apart.
_NUL_SEARCH: Final = re.compile(re.escape(rb"\u0000")).search
# VectorVue has no depth limit on metadata/attributes, but deep nesting crashes its
# recursive validator beyond about 500 levels (150 stored): well below that, well above any
# real document. Never lower: a refused finding is a lost finding.
MAX_DEPTH: Final = 256


def encode(payload: object) -> bytes:
    """Canonical JSON bytes of `payload`; VectorVueSerializationError if it cannot be.

    The non-finite check costs a byte search in the common case: only when the output
    contains `null` (which a NaN would have become) is the payload walked to tell a real
    None from a NaN.
    """
    data = _encode(payload)
    if _NULL_SEARCH(data) and not _all_finite(payload):
        _reject_non_finite(payload, "")
    return data


def encode_json_data(value: object) -> bytes:
    """`encode(value)` for data already known to hold no NaN or infinity (built from
    `to_json_value` output and checked text: a normalized payload, a content id's fields, a
    document checked by `to_json_value`), without looking for a NaN that cannot be there;
    a NUL character in it is refused, naming every field that holds one."""
    data = _encode(value)
    if _NUL_SEARCH(data):
        problems = nul_problems(value)
        if problems:  # else the hit was a backslash followed by "u0000": a text, not a NUL
            raise VectorVueSerializationError(problems)
    return data


def may_hold_nul(data: bytes) -> bool:
    """False when msgspec-encoded `data` certainly holds no NUL character (one C search);
    True means `nul_problems` of the encoded value must decide."""
    return _NUL_SEARCH(data) is not None


def _encode(payload: object) -> bytes:
    try:
        return _ENCODER.encode(payload)
    except RecursionError:
        raise VectorVueSerializationError.single(
            "payload", "is nested too deeply or contains itself"
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise VectorVueSerializationError.single(
            "payload", f"cannot be encoded as JSON: {exc}"
        ) from None


def encode_array(items: Sequence[bytes]) -> bytes:
    """A JSON array of already-encoded items: a batch body without re-encoding anything."""
    return b"[" + b",".join(items) + b"]"


def array_size(item_sizes_total: int, count: int) -> int:
    """Encoded size of a JSON array of `count` items totalling `item_sizes_total` bytes."""
    return item_sizes_total + 2 + max(count - 1, 0)


def to_json_value(value: Any, path: str, depth: int = 0) -> Any:
    """`value` as plain JSON data (dict with str keys, list, str, int, finite float, bool,
    None), or a VectorVueSerializationError naming the path of the first offending part.

    Tuples become lists so that a payload and its decoded copy compare equal.
    """
    kind = type(value)
    if kind is dict or kind is list or kind is tuple:
        # Most data is already plain: copy it without building a path per item, and walk
        # again (with paths, for the error) only when something is not.
        copied = _plain_copy(value, depth)
        if copied is not _NOT_PLAIN:
            return copied
    return _to_json_value(value, path, depth)


class _NotPlain:
    """The marker `_plain_copy` returns for data it leaves to the checking walk."""


_NOT_PLAIN: Final[Any] = _NotPlain()
_PLAIN_LEAVES: Final = frozenset({str, int, bool, type(None)})


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """What `to_json_value(value, path, depth)` returns, for data made of dicts with str
    keys, lists, tuples, str, int, bool, None and finite floats (exact types, no deeper than
    MAX_DEPTH); _NOT_PLAIN for anything else, which `to_json_value` then checks and names."""
    if depth >= MAX_DEPTH:
        return _NOT_PLAIN
    leaves = _PLAIN_LEAVES
    if type(value) is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                return _NOT_PLAIN
            kind = type(item)
            if kind in leaves:
                out[key] = item
            elif kind is float:
                if item - item != 0.0:  # NaN and the infinities, without a call
                    return _NOT_PLAIN
                out[key] = item
            else:
                copied = _plain_copy(item, depth + 1)
                if copied is _NOT_PLAIN:
                    return _NOT_PLAIN
                out[key] = copied
        return out
    if type(value) is list or type(value) is tuple:
        items: list[Any] = []
        for item in value:
            kind = type(item)
            if kind in leaves:
                items.append(item)
            elif kind is float:
                if item - item != 0.0:
                    return _NOT_PLAIN
                items.append(item)
            else:
                copied = _plain_copy(item, depth + 1)
                if copied is _NOT_PLAIN:
                    return _NOT_PLAIN
                items.append(copied)
        return items
    kind = type(value)
    if kind in leaves or (kind is float and value - value == 0.0):
        return value
    return _NOT_PLAIN


def is_plain(value: Any, depth: int = 0) -> bool:
    """True when `_plain_copy(value, depth)` would copy `value` (and so `to_json_value` would
    take it as it is): the check without the copy, for data that is only encoded."""
    if depth >= MAX_DEPTH:
        return False
    items: Any
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                return False
        items = value.values()
    elif type(value) is list or type(value) is tuple:
        items = value
    else:
        kind = type(value)
        return kind in _PLAIN_LEAVES or (kind is float and value - value == 0.0)
    leaves = _PLAIN_LEAVES
    for item in items:
        kind = type(item)
        if kind in leaves:
            continue
        if kind is float:
            if item - item != 0.0:
                return False
        elif not is_plain(item, depth + 1):
            return False
    return True


def _to_json_value(value: Any, path: str, depth: int) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VectorVueSerializationError.single(
                path, f"{value!r} is not a finite number, and JSON cannot carry NaN or infinity"
            )
        return value
    if depth >= MAX_DEPTH:
        raise VectorVueSerializationError.single(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise VectorVueSerializationError.single(
                    f"{path}.{key!r}", f"object keys must be strings, not {type(key).__name__}"
                )
            out[key] = _to_json_value(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json_value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise VectorVueSerializationError.single(
        path, f"a {type(value).__name__} is not JSON data (use str, number, bool, list or object)"
    )


def _all_finite(value: Any) -> bool:
    """False when `_reject_non_finite` would refuse `value` (or, for types it does not know
    by their exact type, its answer): no path is built, and the common types are told apart
    by identity rather than by isinstance, which is what made the walk cost more than the
    encoding."""
    kind = type(value)
    if kind is float:
        return bool(value - value == 0.0)
    if kind in _PLAIN_LEAVES:
        return True
    items: Any
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    elif isinstance(value, msgspec.Struct):
        items = msgspec.structs.astuple(value)
    else:
        try:
            _reject_non_finite(value, "")
        except VectorVueSerializationError:
            return False
        return True
    leaves = _PLAIN_LEAVES
    for item in items:
        kind = type(item)
        if kind in leaves:
            continue
        if kind is float:
            if item - item != 0.0:
                return False
        elif not _all_finite(item):
            return False
    return True


def _reject_non_finite(value: Any, path: str) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VectorVueSerializationError.single(
                path or "payload", f"{value!r} is not a finite number, and JSON cannot carry it"
            )
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            _reject_non_finite(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{i}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _reject_non_finite(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)


_NUL_RULE: Final = "contains a NUL character (U+0000), which VectorVue cannot store"


def nul_problems(value: Any) -> list[Problem]:
    """One problem per string (value or key) inside `value` that holds a NUL character,
    named by its path."""
    return [Problem(path or "payload", _NUL_RULE) for path in _nul_paths(value, "")]


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _nul_paths(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for key, item in value.items():
            text = str(key)
            named = "\x00" in text
            shown = repr(text) if named else text  # a NUL shown as \x00, not written raw
            where = f"{path}.{shown}" if path else shown
            if named:
                yield where
            yield from _nul_paths(item, where)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _nul_paths(item, f"{path}[{i}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _nul_paths(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
