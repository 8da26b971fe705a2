"""Every limit of the integration API (VectorVue commit 62be902), mirrored exactly.

One test per rule of ../shared/design/vectorvue-contract.md (the Event and Finding lists,
and "Limits the client mirrors exactly" / Integration API), each quoting the server's rule
in its docstring and trying the values on both sides of each bound. No stricter: a refused
finding is a lost finding. No looser: what VectorVue refuses after sending is a failure
(a 422, or a 500 retried four times).

"Sent" below is what the client would put on the wire: the normalized payload, encoded as
the sender encodes it (normalize refuses what it can see while deriving an id; the encoding
refuses the rest before anything is sent).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from vectorvue_client.domain.batching import plan_batches
from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.normalize import normalize_event, normalize_finding

LEVELS = ("info", "low", "medium", "high", "critical")


def event(**overrides: Any) -> dict[str, Any]:
    """A valid event with `overrides` applied (a key set to ... is removed)."""
    base: dict[str, Any] = {
        "event_id": "evt-1",
        "source_system": "spectrastrike",
        "event_type": "PORT_SCAN",
        "occurred_at": "2026-11-25T12:00:00Z",
        "severity": "low",
        "asset_ref": "192.0.2.10",
        "message": "port scan finished",
        "metadata": {},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def finding(**overrides: Any) -> dict[str, Any]:
    """A valid finding with `overrides` applied (a key set to ... is removed)."""
    base: dict[str, Any] = {
        "finding_id": "fnd-1",
        "title": "SSH allows password authentication",
        "description": "sshd accepts passwords.",
        "severity": "medium",
        "first_seen": "2026-11-25T09:00:00Z",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def sent(raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON object the client would send for `raw` (an event or a finding: the tests
    remove at most one of a finding's title and description)."""
    is_finding = "title" in raw or "description" in raw
    payload = normalize_finding(raw) if is_finding else normalize_event(raw)
    decoded: dict[str, Any] = msgspec.json.decode(encode_json_data(payload))
    return decoded


def refused_field(raw: dict[str, Any]) -> str:
    """The field the client names when it refuses `raw` (failing if it sends it)."""
    with pytest.raises(VectorVueSerializationError) as caught:
        sent(raw)
    return caught.value.field


# -- events ------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["event_id", "finding_id"])
def test_item_ids_are_1_to_128_of_the_id_pattern(field: str) -> None:
    """Server: `event_id`/`finding_id` optional, 1-128, `^[A-Za-z0-9._:-]+$`."""
    make = event if field == "event_id" else finding
    for good in ("a", "A" * 128, "a.b_c:d-9"):
        assert sent(make(**{field: good}))[field] == good
    for bad in ("", "A" * 129, "a b", "a/b", "é"):
        assert refused_field(make(**{field: bad})) == field


@pytest.mark.parametrize("field", ["source_system", "event_type"])
def test_names_are_1_to_64_of_the_id_pattern_and_required(field: str) -> None:
    """Server: `source_system`, `event_type` required, 1-64, same pattern as event_id."""
    for good in ("a", "n" * 64):
        assert sent(event(**{field: good}))[field] == good
    for bad in ("", "n" * 65, "PORT SCAN", ...):
        assert refused_field(event(**{field: bad})) == field


def test_occurred_at_is_required_and_sent_as_rfc3339_utc() -> None:
    """Server: `occurred_at` required, ISO-8601 datetime (we send RFC 3339 UTC with Z)."""
    assert sent(event(occurred_at="2026-11-25T13:00:00+01:00"))["occurred_at"] == (
        "2026-11-25T12:00:00Z"
    )
    assert refused_field(event(occurred_at=...)) == "occurred_at"


def test_event_severity_is_sent_as_one_of_the_five_levels() -> None:
    """Server: event `severity` raw 2-16 characters, trimmed + lower-cased one of
    info|low|medium|high|critical (no aliases). We accept aliases and CVSS scores and always
    send the canonical level, which is within 2-16 and needs no trimming."""
    assert sent(event(severity=" HIGH "))["severity"] == "high"
    assert sent(event(severity="informational"))["severity"] == "info"
    assert sent(event(severity=9.8))["severity"] == "critical"
    for level in LEVELS:
        got = sent(event(severity=level.upper()))["severity"]
        assert got == level and 2 <= len(got) <= 16
    assert refused_field(event(severity="urgent")) == "severity"


@pytest.mark.parametrize(("field", "low", "high"), [("asset_ref", 1, 128), ("message", 1, 1024)])
def test_event_texts_have_their_bounds(field: str, low: int, high: int) -> None:
    """Server: `asset_ref` required 1-128; `message` required 1-1024."""
    for length in (low, high):
        assert sent(event(**{field: "x" * length}))[field] == "x" * length
    for bad in ("x" * (low - 1), "x" * (high + 1), ...):
        assert refused_field(event(**{field: bad})) == field


def test_lengths_are_code_points_counted_before_trimming() -> None:
    """Server: lengths are counted in Unicode code points (Python `len`), before any
    trimming."""
    for char in ("é", "\U0001f600"):  # 2 and 4 bytes of UTF-8; the emoji is 2 UTF-16 units
        assert sent(event(message=char * 1024))["message"] == char * 1024
        assert refused_field(event(message=char * 1025)) == "message"
    assert sent(event(message=" "))["message"] == " "  # 1 code point untrimmed: accepted
    assert refused_field(event(message=" " + "x" * 1023 + " ")) == "message"  # 1025 raw


def test_metadata_is_an_object_never_null() -> None:
    """Server: `metadata` object (not null). Absent or null is sent as {}."""
    assert sent(event(metadata=None))["metadata"] == {}
    assert sent(event(metadata=...))["metadata"] == {}
    assert refused_field(event(metadata=["a"])) == "metadata"


def test_unknown_event_and_finding_fields_are_refused() -> None:
    """Server: unknown fields are rejected with 422."""
    assert refused_field(event(sevrity="high")) == "sevrity"
    assert refused_field(finding(state="open")) == "state"


# -- findings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "low", "high"), [("title", 3, 256), ("description", 1, 4096)])
def test_finding_texts_have_their_bounds(field: str, low: int, high: int) -> None:
    """Server: `title` 3-256; `description` 1-4096 (both required)."""
    for length in (low, high):
        assert sent(finding(**{field: "x" * length}))[field] == "x" * length
    for bad in ("x" * (low - 1), "x" * (high + 1), ...):
        assert refused_field(finding(**{field: bad})) == field


@pytest.mark.parametrize(("field", "high"), [("asset_ref", 128), ("recommendation", 2048)])
def test_optional_finding_texts_have_a_maximum_only(field: str, high: int) -> None:
    """Server: finding `asset_ref` <=128 optional; `recommendation` <=2048 optional."""
    for good in ("", "x" * high):
        assert sent(finding(**{field: good}))[field] == good
    assert field not in sent(finding())
    assert refused_field(finding(**{field: "x" * (high + 1)})) == field


def test_finding_severity_takes_the_servers_aliases_too() -> None:
    """Server: finding `severity` as for events, and also informational->info, med->medium."""
    assert sent(finding(severity="Informational"))["severity"] == "info"
    assert sent(finding(severity=" med "))["severity"] == "medium"
    assert refused_field(finding(severity=...)) == "severity"


def test_finding_status_is_trimmed_and_lower_cased() -> None:
    """Server: `status` raw 2-32 characters, trimmed + lower-cased one of
    open|in_progress|resolved|closed (default open). We send the canonical value."""
    assert sent(finding())["status"] == "open"
    assert sent(finding(status=" Resolved "))["status"] == "resolved"
    assert sent(finding(status="IN_PROGRESS"))["status"] == "in_progress"
    assert refused_field(finding(status="fixed")) == "status"
    assert refused_field(finding(status=1)) == "status"


def test_first_seen_is_required_and_last_seen_is_not_compared_with_it() -> None:
    """Server: `first_seen` required datetime; `last_seen` optional (the server does not
    compare it with first_seen: a last_seen before first_seen is stored as sent)."""
    early = sent(finding(first_seen="2026-11-25T10:00:00Z", last_seen="2026-11-25T08:00:00Z"))
    assert (early["first_seen"], early["last_seen"]) == (
        "2026-11-25T10:00:00Z",
        "2026-11-25T08:00:00Z",
    )
    assert refused_field(finding(first_seen=...)) == "first_seen"


# -- limits the client mirrors exactly ---------------------------------------------------------
@pytest.mark.parametrize("make", [event, finding], ids=["event", "finding"])
@pytest.mark.parametrize("with_id", [True, False], ids=["given id", "derived id"])
def test_a_nul_anywhere_is_refused_naming_the_field(make: Any, with_id: bool) -> None:
    """Server: NUL (U+0000) in any string, including `metadata` keys and values at any
    depth, is not validated but PostgreSQL refuses it: a single item fails with a plain 500
    (which a client would retry), a batch item with `ingest_failed`. Refused locally."""
    text_field = "message" if make is event else "description"
    id_field = "event_id" if make is event else "finding_id"
    cases: list[tuple[dict[str, Any], str]] = [
        ({text_field: "before\x00after"}, text_field),
        ({"metadata": {"k\x00": 1}}, "metadata.'k\\x00'"),
        ({"metadata": {"a": [{"b": "\x00"}]}}, "metadata.a[0].b"),
    ]
    for overrides, field in cases:
        raw = make(**overrides)
        if not with_id:
            del raw[id_field]
        assert refused_field(raw) == field
    # A backslash followed by "u0000" is text, not a NUL (it is escaped as \\u0000).
    assert sent(make(metadata={"path": "C:\\u0000"}))["metadata"] == {"path": "C:\\u0000"}


def nested(levels: int) -> dict[str, Any]:
    """A metadata object `levels` objects deep, itself included."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


@pytest.mark.parametrize("make", [event, finding], ids=["event", "finding"])
def test_metadata_nesting_is_capped_at_256_levels(make: Any) -> None:
    """Server: `metadata` any JSON object, no depth limit in the app (150 levels stored;
    its recursion breaks around 500): a client caps depth at 256, never lower."""
    assert sent(make(metadata=nested(150)))["metadata"] == nested(150)
    assert sent(make(metadata=nested(256)))["metadata"] == nested(256)
    with pytest.raises(VectorVueSerializationError) as caught:
        sent(make(metadata=nested(257)))
    assert caught.value.field.startswith("metadata.x")
    assert "256" in caught.value.rule


def test_mitre_ids_are_trimmed_and_upper_cased_then_matched() -> None:
    """Gateway rule, applied to the MITRE ids the client carries in metadata: every entry
    must be a string; trimmed and upper-cased it must fully match T####(.###) / TA####, and
    the normalized form is sent (t1059.001 -> T1059.001)."""
    got = sent(event(mitre_techniques=["t1595", " t1059.001 "], mitre_tactics=["ta0043"]))
    assert got["metadata"]["mitre_techniques"] == ["T1595", "T1059.001"]
    assert got["metadata"]["mitre_tactics"] == ["TA0043"]
    inside = sent(event(metadata={"mitre_techniques": ["t1046"]}))
    assert inside["metadata"]["mitre_techniques"] == ["T1046"]
    assert refused_field(event(mitre_techniques=[1595])) == "mitre_techniques[0]"
    assert refused_field(event(mitre_techniques=["T1595x"])) == "mitre_techniques[0]"
    assert refused_field(event(mitre_tactics=["T0043"])) == "mitre_tactics[0]"


def test_batches_hold_at_most_the_servers_batch_size() -> None:
    """Server: a batch holds at most VV_SPECTRASTRIKE_MAX_BATCH_SIZE items (default 250,
    clamped to 1-1000); more items -> 422 batch_too_large for the whole batch."""
    for limit in (1, 250, 1000):
        exact = plan_batches([10] * limit, max_count=limit, max_bytes=10**9)
        assert [len(b) for b in exact.batches] == [limit]
        over = plan_batches([10] * (limit + 1), max_count=limit, max_bytes=10**9)
        assert [len(b) for b in over.batches] == [limit, 1]
