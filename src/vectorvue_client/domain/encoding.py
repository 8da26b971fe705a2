"""Deterministic encoding: the one place payloads become bytes.

One module-level Encoder with `order="deterministic"`: Struct fields in definition order,
dict keys sorted, so equal payloads always give equal bytes whatever the input's key order.
msgspec writes NaN and infinity as `null`, silently; JSON cannot carry them and a finding's
score must not turn into "no score", so they are refused here with the path that held them.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from vectorvue_client.domain.errors import VectorVueSerializationError

_ENCODER: Final = msgspec.json.Encoder(order="deterministic")
_NULL: Final = b"null"
MAX_DEPTH: Final = 32


def encode(payload: object) -> bytes:
    """Canonical JSON bytes of `payload`; VectorVueSerializationError if it cannot be.

    The non-finite check costs a byte search in the common case: only when the output
    contains `null` (which a NaN would have become) is the payload walked to tell a real
    None from a NaN.
    """
    try:
        data = _ENCODER.encode(payload)
    except RecursionError:
        raise VectorVueSerializationError.single(
            "payload", "is nested too deeply or contains itself"
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise VectorVueSerializationError.single(
            "payload", f"cannot be encoded as JSON: {exc}"
        ) from None
    if _NULL in data:
        _reject_non_finite(payload, "")
    return data


GZIP_MIN_BYTES: Final = 1024


def gzip_body(data: bytes) -> bytes:
    """`data` gzip-compressed, deterministically (zlib writes no file name and a zero
    mtime), so that the same body always gives the same signed bytes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    return compressor.compress(data) + compressor.flush()


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
            out[key] = to_json_value(item, f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise VectorVueSerializationError.single(
        path, f"a {type(value).__name__} is not JSON data (use str, number, bool, list or object)"
    )


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
