"""Canonical encoding: deterministic bytes, sorted keys, no NaN or infinity ever on the wire."""

from __future__ import annotations

import copy
import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorvue_client.domain import encoding
from vectorvue_client.domain.encoding import (
    MAX_DEPTH,
    array_size,
    encode,
    encode_array,
    to_json_value,
)
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.models import IntegrationEvent

from .strategies import STORABLE, as_json, json_data, json_objects, keys, loose_data, shuffled

Step = str | int
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
poison_keys = st.text(string.ascii_letters + "_", min_size=1, max_size=6)


def path_text(steps: list[Step]) -> str:
    """The dotted path the encoder names: a.b[2].c ("payload" for the value itself)."""
    text = ""
    for step in steps:
        text = f"{text}[{step}]" if isinstance(step, int) else (f"{text}.{step}" if text else step)
    return text or "payload"


@st.composite
def poisoned(draw: st.DrawFn, depth: int = 0, top: str | None = None) -> tuple[Any, list[Step]]:
    """(JSON data holding exactly one NaN or infinity somewhere, the path to it); `top` forces
    the outermost container ("dict", "list", "tuple")."""
    kinds = ["leaf", "dict", "list", "tuple"] if depth < 5 else ["leaf"]
    kind = top or draw(st.sampled_from(kinds))
    if kind == "leaf":
        return draw(non_finite), []
    inner, path = draw(poisoned(depth + 1))
    if kind == "dict":
        others = draw(st.dictionaries(keys, json_data, max_size=3))
        key = draw(poison_keys.filter(lambda k: k not in others))
        items = list(others.items())
        items.insert(draw(st.integers(0, len(items))), (key, inner))
        return dict(items), [key, *path]
    siblings = draw(st.lists(json_data, max_size=3))
    position = draw(st.integers(0, len(siblings)))
    siblings.insert(position, inner)
    return (siblings if kind == "list" else tuple(siblings)), [position, *path]


def sorted_everywhere(value: Any) -> bool:
    """True when the keys of every object of decoded JSON come in sorted order."""
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(sorted_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(sorted_everywhere(v) for v in value)
    return True


def an_event(metadata: Any) -> IntegrationEvent:
    """An event Struct built directly (no validation), carrying `metadata`."""
    return IntegrationEvent(
        event_id="e-1",
        source_system="s",
        event_type="t",
        occurred_at="2026-11-25T12:00:00Z",
        severity="low",
        asset_ref="a",
        message="m",
        metadata=metadata,
    )


# -- determinism and round trips -------------------------------------------------------------
@settings(max_examples=200)
@given(json_data)
def test_encoding_is_deterministic(value: Any) -> None:
    """The same value (or a deep copy of it) always gives the same bytes."""
    assert encode(value) == encode(value) == encode(copy.deepcopy(value))


@settings(max_examples=100)
@given(json_objects, st.data())
def test_encoding_ignores_key_insertion_order_at_every_depth(
    value: dict[str, Any], data: st.DataObject
) -> None:
    """A dict rebuilt with its keys (at every depth) in another order encodes to the same bytes."""
    assert encode(data.draw(shuffled(value))) == encode(value)


@settings(max_examples=200)
@given(json_data)
def test_keys_come_out_sorted_at_every_depth(value: Any) -> None:
    """Every object of the output lists its keys in sorted order."""
    assert sorted_everywhere(msgspec.json.decode(encode(value)))


@settings(max_examples=200)
@given(json_data)
def test_json_data_round_trips(value: Any) -> None:
    """decode(encode(x)) == x for JSON data (None, bools, ints, finite floats, str, lists, dicts)"""
    assert msgspec.json.decode(encode(value)) == value


@settings(max_examples=100)
@given(loose_data)
def test_tuples_encode_as_arrays(value: Any) -> None:
    """Loose data with tuples encodes exactly as its all-lists JSON twin."""
    assert encode(value) == encode(as_json(value))


def test_null_text_and_none_are_not_mistaken_for_nan() -> None:
    """The string "null" and real None values encode; only NaN and infinities are refused."""
    value = {"a": "null", "b": None, "c": [None, "null"], "d": {"e": "null"}}
    assert encode(value) == b'{"a":"null","b":null,"c":[null,"null"],"d":{"e":"null"}}'
    assert encode(an_event({"note": "null", "x": None})).endswith(
        b'"metadata":{"note":"null","x":null}}'
    )


# -- NaN and infinities ----------------------------------------------------------------------
@settings(max_examples=200)
@given(poisoned())
def test_non_finite_numbers_are_refused_naming_their_path(case: tuple[Any, list[Step]]) -> None:
    """NaN, +inf and -inf anywhere (dicts, lists, tuples, top level) raise, naming the path."""
    value, path = case
    with pytest.raises(VectorVueSerializationError) as caught:
        encode(value)
    assert caught.value.field == path_text(path)


@settings(max_examples=100)
@given(poisoned(top="dict"))
def test_non_finite_numbers_in_a_struct_are_refused_naming_their_path(
    case: tuple[Any, list[Step]],
) -> None:
    """A NaN or infinity inside a Struct's metadata is refused as metadata.<path>."""
    value, path = case
    with pytest.raises(VectorVueSerializationError) as caught:
        encode(an_event(value))
    assert caught.value.field == path_text(["metadata", *path])


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (math.nan, "payload"),
        ([1.0, math.inf], "[1]"),
        ({"scores": [0.5, -math.inf]}, "scores[1]"),
        ({"a": {"b": (1, math.nan)}}, "a.b[1]"),
    ],
)
def test_non_finite_examples(value: Any, field: str) -> None:
    """Hand-written paths of NaN and infinities at the top, in lists, tuples and nested dicts."""
    with pytest.raises(VectorVueSerializationError) as caught:
        encode(value)
    assert caught.value.field == field


@dataclass
class Reading:
    """A dataclass the msgspec encoder accepts."""

    score: float


@pytest.mark.parametrize(
    "value",
    [{"a": {math.nan}}, {"a": frozenset([math.inf])}, {"a": Reading(math.nan)}],
    ids=["set", "frozenset", "dataclass"],
)
def test_non_finite_numbers_in_other_encodable_containers_are_refused(value: Any) -> None:
    """Whatever container msgspec can encode, a NaN inside it must not become null."""
    with pytest.raises(VectorVueSerializationError):
        encode(value)


def test_unencodable_values_raise_a_serialization_error() -> None:
    """A value msgspec cannot encode is a VectorVueSerializationError about the payload."""
    for value in (object(), {1: "int key"}, {"a": object()}):
        with pytest.raises(VectorVueSerializationError) as caught:
            encode(value)
        assert caught.value.field == "payload"


def test_a_cyclic_value_raises_a_serialization_error() -> None:
    """A list that contains itself cannot be encoded: a serialization error, not RecursionError."""
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(VectorVueSerializationError):
        encode(cycle)


# -- batch bodies ----------------------------------------------------------------------------
@settings(max_examples=200)
@given(st.lists(json_data, max_size=8))
def test_encode_array_is_the_json_array_of_the_items(items: list[Any]) -> None:
    """encode_array of the encoded items == the encoding of the list; array_size is its length."""
    parts = [encode(item) for item in items]
    body = encode_array(parts)
    assert body == encode(items)
    assert msgspec.json.decode(body) == items
    assert array_size(sum(len(p) for p in parts), len(parts)) == len(body)


def test_empty_and_single_arrays() -> None:
    """No items is [] (2 bytes); one item is just bracketed."""
    assert encode_array([]) == b"[]"
    assert array_size(0, 0) == 2
    assert encode_array([b'{"a":1}']) == b'[{"a":1}]'
    assert array_size(7, 1) == 9


# -- to_json_value ---------------------------------------------------------------------------
@settings(max_examples=100)
@given(loose_data)
def test_to_json_value_turns_tuples_into_lists(value: Any) -> None:
    """Loose data becomes plain JSON data: equal to its all-lists twin, with no tuple left."""
    out = to_json_value(value, "metadata")
    assert out == as_json(value)
    assert not _has_tuple(out)


def _has_tuple(value: Any) -> bool:
    if isinstance(value, tuple):
        return True
    if isinstance(value, dict):
        return any(_has_tuple(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_tuple(v) for v in value)
    return False


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"a": {1: "x"}}, "metadata.a.1"),
        ({"a": [1, {2, 3}]}, "metadata.a[1]"),
        ({"a": b"bytes"}, "metadata.a"),
        ({"a": [0.5, math.nan]}, "metadata.a[1]"),
        ({"a": {"b": -math.inf}}, "metadata.a.b"),
    ],
)
def test_to_json_value_refuses_non_json_data_naming_its_path(value: Any, field: str) -> None:
    """Non-str keys, sets, bytes, NaN and infinities are refused at their path."""
    with pytest.raises(VectorVueSerializationError) as caught:
        to_json_value(value, "metadata")
    assert caught.value.field == field


def test_to_json_value_refuses_very_deep_nesting() -> None:
    """Nesting deeper than MAX_DEPTH levels is refused (and a cycle cannot recurse forever)."""
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(VectorVueSerializationError):
        to_json_value({"x": deep}, "metadata")
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(VectorVueSerializationError):
        to_json_value(cycle, "metadata")


# -- the shortcuts of to_json_value and encode ---------------------------------------------
# -- comparing outcomes -----------------------------------------------------------------------
def typed(value: Any) -> Any:
    """`value` with the type of every part spelled out (and dict order kept), so that two
    results compare equal only when they are the same data made of the same types."""
    if isinstance(value, msgspec.Struct):
        fields = value.__struct_fields__
        return (type(value), tuple((n, typed(getattr(value, n))) for n in fields))
    if isinstance(value, dict):
        return (type(value), tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(typed(v) for v in value))
    if isinstance(value, float):
        return (type(value), repr(value))  # repr: -0.0 is not 0.0 here
    return (type(value), value)


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    """What calling `fn(*args)` gives: its typed result, its problems, or its exception type."""
    try:
        result = fn(*args)
    except VectorVueSerializationError as exc:
        return ("refused", exc.problems)
    except Exception as exc:  # noqa: BLE001 - the same unexpected exception from both is fine
        return ("raised", type(exc))
    return ("ok", typed(result))


# -- hostile values and broken documents ------------------------------------------------------
class Label(StrEnum):
    """A str subclass, as an enum-minded caller might pass."""

    HIGH = "high"


class Level(IntEnum):
    """An int subclass."""

    THREE = 3


class Text(str):
    """A plain str subclass."""


class Sample(msgspec.Struct):
    """A Struct msgspec encodes."""

    score: float
    tags: list[Any] = []


def nested(depth: int) -> Any:
    """A list nested `depth` levels deep."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


odd_leaves = st.sampled_from(
    [
        math.nan,
        -math.inf,
        Label.HIGH,
        Level.THREE,
        Text("t"),
        b"b",
        {1.5},
        frozenset([math.nan]),
        Reading(1.0),
        Reading(math.nan),
        Sample(2.0),
        Sample(math.inf),
        Sample(1.0, [math.nan]),
        datetime(2026, 1, 1),
        {Text("k"): 1},
        {1: 2},
        nested(MAX_DEPTH - 1),
        nested(MAX_DEPTH),
        nested(MAX_DEPTH + 1),
        {"a": nested(MAX_DEPTH)},
    ]
)
odd_data = st.recursive(
    st.one_of(json_data, odd_leaves),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(STORABLE, max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300)
@given(loose_data | odd_data)
@example(nested(MAX_DEPTH))
@example(nested(MAX_DEPTH + 1))
@example({"a": {"b": (1, math.nan)}})
def test_plain_copy_is_the_checked_copy(value: Any) -> None:
    """plain_copy declines, or copies exactly what to_json_value's checking walk copies;
    is_plain says which; and to_json_value's answer is the checking walk's."""
    copied = encoding._plain_copy(value)
    checked = outcome(encoding._to_json_value, value, "metadata", 0)
    if copied is not encoding._NOT_PLAIN:
        assert ("ok", typed(copied)) == checked
    assert encoding.is_plain(value) == (copied is not encoding._NOT_PLAIN)
    assert outcome(to_json_value, value, "metadata") == checked


def encode_as_before(payload: Any) -> bytes:
    """encode as first written: the full walk whenever the bytes hold a null."""
    try:
        data = encoding._ENCODER.encode(payload)
    except RecursionError:
        raise VectorVueSerializationError.single(
            "payload", "is nested too deeply or contains itself"
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise VectorVueSerializationError.single(
            "payload", f"cannot be encoded as JSON: {exc}"
        ) from None
    if b"null" in data:
        encoding._reject_non_finite(payload, "")
    return data


@settings(max_examples=300)
@given(st.one_of(loose_data, odd_data, odd_data.map(lambda v: an_event({"v": v, "n": None}))))
def test_encode_refuses_exactly_what_the_full_walk_refuses(payload: Any) -> None:
    """The typed pre-check of encode (no paths built) refuses what the walk refuses, with
    the walk's own error, and lets through the very same bytes otherwise."""
    assert outcome(encode, payload) == outcome(encode_as_before, payload)
    walked = outcome(encoding._reject_non_finite, payload, "")
    assert encoding._all_finite(payload) == (walked[0] == "ok")
