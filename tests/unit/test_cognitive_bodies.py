"""The cognitive loop's request bodies: every field rule of the contract ("POST
/internal/v1/cognitive/execution-graph", ".../feedback/adjustments/query"), checked before
sending, and the poison rule. Expected bodies are written here from the contract."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vectorvue_client.domain.cognitive import body_of, execution_graph, feedback_query
from vectorvue_client.domain.errors import VectorVueSerializationError

TENANT = "a0000000-0000-4000-8000-00000000000b"


def graph_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operator_id": "op-1",
        "tenant_id": TENANT,
        "execution_fingerprint": "CD" * 32,
        "attestation_measurement_hash": "ab" * 32,
        "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(8))},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not _DROP}


_DROP = object()


def refusal(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(VectorVueSerializationError) as caught:
        execution_graph(document)
    return {p.field: p.rule for p in caught.value.problems}


def test_a_graph_body_renders_as_the_contract_says() -> None:
    body = body_of(execution_graph(graph_document())).render(1795564800, "nonce-123456")
    assert json.loads(body) == {
        "operator_id": "op-1",
        "tenant_id": TENANT,
        "execution_fingerprint": "CD" * 32,
        "schema_version": "execution.graph.v1",
        "attestation_measurement_hash": "ab" * 32,
        "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(8))},
        "timestamp": 1795564800,
        "nonce": "nonce-123456",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator_id": ""}, "operator_id"),
        ({"operator_id": "o" * 129}, "operator_id"),
        ({"operator_id": _DROP}, "operator_id"),
        ({"tenant_id": TENANT + "0"}, "tenant_id"),
        ({"tenant_id": "g" * 36}, "tenant_id"),
        ({"execution_fingerprint": "cd" * 31}, "execution_fingerprint"),
        ({"attestation_measurement_hash": "xy" * 32}, "attestation_measurement_hash"),
        ({"schema_version": ""}, "schema_version"),
        ({"schema_version": "v" * 33}, "schema_version"),
        ({"graph": [1, 2]}, "graph"),
        ({"graph": _DROP}, "graph"),
        ({"extra": 1}, "extra"),
        ({"timestamp": 1}, "timestamp"),
        ({"nonce": "n" * 16}, "nonce"),
    ],
)
def test_every_field_rule_is_checked_before_sending(change: dict[str, Any], field: str) -> None:
    assert field in refusal(graph_document(**change))


def test_every_problem_is_reported_at_once() -> None:
    problems = refusal(graph_document(operator_id="", tenant_id="x", extra=True))
    assert set(problems) == {"operator_id", "tenant_id", "extra"}


@pytest.mark.parametrize("accepted", [{"schema_version": "v" * 32}, {"operator_id": "o" * 128}])
def test_the_bounds_themselves_pass(accepted: dict[str, Any]) -> None:
    execution_graph(graph_document(**accepted))


def test_an_uppercase_tenant_passes_as_the_gateway_takes_it() -> None:
    assert execution_graph(graph_document(tenant_id=TENANT.upper())).tenant_id == TENANT.upper()


@pytest.mark.parametrize("urn", ["", "u" * 513, 5, None, ["urn"]])
def test_the_poison_target_urn_is_refused(urn: Any) -> None:
    rule = refusal(graph_document(graph={"target_urn": urn}))["graph.target_urn"]
    assert "1-512" in rule


@pytest.mark.parametrize("graph", [{"target_urn": "u"}, {"target_urn": "u" * 512}, {}])
def test_a_target_urn_of_1_to_512_characters_or_none_passes(graph: dict[str, Any]) -> None:
    assert execution_graph(graph_document(graph=graph)).graph == graph


def test_a_feedback_query_renders_as_the_contract_says() -> None:
    body = body_of(feedback_query("op-1", TENANT, 100)).render(17, "nonce-abcdef")
    assert json.loads(body) == {
        "operator_id": "op-1",
        "tenant_id": TENANT,
        "limit": 100,
        "timestamp": 17,
        "nonce": "nonce-abcdef",
    }


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_the_feedback_limit_is_1_to_1000(limit: int) -> None:
    with pytest.raises(VectorVueSerializationError) as caught:
        feedback_query("op-1", TENANT, limit)
    assert caught.value.field == "limit"


@pytest.mark.parametrize("limit", [1, 1000])
def test_the_feedback_limit_bounds_pass(limit: int) -> None:
    assert feedback_query("op-1", TENANT, limit).limit == limit


def test_a_body_over_1_mib_is_refused() -> None:
    huge = graph_document(graph={"blob": "x" * (1 << 20)})
    with pytest.raises(VectorVueSerializationError) as caught:
        body_of(execution_graph(huge))
    assert caught.value.field == "graph"
