"""Timestamps of every accepted shape become RFC 3339 UTC with a Z, denoting the same instant."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorvue_client.domain import timestamps
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


# -- the shortcuts of to_rfc3339 -------------------------------------------------------------
def rfc3339_as_before(value: Any, field: str) -> str:
    """to_rfc3339 as first written: the full reading, then each field formatted."""
    moment = timestamps._parse(value, field)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


class Moment(datetime):
    """A datetime subclass with its own isoformat (as some libraries have)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "not the contract's form"


@st.composite
def iso_like(draw: st.DrawFn) -> str:
    """Strings in (or next to) the ISO form the fast path reads: any digits in place, so
    impossible dates and hours, with and without fractions and UTC suffixes."""
    digits = st.text("0123456789", min_size=2, max_size=2)
    year = draw(st.text("0123456789", min_size=4, max_size=4))
    month, day, hour, minute, second = (draw(digits) for _ in range(5))
    sep = draw(st.sampled_from(["T", "T", "t", " "]))
    fraction = draw(st.sampled_from(["", ".000000", ".512204", ".5", ".1234567"]))
    zone = draw(st.sampled_from(["", "Z", "+00:00", "-00:00", "+02:00", "z"]))
    return f"{year}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{zone}"


@settings(max_examples=500)
@given(
    st.one_of(
        iso_like(),
        st.builds(lambda s: s.raw, stamps()),
        st.datetimes(timezones=st.none() | st.just(UTC)),
        st.sampled_from([None, "", " ", True, 1.5, math.nan, math.inf, b"x", "1764061200"]),
        st.floats(min_value=-1e12, max_value=1e12) | st.floats(),
    )
)
@example(1e11)
@example(-1e11)
@example(99_999_999_999.999)
@example(1764062043.5122045)
@example(-62135596800.0)
@example(-62135596800.5)
@example("2026-11-25T09:14:03.512204+00:00")
@example("0001-01-01T00:00:00Z")
@example("9999-12-31T23:59:59.999999Z")
@example("2024-02-29T12:00:00Z")
@example("2023-02-29T12:00:00Z")
@example(Moment(2026, 11, 25, 9, 14, 3, tzinfo=UTC))
@example(datetime(2026, 11, 25, 11, 14, 3, tzinfo=timezone(timedelta(hours=2))))
def test_to_rfc3339_is_the_full_reading(value: Any) -> None:
    """The UTC ISO shortcut, the epoch-seconds shortcut and the formatting in C give the
    full reading's text (and refuse what it refuses)."""
    assert outcome(timestamps.to_rfc3339, value) == outcome(rfc3339_as_before, value)


def outcome(fn: Any, value: Any) -> tuple[Any, ...]:
    """What `fn(value, "t")` gives: its text, its problems, or its exception type."""
    try:
        return ("ok", fn(value, "t"))
    except VectorVueSerializationError as exc:
        return ("refused", exc.problems)
    except Exception as exc:  # noqa: BLE001 - the same unexpected exception from both is fine
        return ("raised", type(exc))
