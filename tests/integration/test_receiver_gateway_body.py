"""LocalVectorVue's telemetry gateway: the body rules (422), the operator-to-tenant mapping
(403) and the per-operator burst limit per calendar minute (429), over real HTTPS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import (
    IDENTITY,
    MINUTE_START,
    OPERATOR,
    OTHER_TENANT,
    TENANT,
    Clock,
    Producer,
    detail_of,
    event_body,
    new_nonce,
)


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


# -- body: 422 ------------------------------------------------------------------------------
def _mutate(document: dict[str, Any], change: str) -> None:
    payload = document["payload"]
    if change == "body-nonce":
        document["nonce"] = "another-nonce"
    elif change == "body-timestamp":
        document["timestamp"] -= 1
    elif change == "signed-metadata":
        document["signed_metadata"]["campaign_id"] = "camp-8"
    elif change == "no-measurement":
        del payload["attributes"]["attestation_measurement_hash"]
    elif change == "short-measurement":
        payload["attributes"]["attestation_measurement_hash"] = "cd" * 31
    elif change == "schema-version":
        payload["attributes"]["schema_version"] = "2.0"
    elif change == "sql-description":
        payload["description"] = "payload: ' UNION SELECT password FROM users --"
    elif change == "sql-attribute":
        payload["attributes"]["evidence"] = {"requests": ["id=1 or 1=1"]}
    elif change == "observed-at":
        payload["observed_at"] = "2026-13-45T99:99:99Z"
    elif change == "unknown-top-level":
        document["extra"] = True
    elif change == "unknown-in-metadata":
        document["signed_metadata"]["extra"] = True
    elif change == "bad-tenant":
        document["tenant_id"] = document["signed_metadata"]["tenant_id"] = "not-a-uuid"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no-measurement", "attestation_measurement_hash"),
        ("short-measurement", "attestation_measurement_hash"),
        ("schema-version", "schema_version"),
        ("sql-description", "payload.description"),
        ("sql-attribute", "payload.attributes.evidence.requests[0]"),
        ("observed-at", "observed_at"),
        ("unknown-top-level", "extra"),
        ("unknown-in-metadata", "extra"),
        ("bad-tenant", "tenant_id"),
    ],
)
def test_a_body_the_contract_refuses_is_422(
    gateway: LocalVectorVue, producer: Producer, clock: Clock, change: str, words: str
) -> None:
    t, nonce = int(clock()), new_nonce()
    document = event_body(t, nonce)
    _mutate(document, change)

    response = producer.send(document, nonce=nonce)

    assert response.status_code == 422
    assert words in detail_of(response)
    assert gateway.accepted_telemetry() == {}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("body-nonce", "nonce"),
        ("body-timestamp", "timestamp"),
        ("signed-metadata", "signed_metadata"),
    ],
)
def test_a_body_that_disagrees_with_the_signed_headers_or_itself_is_401(
    gateway: LocalVectorVue, producer: Producer, clock: Clock, change: str, words: str
) -> None:
    t, nonce = int(clock()), new_nonce()
    document = event_body(t, nonce)
    _mutate(document, change)

    response = producer.send(document, nonce=nonce)

    assert response.status_code == 401
    assert words in detail_of(response)
    assert gateway.accepted_telemetry() == {}


def test_unknown_keys_inside_attributes_are_accepted(producer: Producer, clock: Clock) -> None:
    t, nonce = int(clock()), new_nonce()
    document = event_body(t, nonce)
    document["payload"]["attributes"]["anything"] = {"nested": [1, "two"]}

    assert producer.send(document, nonce=nonce).status_code == 202


# -- authorization and burst ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("operator", "tenant", "answer"),
    [
        ("op-1", OTHER_TENANT, "Operator tenant mapping violation"),
        ("op-2", TENANT, "Operator is not mapped to any tenant"),
    ],
)
def test_an_operator_not_mapped_to_the_tenant_is_403(
    producer: Producer, clock: Clock, operator: str, tenant: str, answer: str
) -> None:
    t, nonce = int(clock()), new_nonce()
    document = event_body(t, nonce)
    for part in (document, document["signed_metadata"]):
        part["operator_id"], part["tenant_id"] = operator, tenant

    response = producer.send(document, nonce=nonce)

    assert response.status_code == 403
    assert detail_of(response) == answer


def test_the_121st_request_of_an_operator_in_a_calendar_minute_is_429(
    gateway: LocalVectorVue, producer: Producer, clock: Clock
) -> None:
    clock.t = MINUTE_START + 59  # the last second of the minute
    statuses = [producer.send(event_id=f"evt-{i}").status_code for i in range(120)]
    over = producer.send(event_id="evt-120")
    clock.t = MINUTE_START + 60  # one second later: a new calendar minute, not a sliding one
    next_minute = producer.send(event_id="evt-121")

    assert statuses == [202] * 120
    assert over.status_code == 429
    assert "retry-after" not in {name.lower() for name in over.headers}
    assert next_minute.status_code == 202
    assert gateway.gateway_receipts(TENANT, "evt-120") == 0


def test_the_burst_is_counted_per_operator(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT], "op-2": [TENANT]},
        gateway_burst_per_minute=2,
        now=clock,
    )
    producer = Producer(vv, key, clock)
    t = int(clock())

    def as_operator(operator: str) -> int:
        nonce = new_nonce()
        document = event_body(t, nonce)
        document["operator_id"] = document["signed_metadata"]["operator_id"] = operator
        return producer.send(document, nonce=nonce).status_code

    try:
        statuses = [as_operator(o) for o in ("op-1", "op-1", "op-1", "op-2")]
    finally:
        producer.close()

    assert statuses == [202, 202, 429, 202]


def test_the_gateway_without_identities_refuses_everything(
    local_vectorvue: LocalVectorVue, key: Ed25519PrivateKey
) -> None:
    producer = Producer(local_vectorvue, key, Clock(time.time()))
    try:
        response = producer.send()
    finally:
        producer.close()

    assert response.status_code == 401
    assert "knows no identities" in detail_of(response)


def test_what_a_test_reads_is_a_copy(gateway: LocalVectorVue, producer: Producer) -> None:
    assert producer.send().status_code == 202

    gateway.accepted_telemetry()[(TENANT, "evt-1")]["payload"]["event_id"] = "changed"

    assert gateway.accepted_telemetry()[(TENANT, "evt-1")]["payload"]["event_id"] == "evt-1"


def test_a_tenant_given_as_a_bare_string_is_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="collection of tenant_ids"):
        LocalVectorVue(api_token="t0ken-unused", operator_tenants={OPERATOR: TENANT})
