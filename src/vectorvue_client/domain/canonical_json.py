"""Canonical JSON as VectorVue signs it (contract: "How the feedback response is signed").

VectorVue serializes the signed part of an answer with Python's `json.dumps(value,
sort_keys=True, separators=(",", ":"))`, ensure_ascii left on: keys sorted at every level,
no whitespace, every non-ASCII character escaped (astral ones as surrogate pairs, lowercase
hex), floats in Python's shortest round-trip form (`0.55`, `1e+16`, an integral float keeps
`.0`). The signature holds only over exactly those bytes, so they are produced with that
same function (ADR 0033): a second implementation could only be equal to it or wrong, and
msgspec's encoder is not equal (raw UTF-8, `1e16`).

The input must be JSON data as it is parsed from a body (dict with str keys, list, str,
int, float, bool, None): a NaN or an infinity is not JSON and is refused (ValueError), not
written as `NaN`.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec


def decode_json(body: bytes) -> Any:
    """The JSON data of `body`, read so that `canonical_json` gives back VectorVue's bytes:
    integers of any size kept exact, floats correctly rounded, non-ASCII text as sent (raw
    UTF-8 or escaped, alike). msgspec.DecodeError when `body` is not JSON."""
    return msgspec.json.decode(body)


def canonical_json(value: Any) -> bytes:
    """The canonical JSON of `value`: ASCII bytes, equal to VectorVue's."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")
