"""Shared hypothesis strategies: loose orchestrator inputs in every shape the domain accepts.

Each composite strategy returns the raw input together with what it means (the instant a
timestamp denotes, the severity an alias stands for, the JSON a metadata dict becomes), so
tests check the domain against an oracle written from the contract, not against itself.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from fractions import Fraction
from typing import Any, Final

from hypothesis import strategies as st

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MILLIS_THRESHOLD: Final = 10**11  # the contract of timestamps.py: >= 1e11 is milliseconds
ID_ALPHABET: Final = string.ascii_letters + string.digits + "._:-"
MITRE_KEYS: Final = ("mitre_techniques", "mitre_tactics")
WHITESPACE: Final = " \t\n"

# Written from the contract ("informational->info, med->medium") and normalize's docstring
# ("an alias such as med or crit"); "moderate" is the usual vendor word for medium.
SEVERITY_WORDS: Final[dict[str, str]] = {
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

# Any character VectorVue can store: all but NUL (U+0000), which its database refuses and
# the client therefore refuses locally (tests/unit/test_limits_integration.py).
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")
names = st.text(ID_ALPHABET, min_size=1, max_size=64)
long_ids = st.text(ID_ALPHABET, min_size=1, max_size=128)


def cvss_band(score: float) -> str:
    """The contract's CVSS bands: 0 info, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9+ critical."""
    if score == 0:
        return "info"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    if score < 9.0:
        return "high"
    return "critical"


# -- severities ------------------------------------------------------------------------------
@st.composite
def random_case(draw: st.DrawFn, word: str) -> str:
    """`word` with each letter upper or lower at random, wrapped in random whitespace."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    cased = "".join(c.upper() if up else c.lower() for c, up in zip(word, flips, strict=True))
    left = draw(st.text(WHITESPACE, max_size=2))
    right = draw(st.text(WHITESPACE, max_size=2))
    return left + cased + right


@st.composite
def severity_inputs(draw: st.DrawFn) -> tuple[Any, str]:
    """(a severity in any accepted shape, the level it stands for)."""
    kind = draw(st.sampled_from(["word", "int", "float", "numeric-string"]))
    if kind == "word":
        word = draw(st.sampled_from(sorted(SEVERITY_WORDS)))
        return draw(random_case(word)), SEVERITY_WORDS[word]
    if kind == "int":
        number = draw(st.integers(0, 10))
        return number, cvss_band(number)
    if kind == "float":
        score = draw(st.floats(0.0, 10.0, allow_nan=False))
        return score, cvss_band(score)
    # Numeric strings are plain decimals ("7.5"): exponent forms are refused on purpose.
    hundredths = draw(st.integers(0, 1000))
    text = (
        f"{hundredths // 100}.{hundredths % 100:02d}"
        if draw(st.booleans())
        else str(hundredths // 100)
    )
    pad = draw(st.text(" ", max_size=2))
    return pad + text + pad, cvss_band(float(text))


# -- timestamps ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stamp:
    """A timestamp in one accepted shape and the instant it denotes (aware, UTC).

    A float epoch denotes the exact binary value of the float; `tolerance_us` is how far a
    correct reading may land from it (1 us of output rounding plus one ulp of the input).
    """

    raw: Any
    instant: datetime
    shape: str
    tolerance_us: float = 0.0

    @property
    def exact(self) -> bool:
        """True when the reading must be exact to the microsecond."""
        return self.tolerance_us == 0.0


def float_stamp(value: float, scale: int, shape: str) -> Stamp:
    """The stamp of float epoch `value` in units of 1/`scale` second."""
    micros = Fraction(value) * (1_000_000 // scale)
    tolerance = 1.0 + math.ulp(value) * (1_000_000 // scale)
    return Stamp(value, EPOCH + timedelta(microseconds=round(micros)), shape, tolerance)


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)

instants = st.datetimes(
    min_value=datetime(2, 1, 2),  # a day of margin so any offset stays within years 1-9999
    max_value=datetime(9998, 12, 30),
    timezones=st.just(UTC),
)


def micros_since_epoch(instant: datetime) -> int:
    """Exact integer microseconds from the Unix epoch to `instant`."""
    return (instant - EPOCH) // timedelta(microseconds=1)


@st.composite
def truncated_instants(draw: st.DrawFn) -> datetime:
    """An instant at microsecond, millisecond or whole-second precision (so that every epoch
    shape gets exercised); sometimes near the epoch's seconds/milliseconds boundary."""
    instant = draw(
        st.one_of(
            instants,
            st.integers(-(10**14), 10**14).map(lambda us: EPOCH + timedelta(microseconds=us)),
            st.integers(10**11 - 5, 10**11 + 5).map(lambda n: EPOCH + timedelta(milliseconds=n)),
        )
    )
    precision = draw(st.sampled_from(["us", "ms", "s"]))
    if precision == "ms":
        return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    if precision == "s":
        return instant.replace(microsecond=0)
    return instant


def shapes_of(instant: datetime, tz: timezone, sep: str) -> list[Stamp]:
    """Every accepted rendering of `instant` (those whose precision can carry it)."""
    naive = instant.replace(tzinfo=None)
    local = instant.astimezone(tz)
    out = [
        Stamp(local, instant, "aware datetime"),
        Stamp(naive, instant, "naive datetime (UTC)"),
        Stamp(local.isoformat(sep=sep), instant, "ISO with offset"),
        Stamp(naive.isoformat(sep=sep) + "Z", instant, "ISO with Z"),
        Stamp(naive.isoformat(sep=sep), instant, "naive ISO (UTC)"),
    ]
    us = micros_since_epoch(instant)
    if us % 1_000_000 == 0 and abs(us // 1_000_000) < MILLIS_THRESHOLD:
        seconds = us // 1_000_000
        out += [
            Stamp(seconds, instant, "epoch seconds int"),
            Stamp(str(seconds), instant, "epoch seconds digit string"),
        ]
    if us % 1000 == 0 and abs(us // 1000) >= MILLIS_THRESHOLD:
        millis = us // 1000
        out += [
            Stamp(millis, instant, "epoch milliseconds int"),
            Stamp(str(millis), instant, "epoch milliseconds digit string"),
        ]
    if abs(us) < MILLIS_THRESHOLD * 1_000_000:
        seconds_f = us / 1_000_000
        out.append(float_stamp(seconds_f, 1, "epoch seconds float"))
        if "e" not in repr(seconds_f):
            text = float_stamp(seconds_f, 1, "epoch seconds float string")
            out.append(Stamp(repr(seconds_f), text.instant, text.shape, text.tolerance_us))
    if abs(us) >= MILLIS_THRESHOLD * 1000 and us % 1000:
        out.append(float_stamp(us / 1000, 1000, "epoch milliseconds float"))
    if instant.microsecond == 0 and instant.year >= 1900:
        # RFC 2822 writes whole seconds and four-digit years (two-digit years mean 19xx/20xx).
        out.append(Stamp(format_datetime(local), instant, "RFC 2822"))
    return out


@st.composite
def stamps(draw: st.DrawFn, *, exact_only: bool = False) -> Stamp:
    """A timestamp in one of the accepted shapes, with the instant it denotes."""
    instant = draw(truncated_instants())
    tz = draw(offsets)
    sep = draw(st.sampled_from(["T", " "]))
    choices = [s for s in shapes_of(instant, tz, sep) if s.exact or not exact_only]
    return draw(st.sampled_from(choices))


# -- JSON data and metadata ------------------------------------------------------------------
keys = st.text(STORABLE, max_size=8).filter(lambda k: k not in MITRE_KEYS)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = (
    st.none() | st.booleans() | st.integers() | finite_floats | st.text(STORABLE, max_size=12)
)

# Pure JSON data (lists only): what decode(encode(x)) must give back unchanged.
json_data = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=16,
)
json_objects = st.dictionaries(keys, json_data, max_size=5)

# Loose data as the orchestrator hands it over: tuples as well as lists.
loose_data = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=16,
)
loose_objects = st.dictionaries(keys, loose_data, max_size=5)


def as_json(value: Any) -> Any:
    """`value` with every tuple turned into a list: what JSON makes of loose data."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    return value


techniques = st.from_regex(r"\AT[0-9]{4}(\.[0-9]{3})?\Z", fullmatch=True)
tactics = st.from_regex(r"\ATA[0-9]{4}\Z", fullmatch=True)


@st.composite
def shuffled(draw: st.DrawFn, value: Any) -> Any:
    """`value` rebuilt with the keys of every dict, at every depth, in a random order."""
    if isinstance(value, dict):
        order = draw(st.permutations(list(value)))
        return {k: draw(shuffled(value[k])) for k in order}
    if isinstance(value, list):
        return [draw(shuffled(v)) for v in value]
    if isinstance(value, tuple):
        return tuple(draw(shuffled(v)) for v in value)
    return value


@dataclass(frozen=True)
class Loose:
    """A loose payload dict and what normalizing it must give."""

    raw: dict[str, Any]
    severity: str
    metadata: dict[str, Any]  # the expected normalized metadata (JSON, MITRE ids folded in)
    stamps: tuple[Stamp, ...]  # occurred_at, or first_seen (and last_seen when present)


@st.composite
def metadata_and_mitre(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the metadata/MITRE keys of a loose payload, the metadata they must normalize to)."""
    raw: dict[str, Any] = {}
    form = draw(st.sampled_from(["absent", "null", "object"]))
    metadata: dict[str, Any] = draw(loose_objects) if form == "object" else {}
    if form == "object":
        raw["metadata"] = metadata
    elif form == "null":
        raw["metadata"] = None
    expected = as_json(metadata)
    for key, ids in (("mitre_techniques", techniques), ("mitre_tactics", tactics)):
        values = draw(st.lists(ids, min_size=1, max_size=4))
        where = draw(st.sampled_from(["none", "top", "metadata", "both"]))
        as_tuple = draw(st.booleans())
        given: list[str] | tuple[str, ...] = tuple(values) if as_tuple else values
        if where in ("top", "both"):
            raw[key] = given
        if where in ("metadata", "both"):
            metadata = dict(metadata)
            metadata[key] = list(values)
            raw["metadata"] = metadata
        if where != "none":
            expected[key] = list(values)
    return raw, expected


@st.composite
def loose_events(draw: st.DrawFn) -> Loose:
    """A valid loose event dict, in every shape normalize_event accepts, keys in any order."""
    stamp = draw(stamps())
    raw: dict[str, Any] = {
        "source_system": draw(names),
        "event_type": draw(names),
        "occurred_at": stamp.raw,
        "asset_ref": draw(st.text(STORABLE, min_size=1, max_size=128)),
        "message": draw(st.text(STORABLE, min_size=1, max_size=200)),
    }
    severity = "info"
    if draw(st.booleans()):
        raw["severity"], severity = draw(severity_inputs())
    extra, metadata = draw(metadata_and_mitre())
    raw.update(extra)
    event_id = draw(st.none() | long_ids)
    if event_id is not None or draw(st.booleans()):
        raw["event_id"] = event_id
    order = draw(st.permutations(list(raw)))
    return Loose({k: raw[k] for k in order}, severity, metadata, (stamp,))


# How a finding status may be written, and the contract value it stands for.
STATUS_FORMS: Final[dict[str, str]] = {
    "open": "open",
    "in_progress": "in_progress",
    "In Progress": "in_progress",
    "in-progress": "in_progress",
    "resolved": "resolved",
    " Closed ": "closed",
}


@st.composite
def seen_pair(draw: st.DrawFn) -> tuple[Stamp, Stamp | None]:
    """first_seen and an optional last_seen no earlier than it."""
    first = draw(stamps())
    if draw(st.booleans()):
        return first, None
    gap = draw(st.sampled_from([0, 1, 999, 1000, 86_400 * 10**6]) | st.integers(0, 10**12))
    later = first.instant + timedelta(microseconds=gap)
    if later.year > 9998:
        return first, None
    tz = draw(offsets)
    # A float epoch is read to within a few tens of microseconds (its ulp): keep instants
    # closer than a millisecond in exact shapes, so that "last_seen >= first_seen" holds.
    near = gap < 1000
    if near and not first.exact:
        first = draw(st.sampled_from([s for s in shapes_of(first.instant, tz, "T") if s.exact]))
    choices = [s for s in shapes_of(later, tz, "T") if s.exact or not near]
    return first, draw(st.sampled_from(choices))


@st.composite
def loose_findings(draw: st.DrawFn) -> Loose:
    """A valid loose finding dict, in every shape normalize_finding accepts."""
    first, last = draw(seen_pair())
    severity_raw, severity = draw(severity_inputs())
    raw: dict[str, Any] = {
        "title": draw(st.text(STORABLE, min_size=3, max_size=100)),
        "description": draw(st.text(STORABLE, min_size=1, max_size=300)),
        "severity": severity_raw,
        "first_seen": first.raw,
    }
    if last is not None:
        raw["last_seen"] = last.raw
    status = draw(st.none() | st.sampled_from(sorted(STATUS_FORMS)))
    if status is not None:
        raw["status"] = status
    for key, size in (("asset_ref", 128), ("recommendation", 300)):
        choice = draw(st.sampled_from(["absent", "null", "text"]))
        if choice == "null":
            raw[key] = None
        elif choice == "text":
            raw[key] = draw(st.text(STORABLE, max_size=size))
    extra, metadata = draw(metadata_and_mitre())
    raw.update(extra)
    if draw(st.booleans()):
        raw["finding_id"] = draw(long_ids)
    order = draw(st.permutations(list(raw)))
    found = (first,) if last is None else (first, last)
    return Loose({k: raw[k] for k in order}, severity, metadata, found)
