"""Canonical JSON (contract: "How the feedback response is signed").

canonical_json IS json.dumps with the contract's arguments (ADR 0033), so comparing the two
directly would prove nothing. What can be wrong is the path the client takes: the body as
the server sends it (keys in model order, non-ASCII raw, compact) decoded by the client,
then re-serialized. That path is compared with json.dumps of the ORIGINAL value, over
arbitrary JSON values; and a few bytes are written out by hand from the contract's rules.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.canonical_json import canonical_json, decode_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    # Every plane, astral characters and controls included (surrogates cannot be sent).
    | st.text(st.characters(codec="utf-8"))
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def server_body(value: Any) -> bytes:
    """The body as VectorVue's framework writes it: keys in their own order (not sorted),
    non-ASCII raw UTF-8, compact."""
    return json.dumps(
        {"request_id": "r", "data": value}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def contract(value: Any) -> bytes:
    """The contract's definition, written here from its words."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


@given(JSON_VALUES)
def test_the_client_path_gives_the_servers_bytes(value: Any) -> None:
    parsed = decode_json(server_body(value))["data"]
    assert canonical_json(parsed) == contract(value)


@given(st.dictionaries(st.text(min_size=1, max_size=6), JSON_VALUES, min_size=2, max_size=6))
def test_key_order_of_the_body_does_not_matter(value: dict[str, Any]) -> None:
    reversed_order = dict(reversed(list(value.items())))
    assert canonical_json(decode_json(server_body(reversed_order))["data"]) == contract(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Sorted keys at every level, no whitespace, "/" not escaped.
        ({"b": 1, "a": {"d": [], "c": "x/y"}}, b'{"a":{"c":"x/y","d":[]},"b":1}'),
        # Non-ASCII escaped with lowercase hex; astral characters as surrogate pairs.
        ({"u": "caf\u00e9 \U0001f600"}, b'{"u":"caf\\u00e9 \\ud83d\\ude00"}'),
        # The usual escapes for quote, backslash and controls.
        ('"\\\n\t\x01', b'"\\"\\\\\\n\\t\\u0001"'),
        # Floats in shortest round-trip form; an integral float keeps ".0".
        ([0.55, 0.82, 1.0, 1e16, 2.5e-08], b"[0.55,0.82,1.0,1e+16,2.5e-08]"),
        ([True, False, None, 10**30], b"[true,false,null,1000000000000000000000000000000]"),
    ],
)
def test_bytes_written_from_the_contracts_rules(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_raw_utf8_and_escaped_bodies_read_alike() -> None:
    raw = '{"data":["\u00e9\U0001f600"]}'.encode()
    escaped = b'{"data":["\\u00e9\\ud83d\\ude00"]}'
    assert canonical_json(decode_json(raw)) == canonical_json(decode_json(escaped))


def test_not_json_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON"):
        canonical_json([math.nan])
    with pytest.raises(msgspec.DecodeError):
        decode_json(b"{")
