"""The fast paths give exactly what the full readings give, for every input they accept.

The domain reads most input twice over in principle and once in practice: a fast path for
what is plainly right (plain JSON data copied or checked without building paths; UTC ISO
timestamps; items with nothing wrong in them read without collecting problems; shapes
decided by a table; scans of text skipped when they cannot match), and the full reading for
everything else, which gives the precise errors. The properties here hold the two to one
result: for every input, the fast path either declines or returns what the full reading
returns (same values, same types, same bytes once encoded), and so never accepts what the
full reading refuses.

A document given as a read-only mapping (types.MappingProxyType) instead of a dict takes
the full reading, as any caller's Mapping would: that is how the full reading is reached
here, with no private switch. Inputs are the valid documents of every shape, then the same
documents broken in one to three places (a key removed, added or set to a hostile value).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import string
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorvue_client.adapters import transport_urllib3
from vectorvue_client.domain import encoding, normalize_fast, timestamps
from vectorvue_client.domain.encoding import NOT_PLAIN, encode, is_plain, plain_copy, to_json_value
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.models import IntegrationEvent
from vectorvue_client.domain.normalize import Problems, normalize_event, normalize_finding
from vectorvue_client.domain.redaction import _SHAPES, scrub
from vectorvue_client.domain.spectrastrike import assembly, detect_shape, parse_output
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.spectrastrike.evidence import _SESSION_SECRETS, mask_session_output
from vectorvue_client.domain.spectrastrike.nmap import _host
from vectorvue_client.domain.spectrastrike.shapes import DETECTION_RULES

from .strategies import json_data, loose_data, loose_events, loose_findings, stamps
from .test_spectrastrike_strategies import (
    cloudevents,
    envelopes,
    findings,
    integration_events,
    internal_events,
    metasploit_results,
    nmap_hosts,
    nmap_results,
)


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


def same_outcome(fast: tuple[Any, ...], full: tuple[Any, ...]) -> None:
    """Assert the two outcomes are one."""
    assert fast == full


# -- hostile values and broken documents ------------------------------------------------------
class Label(StrEnum):
    """A str subclass, as an enum-minded caller might pass."""

    HIGH = "high"


class Level(IntEnum):
    """An int subclass."""

    THREE = 3


class Text(str):
    """A plain str subclass."""


HOSTILE: list[Any] = [
    None,
    "",
    " ",
    "x" * 300,
    0,
    -1,
    70000,
    True,
    1.5,
    -0.0,
    math.nan,
    math.inf,
    [],
    (),
    {},
    {"a": math.nan},
    {1: "int key"},
    ("T1059",),
    ["T1059"],
    ["TA0001"],
    "T1059",
    "med",
    " CRIT ",
    7.5,
    11,
    "2026-02-30T00:00:00Z",
    "2026-11-25T24:00:00Z",
    "2026-11-25T09:14:03.000000Z",
    "2026-11-25t09:14:03Z",
    "2026-11-25T09:14:03.5Z",
    "1764061200",
    1764061200,
    1764061200000,
    "orchestrator",
    "192.0.2.1",
    "10000000-0000-0000-0000-000000000001",
    "f" * 64,
    datetime(2026, 1, 1, 12, tzinfo=UTC),
    "line\nbreak",
    "\u017fecret=1",
    b"bytes",
    {1, 2},
    Label.HIGH,
    Level.THREE,
    Text("up"),
    Text("2026-11-25T09:14:03Z"),
    "application/json",
    "text/plain",
]
hostile = st.sampled_from(HOSTILE) | json_data | loose_data

# Every key some normalizer knows, and a few it does not.
KEYS = [
    "X",
    "actor",
    "address",
    "asset_ref",
    "attempt",
    "attributes",
    "campaign_id",
    "command",
    "context",
    "data",
    "data_base64",
    "datacontenttype",
    "dataschema",
    "description",
    "event_id",
    "event_type",
    "execution_hash",
    "ext1",
    "finding_id",
    "finished_at",
    "first_seen",
    "host_count",
    "hosts",
    "id",
    "idempotency_key",
    "job_id",
    "last_seen",
    "message",
    "metadata",
    "mitre_tactics",
    "mitre_techniques",
    "module_name",
    "module_type",
    "name",
    "occurred_at",
    "open_ports",
    "operator_id",
    "ordering_key",
    "os_matches",
    "output",
    "output_format",
    "port",
    "protocol",
    "raw_execute_response",
    "recommendation",
    "scan_summary",
    "scanned_hosts",
    "schema_version",
    "services",
    "session_count",
    "session_id",
    "session_type",
    "sessions",
    "severity",
    "sevrity",
    "source",
    "source_system",
    "specversion",
    "started_at",
    "status",
    "stream_position",
    "subject",
    "summary",
    "target",
    "target_host",
    "tenant_id",
    "time",
    "timestamp",
    "title",
    "tool",
    "total_hosts",
    "type",
    "uuid",
]


def containers(value: Any) -> list[Any]:
    """Every dict and list inside `value`, `value` included."""
    found = [value] if isinstance(value, (dict, list)) else []
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, (dict, list)):
        for child in children:
            found += containers(child)
    return found


@st.composite
def broken(draw: st.DrawFn, documents: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A document of `documents`, as it is or broken in one to three places."""
    doc = copy.deepcopy(draw(documents))
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(containers(doc)))
        if isinstance(target, list):
            if target:
                target[draw(st.integers(0, len(target) - 1))] = copy.deepcopy(draw(hostile))
            continue
        key = draw(st.sampled_from(sorted(set(target) | set(KEYS), key=str)))
        if key in target and draw(st.booleans()):
            del target[key]
        else:
            target[key] = copy.deepcopy(draw(hostile))  # HOSTILE's own lists stay as they are
    return doc


any_document = st.one_of(
    envelopes(),
    internal_events(),
    cloudevents(),
    nmap_results(),
    metasploit_results(),
    integration_events(),
    findings(),
)


# -- whole documents ----------------------------------------------------------------------------
@settings(max_examples=400)
@given(broken(any_document))
def test_parse_output_is_the_full_reading(document: dict[str, Any]) -> None:
    """A document (valid or broken) gives the same items, or the same problems, whether it
    goes through the fast paths (a dict) or the full reading (a mapping proxy)."""
    same_outcome(outcome(parse_output, document), outcome(parse_output, MappingProxyType(document)))


@settings(max_examples=200)
@given(broken(any_document))
def test_encoded_items_are_the_full_readings_bytes(document: dict[str, Any]) -> None:
    """Items that both readings accept encode to the same bytes (ids and hashes included)."""
    try:
        fast = parse_output(document)
    except VectorVueSerializationError:
        return
    full = parse_output(MappingProxyType(document))
    assert [encode(i) for i in fast] == [encode(i) for i in full]


@settings(max_examples=200)
@given(broken(st.text(string.ascii_lowercase, min_size=1, max_size=12).flatmap(nmap_hosts)))
def test_an_nmap_host_is_read_as_the_full_reading_reads_it(host: dict[str, Any]) -> None:
    """The fast path of one nmap host (and of its ports and services) against the full one."""
    full = outcome(_host, MappingProxyType(host), "hosts[0]")
    same_outcome(outcome(_host, host, "hosts[0]"), full)


@settings(max_examples=300)
@given(broken(st.builds(lambda c: c.raw, loose_events())))
def test_normalize_event_is_the_full_reading(raw: dict[str, Any]) -> None:
    """normalize_event of a loose event (valid or broken) against its full reading, and the
    fast path alone: it declines, or it returns exactly the full reading's event."""
    full = outcome(normalize_event, MappingProxyType(raw))
    same_outcome(outcome(normalize_event, raw), full)
    fast = outcome(normalize_fast.event, raw)
    if fast[0] == "ok" and fast[1] != typed(None):
        assert fast == full


@settings(max_examples=300)
@given(broken(st.builds(lambda c: c.raw, loose_findings())))
def test_normalize_finding_is_the_full_reading(raw: dict[str, Any]) -> None:
    """normalize_finding of a loose finding (valid or broken) against its full reading, and
    the fast path alone, as for events."""
    full = outcome(normalize_finding, MappingProxyType(raw))
    same_outcome(outcome(normalize_finding, raw), full)
    fast = outcome(normalize_fast.finding, raw)
    if fast[0] == "ok" and fast[1] != typed(None):
        assert fast == full


@settings(max_examples=200)
@given(st.builds(lambda c: c.raw, loose_events() | loose_findings()))
def test_normalized_payloads_read_again_come_back_unchanged(raw: dict[str, Any]) -> None:
    """A normalized payload, as a dict (what to_integration_event and a re-check hand over),
    is accepted by the fast path and comes back exactly as it was."""
    normalize = normalize_event if "occurred_at" in raw else normalize_finding
    fast = normalize_fast.event if "occurred_at" in raw else normalize_fast.finding
    payload = normalize(raw)
    again = msgspec.structs.asdict(payload)
    assert typed(fast(again)) == typed(payload)
    assert encode(normalize(again)) == encode(payload)


# -- field rules ----------------------------------------------------------------------------------
def shape_detection_by_rules(keys: frozenset[str]) -> Any:
    """The detection table read row by row (the full reading), as an outcome."""
    found = [rule.shape for rule in DETECTION_RULES if rule.matches(keys)]
    return found[0] if len(found) == 1 else None


@given(st.sets(st.sampled_from(KEYS), max_size=9))
def test_shape_decisions_are_the_table_rows(keys: set[str]) -> None:
    """detect_shape of a dict (the precomputed decisions) against the table read row by row."""
    document = dict.fromkeys(keys, 1)
    same_outcome(outcome(detect_shape, document), outcome(detect_shape, MappingProxyType(document)))
    expected = shape_detection_by_rules(frozenset(keys))
    if expected is not None:
        assert detect_shape(document) is expected


LIFT_RULES = [
    ("tenant_id", f.uuid),
    ("campaign_id", f.nonempty),
    ("actor", f.nonempty),
    ("severity", f.severity),
    ("mitre_techniques", f.mitre),
    ("mitre_tactics", f.mitre),
    ("execution_hash", f.hex64),
    ("description", f.description),
]


def lift_each_key(sources: Sequence[f.Source], problems: Problems) -> assembly.Lifted:
    """lift_common as first written: every key through f.lift, one problems.check each."""

    def one(key: str, rule: Any) -> Any:
        return problems.check(lambda: f.lift(sources, key, rule))

    tenant, campaign, actor, severity, techniques, tactics, execution_hash, description = [
        one(key, rule) for key, rule in LIFT_RULES
    ]
    return assembly.Lifted(
        tenant_id=tenant,
        campaign_id=campaign,
        operator_id=actor,
        severity=severity,
        mitre_techniques=techniques or (),
        mitre_tactics=tactics or (),
        execution_hash=execution_hash,
        description=description,
    )


lift_values = st.dictionaries(
    st.sampled_from([*(k for k, _ in LIFT_RULES), "other"]),
    st.sampled_from([*HOSTILE, "op-001", "T1059", "low", "d" * 10]),
    max_size=6,
)


@given(lift_values, lift_values)
def test_lift_common_lifts_each_key_as_before(top: dict[str, Any], attrs: dict[str, Any]) -> None:
    """Skipping the keys no source holds changes no lifted value and no problem."""
    sources = [("", top), ("attributes", attrs)]
    got, expected = Problems(), Problems()
    assert typed(assembly.lift_common(sources, got)) == typed(lift_each_key(sources, expected))
    assert got.found == expected.found


@settings(max_examples=200)
@given(broken(any_document), st.sampled_from([(), ("attempt", "stream_position"), ("data",)]))
def test_document_hash_is_the_full_readings(document: dict[str, Any], without: Any) -> None:
    """document_sha256 of plain data (no copy made) against the checked copy's hash."""
    same_outcome(
        outcome(assembly.document_sha256, document, without),
        outcome(assembly.document_sha256, MappingProxyType(document), without),
    )


# -- JSON data ------------------------------------------------------------------------------------
@dataclasses.dataclass
class Reading:
    """A dataclass msgspec encodes."""

    score: float


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
        nested(31),
        nested(32),
        nested(33),
        {"a": nested(32)},
    ]
)
odd_data = st.recursive(
    st.one_of(json_data, odd_leaves),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300)
@given(loose_data | odd_data)
@example(nested(32))
@example(nested(33))
@example({"a": {"b": (1, math.nan)}})
def test_plain_copy_is_the_checked_copy(value: Any) -> None:
    """plain_copy declines, or copies exactly what to_json_value's checking walk copies;
    is_plain says which; and to_json_value's answer is the checking walk's."""
    copied = plain_copy(value)
    checked = outcome(encoding._to_json_value, value, "metadata", 0)
    if copied is not NOT_PLAIN:
        assert ("ok", typed(copied)) == checked
    assert is_plain(value) == (copied is not NOT_PLAIN)
    same_outcome(outcome(to_json_value, value, "metadata"), checked)


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


def an_event(metadata: Any) -> IntegrationEvent:
    """An event Struct built directly (no validation), carrying `metadata`."""
    return IntegrationEvent(
        event_id="e",
        source_system="s",
        event_type="t",
        occurred_at="2026-11-25T12:00:00Z",
        severity="low",
        asset_ref="a",
        message="null",
        metadata=metadata,
    )


@settings(max_examples=300)
@given(st.one_of(loose_data, odd_data, odd_data.map(lambda v: an_event({"v": v, "n": None}))))
def test_encode_refuses_exactly_what_the_full_walk_refuses(payload: Any) -> None:
    """The typed pre-check of encode (no paths built) refuses what the walk refuses, with
    the walk's own error, and lets through the very same bytes otherwise."""
    same_outcome(outcome(encode, payload), outcome(encode_as_before, payload))
    walked = outcome(encoding._reject_non_finite, payload, "")
    assert encoding._all_finite(payload) == (walked[0] == "ok")


# -- timestamps -----------------------------------------------------------------------------------
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
        st.sampled_from(HOSTILE),
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
    same_outcome(outcome(timestamps.to_rfc3339, value, "t"), outcome(rfc3339_as_before, value, "t"))


# -- text scans -----------------------------------------------------------------------------------
def scrub_as_before(text: str) -> str:
    """scrub (with no known secret) as first written: every shape's scan, always."""
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def mask_as_before(text: str) -> str:
    """mask_session_output as first written: every scan, always."""
    for pattern, replacement in _SESSION_SECRETS:
        text = pattern.sub(replacement, text)
    return scrub_as_before(text)


secret_words = st.sampled_from(
    [
        "Bearer abc.def-123456",
        "BASIC dXNlcjpwYXNzd29yZA==",
        "https://user:pw@host/x",
        "API_KEY=abc123",
        "Api-Key: 'x y'",
        "client_secret: s3cr3t!",
        "PassWord=hunter2",
        "passwd:x",
        "TOKEN=tok",
        "Authorization: Basic Zm9v",
        "\u017fecret=1",
        "pa\u017f\u017fword=2",
        "api\u212aey=3",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        "aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0",
        "$6$saltsalt$abcdefghijk",
        "nothing here",
        "uid=0(root) gid=0(root)",
    ]
)
scrub_texts = st.lists(secret_words | st.text(max_size=20), max_size=6).map(" ".join)


@settings(max_examples=400)
@given(scrub_texts)
def test_scrub_skips_only_scans_that_cannot_match(text: str) -> None:
    """scrub and mask_session_output skip a scan only where it would have changed nothing."""
    assert scrub(text) == scrub_as_before(text)
    assert mask_session_output(text) == mask_as_before(text)


@pytest.mark.parametrize("text", ["\u017fecret=1", "api\u212aey=3", "pa\u017f\u017fword=2"])
def test_non_ascii_case_folding_still_masks(text: str) -> None:
    """Text outside ASCII takes every scan: (?i) matches the long s and the Kelvin sign."""
    assert scrub(text) == scrub_as_before(text)
    assert "***" in scrub(text)


# -- request header checks ----------------------------------------------------------------------
def header_problem_as_before(name: str, value: str) -> str | None:
    """The urllib3 transport's header rule as first written, one string test at a time."""
    if not name or name[0].isspace() or ":" in name or "\r" in name or "\n" in name:
        return "name"
    if value and (value[0].isspace() or "\r" in value or "\n" in value):
        return "value"
    return None


header_text = st.text(
    st.sampled_from(" \t\r\n\x0b\x0c\x1c\x85\xa0\u2028\u3000:aZ-0\x00") | st.characters(),
    max_size=6,
)


@settings(max_examples=1000)
@given(header_text, header_text)
@example("", "v")
@example("\u3000X", "v")
@example("X", "\x85v")
@example("X", "")
def test_header_checks_are_the_string_tests(name: str, value: str) -> None:
    """The regex searches refuse exactly what the string tests refused (\\s is isspace)."""
    assert transport_urllib3._header_problem(name, value) == header_problem_as_before(name, value)
