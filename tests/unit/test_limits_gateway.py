"""Every limit of the telemetry gateway (POST /internal/v1/telemetry, VectorVue commit
c175221), one test each, with values on both sides of the boundary.

Each docstring quotes the server's rule from the contract file ("Limits the client mirrors
exactly" -> "Telemetry gateway"). The client must be equal to it: no stricter (a refused
finding is a lost finding), no looser (a 413, a 422 or a silent loss after sending)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.gateway_rules import SQL_LIKE, may_be_sql
from vectorvue_client.domain.models import GatewayRequest
from vectorvue_client.domain.profiles import GatewayContext, to_gateway
from vectorvue_client.domain.spectrastrike import SpectraStrikeOptions, parse_output
from vectorvue_client.samples import sample_path

TENANT = "10000000-0000-0000-0000-000000000001"
ATTESTATION = "cd" * 32
CONTEXT = GatewayContext(attestation_measurement_hash=ATTESTATION)
MIB = 1_048_576


def canonical(**overrides: Any) -> CanonicalEvent:
    values: dict[str, Any] = {
        "event_id": "evt-1",
        "event_type": "nmap_host_scanned",
        "source_system": "spectrastrike",
        "occurred_at": "2026-11-25T09:14:03Z",
        "severity": "low",
        "message": "192.0.2.10 up: 22/tcp ssh",
        "asset_ref": "192.0.2.10",
        "tenant_id": TENANT,
        "campaign_id": "cmp-001",
        "operator_id": "op-001",
        "tool": "nmap",
        "attributes": {"open_ports": [22]},
        "document_sha256": "ab" * 32,
    }
    values.update(overrides)
    return CanonicalEvent(**values)


def sent(event: CanonicalEvent, context: GatewayContext = CONTEXT) -> GatewayRequest:
    """The request the gateway decodes from an attempt's body."""
    body = to_gateway(event, context).body.render(1_795_564_800, "nonce-123")
    return msgspec.json.decode(body, type=GatewayRequest)


def refused(event: CanonicalEvent, context: GatewayContext = CONTEXT) -> dict[str, str]:
    """field -> rule of every problem; fails the test if the event is accepted."""
    with pytest.raises(VectorVueSerializationError) as caught:
        to_gateway(event, context)
    return {p.field: p.rule for p in caught.value.problems}


# -- size ----------------------------------------------------------------------------------
def padded(extra: int) -> CanonicalEvent:
    """An event whose largest possible body (10-digit timestamp, 128-character nonce) is
    exactly 1 MiB plus `extra` bytes."""
    base = to_gateway(canonical(attributes={"pad": ""}), CONTEXT).body.largest_size
    return canonical(attributes={"pad": "x" * (MIB - base + extra)})


def test_a_body_of_exactly_1_mib_passes_and_one_byte_more_is_refused() -> None:
    """Server: "raw body bytes as received > 1,048,576 (exactly 1,048,576 passes)" -> 413.
    Measured on the largest body an attempt can splice together, since the refusal would
    come after the attempt's nonce is spent."""
    largest = to_gateway(padded(0), CONTEXT).body.render(9_999_999_999, "n" * 128)
    assert len(largest) == MIB
    found = refused(padded(1))
    assert list(found) == ["payload.attributes.pad"]
    assert f"{MIB + 1:,} bytes" in found["payload.attributes.pad"]
    assert "1,048,576" in found["payload.attributes.pad"]


# -- SQL-looking content -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "x UNION SELECT password FROM users",
        "'; drop table users; --",
        "DELETE FROM accounts",
        "insert  into t values (1)",
        "update users set admin=1",
        "x or 1 = 1",
        "' OR 1=1 --",
        "drop\u00a0table users",  # \s is Unicode-aware: U+00A0 is a space
        "union\tselect",
        "ünïcode update naïve set x",  # \w takes any letter
    ],
)
def test_each_of_the_six_sql_patterns_is_refused(text: str) -> None:
    """Server: six case-insensitive patterns, searched anywhere in a string, Python
    Unicode semantics: \\bunion\\s+select\\b, \\bdrop\\s+table\\b, \\bdelete\\s+from\\b,
    \\binsert\\s+into\\b, \\bupdate\\s+\\w+\\s+set\\b, \\bor\\s+1\\s*=\\s*1\\b -> 422."""
    assert "SQL" in refused(canonical(description=text))["payload.description"]
    assert "SQL" in refused(canonical(attributes={"q": text}))["payload.attributes.q"]


@pytest.mark.parametrize(
    "text",
    [
        "union all select",  # not `union\s+select`
        "update my-table set",  # `-` is not \w
        "or 1=10",  # \b after the last 1
        "for 1=1",  # \b before `or`
        "dropped tables",
        "unionselect",
        "insert\u200binto",  # U+200B is not whitespace to Python's \s
    ],
)
def test_near_misses_of_the_sql_patterns_are_sent(text: str) -> None:
    """Server: the same six patterns, nothing more: what none of them matches is accepted,
    so the client must send it (a false refusal is a lost finding)."""
    assert sent(canonical(description=text)).payload.description == text
    assert sent(canonical(attributes={"q": [{"r": text}]})).payload.attributes["q"] == [{"r": text}]


def test_sql_is_searched_in_description_and_attribute_values_only() -> None:
    """Server: "Scanned: payload.description (when non-empty) and every string VALUE
    anywhere inside payload.attributes ... Not scanned: attribute keys, any other field
    (... operator_id, campaign_id are free text and not scanned)"."""
    nested = {"a": [1, {"b": ["ok", "DROP TABLE x"]}]}
    assert list(refused(canonical(attributes=nested))) == ["payload.attributes.a[1].b[1]"]
    key = sent(canonical(attributes={"union select": "v"}))
    assert key.payload.attributes["union select"] == "v"
    operator = sent(canonical(operator_id="or 1=1", campaign_id="drop table"))
    assert (operator.operator_id, operator.campaign_id) == ("or 1=1", "drop table")


SQL_ALPHABET = st.sampled_from(
    [*"unionselectdroptabdefrmiswpaORUNIONSELECT1= _-\t\n\u00a0\u2028", *"\u0130\u0131\u017f\u212a"]
)


@example(["un\u0130on", " select"])
@example(["union ", "\u017felect"])
@example(["\u0131nsert into"])
@example([" OR 1 =1"])
@given(st.lists(st.one_of(SQL_ALPHABET, st.sampled_from(["union", "select", "update", "or 1"]))))
def test_the_cheap_sql_test_never_hides_a_match(pieces: list[str]) -> None:
    """Python's case-insensitive regex is slow, so text is first tested with str methods:
    whatever the six patterns match, that test lets through to the regex."""
    text = "".join(pieces)
    assert may_be_sql(text) or SQL_LIKE.search(text) is None
    assert not may_be_sql("192.0.2.10 up: 22/tcp ssh, 80/tcp http for a scan of ports")


def test_only_four_non_ascii_letters_fold_to_ascii_ones() -> None:
    """What the cheap test rests on: under IGNORECASE exactly four non-ASCII characters
    match an ASCII letter, and str.lower() turns no other into one."""
    non_ascii = "".join(map(chr, range(0x80, sys.maxunicode + 1)))
    twins = [chr(0x130), chr(0x131), chr(0x17F), chr(0x212A)]
    assert re.findall("[a-z]", non_ascii, re.IGNORECASE) == twins
    others = non_ascii.translate(dict.fromkeys(map(ord, twins)))
    assert re.search("[a-z]", others.lower()) is None


# -- payload fields ------------------------------------------------------------------------
def test_severity_is_trimmed_and_lower_cased_as_the_gateway_does() -> None:
    """Server: "severity: raw string 2-16 characters; trimmed and lower-cased it must be
    one of the five values (so " HIGH " is accepted and stored as high)"."""
    event = canonical(severity=" HIGH ")  # a CanonicalEvent need not hold the folded form
    assert sent(event).payload.severity == "high"
    assert "critical" in refused(canonical(severity="severe"))["payload.severity"]


def test_mitre_ids_are_trimmed_upper_cased_and_counted() -> None:
    """Server: "mitre_techniques (1-32) / mitre_tactics (0-32): every entry must be a JSON
    string (numbers are refused); the server trims and upper-cases it, then it must fully
    match T\\d{4}(?:\\.\\d{3})? / TA\\d{4}; the normalized form is stored"."""
    request = sent(canonical(mitre_techniques=("t1595", " t1059.001 "), mitre_tactics=("ta0043",)))
    assert request.payload.mitre_techniques == ["T1595", "T1059.001"]
    assert request.payload.mitre_tactics == ["TA0043"]
    assert len(sent(canonical(mitre_techniques=("T1595",) * 32)).payload.mitre_techniques) == 32
    one = ("T1595",)
    assert sent(canonical(mitre_techniques=one, mitre_tactics=())).payload.mitre_tactics == []
    tactics = sent(canonical(mitre_techniques=one, mitre_tactics=("TA0043",) * 32))
    assert len(tactics.payload.mitre_tactics) == 32
    assert "32" in refused(canonical(mitre_techniques=one * 33))["payload.mitre_techniques"]
    too_many = refused(canonical(mitre_techniques=one, mitre_tactics=("TA0043",) * 33))
    assert "32" in too_many["payload.mitre_tactics"]
    assert "never guessed" in refused(canonical(tool=None))["payload.mitre_techniques"]
    ids: Any = ("T1595", 1595, "T1595.01", "TA0043")
    bad = refused(canonical(mitre_techniques=ids))
    assert set(bad) == {f"payload.mitre_techniques[{i}]" for i in (1, 2, 3)}


@pytest.mark.parametrize(
    ("field", "most", "event_field"),
    [
        ("payload.event_id", 128, "event_id"),
        ("payload.event_type", 64, "event_type"),
        ("payload.source_system", 64, "source_system"),
        ("operator_id", 128, "operator_id"),
        ("campaign_id", 128, "campaign_id"),
        ("payload.description", 2048, "description"),
    ],
)
def test_text_lengths_in_characters(field: str, most: int, event_field: str) -> None:
    """Server: event_id <=128, event_type <=64, source_system <=64 (pattern
    [A-Za-z0-9._:-]+), operator_id and campaign_id 1-128, description <=2048; "the fields'
    lengths are in characters = Unicode code points"."""
    free_text = event_field in {"operator_id", "campaign_id", "description"}
    longest = ("é" if free_text else "x") * most  # é: characters, not UTF-8 bytes
    request = msgspec.to_builtins(sent(canonical(**{event_field: longest})))
    assert (request["payload"] if field.startswith("payload.") else request)[
        field.removeprefix("payload.")
    ] == longest
    too_long = refused(canonical(**{event_field: "x" * (most + 1)}))
    assert f"got {most + 1}" in too_long[field]
    if field.startswith("payload.") and event_field != "description":
        assert "letters, digits" in refused(canonical(**{event_field: "a b"}))[field]


def test_tenant_id_is_a_uuid_and_execution_hash_64_characters() -> None:
    """Server: "tenant_id": UUID (36 chars, hex and dashes); "execution_hash": exactly 64
    characters (the gateway checks only the length; the client sends hex)."""
    assert sent(canonical(tenant_id=TENANT.upper())).tenant_id == TENANT.upper()
    assert "UUID" in refused(canonical(tenant_id=TENANT[:-1]))["tenant_id"]
    assert sent(canonical(execution_hash="0f" * 32)).execution_hash == "0f" * 32
    assert "64" in refused(canonical(execution_hash="0f" * 31 + "0"))["execution_hash"]


def test_attestation_is_read_trimmed_as_64_hex_of_either_case() -> None:
    """Server: "attributes.attestation_measurement_hash: required; converted to a string
    and trimmed it must be 64 hex of either case"."""
    own = " " + "AB" * 32 + " "
    request = sent(canonical(attributes={"attestation_measurement_hash": own}))
    assert request.payload.attributes["attestation_measurement_hash"] == own
    assert sent(canonical()).payload.attributes["attestation_measurement_hash"] == ATTESTATION
    field = "payload.attributes.attestation_measurement_hash"
    assert field in refused(canonical(attributes={"attestation_measurement_hash": "ab" * 31}))
    assert field in refused(canonical(), GatewayContext())


def test_schema_version_is_configured_unless_the_event_has_its_own() -> None:
    """Server: "attributes.schema_version: converted to a string and trimmed, must be
    non-empty and in the allowed list (default ["1.0"], configurable) ... A value starting
    with 2. additionally requires attributes.contract_v2, an object" -> 422."""
    assert sent(canonical()).payload.attributes["schema_version"] == "1.0"
    configured = GatewayContext(attestation_measurement_hash=ATTESTATION, schema_version="1.1")
    assert sent(canonical(), configured).payload.attributes["schema_version"] == "1.1"
    own = sent(canonical(attributes={"schema_version": "1.2"}), configured)
    assert own.payload.attributes["schema_version"] == "1.2"
    v2 = {"schema_version": " 2.0", "contract_v2": {"execution": {}}}
    assert sent(canonical(attributes=v2)).payload.attributes["contract_v2"] == {"execution": {}}
    missing = refused(canonical(attributes={"schema_version": "2.1"}))
    assert "object" in missing["payload.attributes.contract_v2"]
    not_object = refused(canonical(attributes={"schema_version": "2.0", "contract_v2": []}))
    assert "payload.attributes.contract_v2" in not_object
    v2_configured = GatewayContext(attestation_measurement_hash=ATTESTATION, schema_version="2.0")
    assert "payload.attributes.contract_v2" in refused(canonical(), v2_configured)
    assert (
        "empty"
        in refused(canonical(attributes={"schema_version": " "}))[
            "payload.attributes.schema_version"
        ]
    )


# -- what the gateway accepts but cannot store ---------------------------------------------
def test_a_nul_character_anywhere_is_refused_and_an_escaped_backslash_is_not_one() -> None:
    """Server: "NUL (U+0000) anywhere passes validation but cannot be stored by PostgreSQL:
    by default the event is then silently not persisted (still 202) ... The client refuses
    NUL locally"."""
    assert list(refused(canonical(description="a\x00b"))) == ["payload.description"]
    assert list(refused(canonical(attributes={"k": ["x\x00"]}))) == ["payload.attributes.k[0]"]
    assert list(refused(canonical(attributes={"k\x00": "v"}))) == ["payload.attributes.'k\\x00'"]
    assert list(refused(canonical(operator_id="op\x00"))) == ["operator_id"]
    literal = "C:\\u0000 and \\\\u0000"  # backslashes, not NUL
    assert sent(canonical(description=literal)).payload.description == literal


# -- depth ---------------------------------------------------------------------------------
def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"d": value}
    return value


def test_attributes_nested_deep_are_sent_up_to_the_clients_cap() -> None:
    """Server: "attributes: no explicit depth, key-count or size limit. Deep nesting
    crashes the recursive validator with a plain 500 (measured: beyond about 500 levels;
    150 levels are accepted). A client caps depth at 256 ... never lower"."""
    envelope = json.loads(sample_path("broker-envelope.jsonl").read_text().splitlines()[0])
    options = SpectraStrikeOptions(source_system="spectrastrike")

    def deep(levels: int) -> dict[str, Any]:
        return {**envelope, "attributes": {**envelope["attributes"], "deep": nested(levels)}}

    (event,) = parse_output(deep(250), options)
    assert isinstance(event, CanonicalEvent)
    assert sent(event).payload.attributes["deep"] == nested(250)
    with pytest.raises(VectorVueSerializationError) as caught:
        parse_output(deep(400), options)
    assert "deep" in str(caught.value)
