"""Timestamps of every accepted shape become RFC 3339 UTC with a Z, denoting the same instant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings

from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.timestamps import parse_rfc3339, to_rfc3339

from .strategies import Stamp, stamps

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


def read_back(text: str) -> datetime:
    """The instant an RFC 3339 "Z" string denotes, parsed independently of the domain."""
    return datetime.strptime(
        text.replace("Z", "+0000"),
        "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z",
    )


@settings(max_examples=300)
@given(stamps())
@example(
    Stamp(
        "2026-11-25T09:14:03.512204+00:00",
        datetime(2026, 11, 25, 9, 14, 3, 512204, tzinfo=UTC),
        "orchestrator isoformat",
    )
)
@example(Stamp("2026-11-25T09:14:03", datetime(2026, 11, 25, 9, 14, 3, tzinfo=UTC), "naive"))
@example(Stamp(10**11, datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC), "1e11 is milliseconds"))
@example(
    Stamp(
        10**11 - 1,
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=10**11 - 1),
        "just under 1e11 is seconds",
    )
)
def test_output_is_rfc3339_utc_and_denotes_the_same_instant(stamp: Stamp) -> None:
    """Every accepted shape gives ^YYYY-MM-DDTHH:MM:SS(.ffffff)?Z$ denoting the input's instant."""
    text = to_rfc3339(stamp.raw, "occurred_at")
    assert RFC3339_UTC.match(text), text
    got = read_back(text)
    if stamp.exact:
        assert got == stamp.instant, (stamp.shape, stamp.raw, text)
    else:
        assert abs(got - stamp.instant) <= timedelta(microseconds=stamp.tolerance_us), (
            stamp.shape,
            stamp.raw,
            text,
        )
    assert parse_rfc3339(text) == got


@settings(max_examples=200)
@given(stamps())
def test_to_rfc3339_is_idempotent(stamp: Stamp) -> None:
    """to_rfc3339(to_rfc3339(x)) == to_rfc3339(x)."""
    once = to_rfc3339(stamp.raw, "f")
    assert to_rfc3339(once, "f") == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-25T12:00:00Z", "2026-11-25T12:00:00Z"),
        ("2026-11-25T12:00:00+05:30", "2026-11-25T06:30:00Z"),
        ("2026-11-25T00:30:00-01:00", "2026-11-25T01:30:00Z"),
        ("2026-11-25 09:14:03.512204+00:00", "2026-11-25T09:14:03.512204Z"),
        ("2026-11-25T09:14:03", "2026-11-25T09:14:03Z"),  # naive is UTC
        ("  2026-11-25T09:14:03Z  ", "2026-11-25T09:14:03Z"),
        ("2026-11-25T09:14:03.500Z", "2026-11-25T09:14:03.500000Z"),
        (0, "1970-01-01T00:00:00Z"),
        (1_700_000_000, "2023-11-14T22:13:20Z"),
        (1_700_000_000_000, "2023-11-14T22:13:20Z"),  # milliseconds
        ("1700000000", "2023-11-14T22:13:20Z"),
        ("1700000000000", "2023-11-14T22:13:20Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.500000Z"),
        (1_700_000_000_250.0, "2023-11-14T22:13:20.250000Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (100_000_000_000, "1973-03-03T09:46:40Z"),  # 1e11: the first value read as ms
        (datetime(2026, 11, 25, 12, 0), "2026-11-25T12:00:00Z"),
        (
            datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-25T17:00:00Z",
        ),
        ("Wed, 25 Nov 2026 12:00:00 +0100", "2026-11-25T11:00:00Z"),
    ],
)
def test_known_values(raw: Any, expected: str) -> None:
    """Hand-checked conversions of each shape (offsets, naive as UTC, s vs ms at 1e11)."""
    assert to_rfc3339(raw, "occurred_at") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "last tuesday",
        "",
        "   ",
        "2026-11-25",  # a date without a time is not an instant
        "12:00:00",
        "2026-13-01T00:00:00Z",
        True,
        False,
        None,
        [],
        {},
        b"2026-11-25T12:00:00Z",
        float("nan"),
        float("inf"),
        float("-inf"),
        10**16,  # milliseconds: year 318857
        -(10**16),
        "1" * 400,
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
    ],
)
def test_unreadable_timestamps_are_refused_naming_the_field(raw: Any) -> None:
    """Anything that is not an instant in years 1-9999 raises, naming the field."""
    with pytest.raises(VectorVueSerializationError) as caught:
        to_rfc3339(raw, "first_seen")
    assert caught.value.field == "first_seen"


def test_a_very_long_digit_string_is_refused_not_crashing() -> None:
    """A digit string too long for int() is an unreadable timestamp, not a ValueError."""
    with pytest.raises(VectorVueSerializationError) as caught:
        to_rfc3339("9" * 5000, "occurred_at")
    assert caught.value.field == "occurred_at"
