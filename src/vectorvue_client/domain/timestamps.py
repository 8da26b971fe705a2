"""Timestamps of every common shape -> RFC 3339 UTC with a `Z`.

Accepted: ISO 8601 with an offset or `Z`, naive ISO 8601 (read as UTC: the orchestrator's
naive timestamps are UTC, and guessing a local zone on a server would be worse), RFC 2822
dates, `datetime` objects, and Unix epochs in seconds or milliseconds (numbers or digit
strings; a magnitude of 1e11 or more is milliseconds, since 1e11 seconds is past year 5000).
Output keeps microseconds when there are any: `2026-11-25T09:14:03.512204Z`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final

from vectorvue_client.domain.errors import VectorVueSerializationError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLIS_THRESHOLD: Final = 1e11
_EPOCH_TEXT: Final = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?\Z")
_MAX_EPOCH_DIGITS: Final = 24
_HAS_TIME: Final = re.compile(r"[0-9][T t][0-9]")
# What the orchestrator writes, and what to_rfc3339 itself writes: ISO 8601 with a "T",
# whole seconds or microseconds, in UTC ("Z", "+00:00") or naive (read as UTC). Hours,
# minutes and seconds are bounded here so that a string datetime accepts is a string whose
# digits are the datetime's own; datetime still checks the date (no February 30th).
_UTC_ISO: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{6})?(?:Z|\+00:00)?\Z"
)


def to_rfc3339(value: Any, field: str) -> str:
    """`value` as an RFC 3339 UTC timestamp, or an error naming `field` and the rule."""
    if type(value) is str and _UTC_ISO.match(value):
        # Already UTC, digits in place: the output is the input's own digits (without a
        # zero fraction), once datetime has said that they name a real instant.
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass  # not a real date: the full reading below says why
        else:
            return value[:26] + "Z" if moment.microsecond else value[:19] + "Z"
    if type(value) is float and -_MILLIS_THRESHOLD < value < _MILLIS_THRESHOLD:
        # An epoch in seconds (a clock's time()): _from_epoch's own sum, without the
        # checks a NaN, an infinity or a millisecond epoch needs (none passes the bounds).
        # Before year 1 it overflows: the full reading below names the rule.
        try:
            moment = _EPOCH + timedelta(microseconds=round(value * 1_000_000))
        except OverflowError:
            pass
        else:
            return moment.replace(tzinfo=None).isoformat() + "Z"
    moment = _parse(value, field)
    if type(moment) is datetime:
        # A naive datetime's isoformat is YYYY-MM-DDTHH:MM:SS, then .ffffff when there are
        # microseconds: exactly the form below, written in C. (A subclass may write its own.)
        return moment.replace(tzinfo=None).isoformat() + "Z"
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def parse_rfc3339(value: str) -> datetime:
    """A timestamp produced by `to_rfc3339`, back as an aware datetime."""
    return datetime.fromisoformat(value)


def _parse(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return _as_utc(value, field)
    if isinstance(value, bool):
        raise _bad(field, "a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return _from_epoch(value, field)
    if not isinstance(value, str):
        raise _bad(field, f"a {type(value).__name__} is not a timestamp")
    text = value.strip()
    if not text:
        raise _bad(field, "is empty; give an ISO 8601 datetime or a Unix epoch")
    if _EPOCH_TEXT.match(text):
        if len(text) > _MAX_EPOCH_DIGITS:  # and int() refuses 4300+ digits outright
            raise _bad(field, f"epoch {text[:24]}... is outside years 1-9999")
        return _from_epoch(float(text) if "." in text else int(text), field)
    if _HAS_TIME.search(text):
        try:
            return _as_utc(datetime.fromisoformat(text), field)
        except ValueError:
            pass
    try:
        return _as_utc(parsedate_to_datetime(text), field)
    except (TypeError, ValueError, IndexError):
        pass
    raise _bad(
        field,
        f"cannot read {text[:40]!r} as a datetime (give ISO 8601 with a time, e.g. "
        "2026-11-25T12:00:00Z, or a Unix epoch in seconds or milliseconds)",
    )


def _from_epoch(value: float, field: str) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(field, f"{value!r} is not a timestamp")
    try:
        if abs(value) >= _MILLIS_THRESHOLD:
            if isinstance(value, int):
                return _EPOCH + timedelta(milliseconds=value)
            return _EPOCH + timedelta(microseconds=round(value * 1000))
        if isinstance(value, int):
            return _EPOCH + timedelta(seconds=value)
        return _EPOCH + timedelta(microseconds=round(value * 1_000_000))
    except OverflowError:
        raise _bad(field, f"epoch {value!r} is outside years 1-9999") from None


def _as_utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _bad(field, "is outside years 1-9999 once converted to UTC") from None


def _bad(field: str, rule: str) -> VectorVueSerializationError:
    return VectorVueSerializationError.single(field, rule)
