"""The telemetry gateway's rules, as LocalVectorVue states them: each test sends raw bytes
over HTTPS to 127.0.0.1 (signed by hand: test_receiver_gateway.Producer) and reads the
server's answer, independent of the client's code. The rules are VectorVue's gateway
(design/vectorvue-contract.md, "Limits the client mirrors exactly"); boundaries are tested
on both sides. What the gateway stores is read back as VectorVue would hold it."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import (
    IDENTITY,
    MIB,
    MINUTE_START,
    OPERATOR,
    PATH,
    TENANT,
    Clock,
    Producer,
    event_body,
    new_nonce,
)

REFUSED = "Canonical telemetry schema validation failed"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START + 0.5)


@pytest.fixture
def gateway(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> LocalVectorVue:
    return local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=clock,
    )


@pytest.fixture
def producer(gateway: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> Iterator[Producer]:
    p = Producer(gateway, key, clock)
    yield p
    p.close()


def send(producer: Producer, document: dict[str, Any] | bytes) -> tuple[int, str]:
    """POST `document` (a dict to fill in with this attempt's timestamp and nonce, or raw
    bytes signed as they are): (status, detail or body text)."""
    t, nonce = int(producer.clock()), new_nonce()
    if isinstance(document, dict):
        document = {**document, "timestamp": t, "nonce": nonce}
        raw = json.dumps(document, ensure_ascii=False).encode()
    else:
        raw = document
    response = producer.send(raw=raw, nonce=nonce, timestamp=t)
    try:
        return response.status_code, str(response.json().get("detail", ""))
    except ValueError:
        return response.status_code, response.text


def body(**payload: Any) -> dict[str, Any]:
    """A valid body; `payload` overrides payload fields (timestamp and nonce: see `send`)."""
    return event_body(0, "unused-nonce", **payload)


def attributes(**extra: Any) -> dict[str, Any]:
    return {"attestation_measurement_hash": "cd" * 32, "schema_version": "1.0", **extra}


def stored_payload(gateway: LocalVectorVue, event_id: str = "evt-1") -> dict[str, Any]:
    payload: dict[str, Any] = gateway.accepted_telemetry()[(TENANT, event_id)]["payload"]
    return payload


# -- checked before any authentication, in this order ----------------------------------------
def _unsigned(gateway: LocalVectorVue, body_bytes: bytes, content_type: str | None) -> int:
    """POST with no identity or signature headers at all."""
    context = ssl.create_default_context(cafile=gateway.ca_pem_path)
    port = int(gateway.url.rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    headers = {} if content_type is None else {"Content-Type": content_type}
    try:
        connection.request("POST", PATH, body=body_bytes, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("content_type", "body_bytes", "status"),
    [
        ("text/plain", b"", 415),  # the media type before the empty body
        (None, b"{}", 415),
        ("application/json; charset=utf-8", b"", 422),  # a substring: a parameter is fine
        ("Application/JSON", b"", 422),  # lower-cased before the check
        ("application/json", b"{}", 401),  # only then authentication
    ],
)
def test_media_type_then_empty_body_come_before_authentication(
    gateway: LocalVectorVue, content_type: str | None, body_bytes: bytes, status: int
) -> None:
    assert _unsigned(gateway, body_bytes, content_type) == status


def test_exactly_1_mib_passes_and_one_byte_more_is_413_before_authentication(
    gateway: LocalVectorVue, producer: Producer, clock: Clock
) -> None:
    t, nonce = int(clock()), new_nonce()
    compact = json.dumps(event_body(t, nonce)).encode()
    at_cap = compact + b" " * (MIB - len(compact))  # trailing whitespace is valid JSON

    fits = producer.send(raw=at_cap, nonce=nonce, timestamp=t)
    over = _unsigned(gateway, at_cap + b" ", "application/json")

    assert len(at_cap) == MIB
    assert fits.status_code == 202
    assert over == 413


# -- SQL-looking text -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "x UNION SELECT password",
        "then drop table users",
        "Delete From logs",
        "insert into t values (1)",
        "update my_table set a=1",
        "x or 1 = 1",
        "x OR 1=1--",
        "drop\u00a0table users",  # \s is Unicode: a no-break space is a space
        "update tâble set x",  # \w is Unicode
    ],
)
def test_each_sql_pattern_is_refused_in_the_description_and_in_attributes(
    producer: Producer, text: str
) -> None:
    in_description = send(producer, body(description=text))
    deep = attributes(evidence={"requests": [{"q": text}]})
    in_attributes = send(producer, body(attributes=deep))

    assert in_description[0] == 422
    assert in_description[1].startswith(f"{REFUSED}: payload.description looks like SQL")
    assert in_attributes[0] == 422
    assert "payload.attributes.evidence.requests[0].q looks like SQL" in in_attributes[1]


@pytest.mark.parametrize(
    "text",
    [
        "x or 1=10",
        "union all select",
        "update my-table set",
        "dropped table",
        "selected union",
        "the update set",
    ],
)
def test_text_that_only_resembles_sql_is_accepted(
    producer: Producer, gateway: LocalVectorVue, text: str
) -> None:
    assert send(producer, body(description=text, attributes=attributes(note=text)))[0] == 202
    assert stored_payload(gateway)["attributes"]["note"] == text


def test_keys_numbers_and_other_fields_are_not_scanned(
    producer: Producer, gateway: LocalVectorVue
) -> None:
    document = body(attributes=attributes(**{"drop table": 1, "n": 11}))
    document["campaign_id"] = document["signed_metadata"]["campaign_id"] = "drop table x"

    assert send(producer, document)[0] == 202


# -- MITRE, severity and the rest of the payload ------------------------------------------------
@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("mitre_techniques", ["t1595", " T1059.001 ", "T1595"], ["T1595", "T1059.001", "T1595"]),
        ("mitre_tactics", ["ta0043 "], ["TA0043"]),
        ("mitre_tactics", [], []),
    ],
)
def test_mitre_entries_are_trimmed_and_upper_cased_then_stored_so(
    producer: Producer, gateway: LocalVectorVue, field: str, sent: list[str], stored: list[str]
) -> None:
    assert send(producer, body(**{field: sent}))[0] == 202
    assert stored_payload(gateway)[field] == stored


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("mitre_techniques", []),
        ("mitre_techniques", ["T159"]),
        ("mitre_techniques", ["T1059.01"]),
        ("mitre_techniques", ["TA0001"]),
        ("mitre_techniques", [1059]),
        ("mitre_techniques", ["T1059"] * 33),
        ("mitre_tactics", ["T1059"]),
        ("mitre_tactics", ["TA0001"] * 33),
    ],
)
def test_mitre_entries_outside_the_rules_are_refused(
    producer: Producer, field: str, sent: list[Any]
) -> None:
    status, text = send(producer, body(**{field: sent}))

    assert status == 422
    assert field in text


def test_32_mitre_entries_pass(producer: Producer) -> None:
    document = body(mitre_techniques=["T1059"] * 32, mitre_tactics=["TA0001"] * 32)

    assert send(producer, document)[0] == 202


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (" HIGH ", 202),
        ("info" + " " * 12, 202),  # 16 characters
        ("info" + " " * 13, 422),  # 17
        ("x", 422),
        ("informational", 422),  # no aliases on the gateway
        ("med", 422),
    ],
)
def test_severity_is_2_to_16_characters_trimmed_and_lower_cased(
    producer: Producer, gateway: LocalVectorVue, sent: str, answer: int
) -> None:
    status, text = send(producer, body(severity=sent))

    assert status == answer
    if answer == 202:
        assert stored_payload(gateway)["severity"] == sent.strip().lower()
    else:
        assert "severity" in text


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        ({"description": "d" * 2048}, 202),
        ({"description": "d" * 2049}, 422),
        ({"event_id": "e" * 128}, 202),
        ({"event_id": "e" * 129}, 422),
        ({"event_id": "evt 1"}, 422),
        ({"source_system": "s" * 64}, 202),
        ({"source_system": "s" * 65}, 422),
        ({"observed_at": 1795564800}, 202),
        ({"observed_at": "2026-11-25T10:00:00+01:00"}, 202),
        ({"observed_at": "not a date"}, 422),
        ({"unexpected": 1}, 422),
    ],
)
def test_payload_fields_both_sides_of_their_limits(
    producer: Producer, change: dict[str, Any], answer: int
) -> None:
    assert send(producer, body(**change))[0] == answer


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        ({"execution_hash": "z" * 64}, 202),  # only its length is checked
        ({"execution_hash": "a" * 63}, 422),
        ({"operator_id": "o" * 129}, 422),
    ],
)
def test_top_level_fields(producer: Producer, change: dict[str, Any], answer: int) -> None:
    document = {**body(), **change}
    if "operator_id" in change:
        document["signed_metadata"] = {**document["signed_metadata"], **change}

    assert send(producer, document)[0] == answer


# -- attributes: the measurement hash and the schema version ------------------------------------
@pytest.mark.parametrize(
    ("measurement", "answer"),
    [
        ("CD" * 32, 202),
        (" " + "cd" * 32 + " ", 202),  # str() then trimmed
        (int("1" * 64), 202),  # str() of a number of 64 decimal digits is 64 hex
        ("cd" * 31 + "c", 422),
        ("g" * 64, 422),
        (None, 422),
    ],
)
def test_the_attestation_hash_is_str_trimmed_64_hex(
    producer: Producer, measurement: Any, answer: int
) -> None:
    extra = attributes(attestation_measurement_hash=measurement)
    if measurement is None:
        del extra["attestation_measurement_hash"]

    status, text = send(producer, body(attributes=extra))

    assert status == answer
    if answer == 422:
        assert "attestation_measurement_hash" in text


@pytest.mark.parametrize(
    ("version", "answer"),
    [(" 1.0 ", 202), (1.0, 202), ("1.1", 422), ("2.0", 422), ("", 422), (None, 422)],
)
def test_the_schema_version_is_str_trimmed_in_the_allowed_list(
    producer: Producer, version: Any, answer: int
) -> None:
    extra = attributes(schema_version=version)
    if version is None:
        del extra["schema_version"]

    status, text = send(producer, body(attributes=extra))

    assert status == answer
    if answer == 422:
        assert "schema_version" in text


def test_the_allowed_versions_are_configurable_and_2x_needs_contract_v2(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        gateway_schema_versions=["1.0", "2.0"],
        now=clock,
    )
    sections: dict[str, dict[str, Any]] = {n: {} for n in ("execution", "asset", "identity", "ttp")}
    sections |= {name: {} for name in ("detection", "response", "control")}
    producer = Producer(vv, key, clock)
    try:
        without = send(producer, body(attributes=attributes(schema_version="2.0")))
        partial = {**sections}
        del partial["control"]
        half = send(
            producer, body(attributes=attributes(schema_version="2.0", contract_v2=partial))
        )
        whole = send(
            producer, body(attributes=attributes(schema_version="2.0", contract_v2=sections))
        )
        old = send(producer, body(attributes=attributes(schema_version="1.0")))
    finally:
        producer.close()

    assert without[0] == 422 and "contract_v2" in without[1]
    assert half[0] == 422
    assert whole[0] == 202
    assert old[0] == 202


def test_without_enforcement_any_non_empty_version_passes(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        gateway_schema_versions=[],
        now=clock,
    )
    producer = Producer(vv, key, clock)
    try:
        odd = send(producer, body(attributes=attributes(schema_version="9.9")))
        empty = send(producer, body(attributes=attributes(schema_version=" ")))
    finally:
        producer.close()

    assert (odd[0], empty[0]) == (202, 422)


# -- NUL and deep nesting ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "document",
    [body(description="a\x00b"), body(attributes=attributes(**{"k\x00": "v"}))],
    ids=["description", "attribute-key"],
)
def test_a_nul_is_202_but_nothing_is_stored(
    producer: Producer, gateway: LocalVectorVue, document: dict[str, Any]
) -> None:
    assert send(producer, document)[0] == 202
    assert gateway.accepted_telemetry() == {}
    assert gateway.gateway_receipts(TENANT, "evt-1") == 0


def _with_attribute_levels(producer: Producer, levels: int) -> int:
    """Send a body whose attributes hold an object nested `levels` deep (the body is
    levels + 3 deep: body, payload, attributes); its status."""
    t, nonce = int(producer.clock()), new_nonce()
    text = json.dumps(event_body(t, nonce))
    head, _, tail = text.rpartition('"schema_version": "1.0"')
    nested = '{"a":' * levels + "1" + "}" * levels
    raw = f'{head}"schema_version": "1.0", "deep": {nested}{tail}'.encode()
    response = producer.send(raw=raw, nonce=nonce, timestamp=t)
    assert response.status_code == 202 or response.text == "Internal Server Error"
    return response.status_code


def test_attributes_150_levels_deep_are_stored(producer: Producer, gateway: LocalVectorVue) -> None:
    assert _with_attribute_levels(producer, 150) == 202
    assert gateway.gateway_receipts(TENANT, "evt-1") == 1


def test_a_body_500_levels_deep_passes_and_501_is_a_plain_500(producer: Producer) -> None:
    assert _with_attribute_levels(producer, 497) == 202
    assert _with_attribute_levels(producer, 498) == 500


# -- what VectorVue holds after a 202 -------------------------------------------------------------
def test_text_is_trimmed_html_escaped_and_cut_as_stored(
    producer: Producer, gateway: LocalVectorVue
) -> None:
    extra = attributes(
        note="  <b>5 & 6</b> 'q' \"d\"  ",
        long="<" * 2048,
        nested={"  key<  ": ["  x  "]},
        **{"k" * 100: 1},
    )
    document = body(description="  <script>alert('x')</script>  " + "<" * 2000, attributes=extra)

    assert send(producer, document)[0] == 202
    stored = stored_payload(gateway)
    assert stored["description"] == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;  " + "&lt;" * 2000
    )  # trimmed and escaped, never cut
    stored_attributes = stored["attributes"]
    assert stored_attributes["note"] == "&lt;b&gt;5 &amp; 6&lt;/b&gt; &#x27;q&#x27; &quot;d&quot;"
    assert stored_attributes["long"] == "&lt;" * 512  # cut to 2048 after escaping
    assert stored_attributes["nested"] == {"key&lt;": ["x"]}
    assert stored_attributes["k" * 80] == 1  # keys cut to 80


def test_the_upsert_is_last_write_wins(producer: Producer, gateway: LocalVectorVue) -> None:
    assert send(producer, body(description="first"))[0] == 202
    assert send(producer, body(description="second"))[0] == 202

    assert stored_payload(gateway)["description"] == "second"
    assert gateway.gateway_receipts(TENANT, "evt-1") == 2


# -- the burst counts only requests that passed every other check -------------------------------
def test_refused_requests_do_not_count_towards_the_burst(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        gateway_burst_per_minute=2,
        now=clock,
    )
    producer = Producer(vv, key, clock)
    try:
        refused = [send(producer, body(severity="x"))[0] for _ in range(3)]
        counted = [send(producer, body(event_id=f"evt-{i}"))[0] for i in range(3)]
    finally:
        producer.close()

    assert refused == [422] * 3
    assert counted == [202, 202, 429]
