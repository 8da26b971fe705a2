"""LocalVectorVue's cognitive loop (design/vectorvue-contract.md, "Cognitive loop (gateway)"),
driven over real HTTPS with raw `requests`: each request is built and signed by hand in the
test, each feedback signature is verified with `cryptography` over bytes the test builds
from the contract's rules (Python's json.dumps(sort_keys=True, separators=(",", ":"))),
never through the client's code. The clock is injected: windows and minutes are exact.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vectorvue_client.testing.fakes import FakeClock
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
    event_body,
    new_nonce,
    signed_headers,
)

GRAPH_PATH = "/internal/v1/cognitive/execution-graph"
QUERY_PATH = "/internal/v1/cognitive/feedback/adjustments/query"
FINGERPRINT = "AB" * 32  # upper case on purpose: feedback lower-cases it
MEASUREMENT = "Cd" * 32
RESPONSE_FIELDS = [
    "request_id",
    "status",
    "data",
    "errors",
    "signature",
    "kid",
    "signature_algorithm",
    "signed_at",
    "nonce",
    "schema_version",
]


def graph_body(
    timestamp: int, nonce: str, graph: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A valid execution-graph body; `fields` override top-level fields."""
    return {
        "operator_id": OPERATOR,
        "tenant_id": TENANT,
        "execution_fingerprint": FINGERPRINT,
        "timestamp": timestamp,
        "nonce": nonce,
        "schema_version": "execution.graph.v1",
        "attestation_measurement_hash": MEASUREMENT,
        "graph": {"target_urn": "urn:target:host-1", "nodes": []} if graph is None else graph,
        **fields,
    }


def query_body(timestamp: int, nonce: str, **fields: Any) -> dict[str, Any]:
    return {
        "operator_id": OPERATOR,
        "tenant_id": TENANT,
        "timestamp": timestamp,
        "nonce": nonce,
        **fields,
    }


class Cognitive:
    """Signs and sends cognitive requests as a correct producer does, pieces overridable."""

    def __init__(self, vv: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> None:
        self.vv, self.key, self.clock = vv, key, clock
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = vv.ca_pem_path

    def post(
        self,
        path: str,
        document: dict[str, Any] | None = None,
        *,
        raw: bytes | None = None,
        nonce: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        timestamp = int(self.clock())
        nonce = new_nonce() if nonce is None else nonce
        if raw is None:
            if document is None:
                maker = graph_body if path == GRAPH_PATH else query_body
                document = maker(timestamp, nonce)
            raw = json.dumps(document).encode()
        sent = {**signed_headers(self.key, raw, timestamp, nonce), **(headers or {})}
        del sent["Content-Type"]  # not checked on these endpoints
        return self.session.post(self.vv.url + path, data=raw, headers=sent, timeout=5)

    def graph(self, graph: dict[str, Any] | None = None, **fields: Any) -> requests.Response:
        nonce = new_nonce()
        document = {**graph_body(int(self.clock()), nonce, graph), **fields}
        return self.post(GRAPH_PATH, document, nonce=nonce)

    def query(self, **fields: Any) -> requests.Response:
        nonce = new_nonce()
        return self.post(
            QUERY_PATH, {**query_body(int(self.clock()), nonce), **fields}, nonce=nonce
        )


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START + 0.5)


@pytest.fixture
def feedback_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def vv(
    local_vectorvue_factory: LocalVectorVueFactory,
    key: Ed25519PrivateKey,
    feedback_key: Ed25519PrivateKey,
    clock: Clock,
) -> LocalVectorVue:
    return local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT], "op-2": [TENANT], "op-other": [OTHER_TENANT]},
        feedback_keys={"k-old": Ed25519PrivateKey.generate(), "k-2026": feedback_key},
        feedback_kid="k-2026",
        graph_limit_per_minute=3,
        now=clock,
    )


@pytest.fixture
def loop(vv: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> Iterator[Cognitive]:
    c = Cognitive(vv, key, clock)
    yield c
    c.session.close()


def verify_feedback(document: dict[str, Any], tenant: str, public: Ed25519PublicKey) -> None:
    """The contract's signed bytes, built here, verified with cryptography (raises on a bad
    signature)."""
    canonical = json.dumps(document["data"], sort_keys=True, separators=(",", ":"))
    parts = [
        tenant,
        str(document["signed_at"]),
        document["nonce"],
        "feedback.response.v1",
        document["kid"],
        canonical,
    ]
    public.verify(
        base64.b64decode(document["signature"], validate=True), "|".join(parts).encode("utf-8")
    )


def is_plain_500(response: requests.Response) -> bool:
    return response.status_code == 500 and response.text == "Internal Server Error"


# -- graph --------------------------------------------------------------------------------
def test_a_graph_is_202_unsigned_and_stored_under_its_tenant(
    vv: LocalVectorVue, loop: Cognitive
) -> None:
    response = loop.graph({"target_urn": "urn:target:host-1", "nodes": [1, 2], "x": {"y": 1}})

    assert response.status_code == 202
    document = response.json()
    assert list(document) == ["request_id", "status", "data", "errors"]
    assert uuid.UUID(document["request_id"]).version == 4
    assert document["status"] == "accepted"
    assert document["data"] == {"graph_synced": True}
    assert document["errors"] == []
    stored = vv.stored_graphs(TENANT)
    assert [g["graph"] for g in stored] == [
        {"target_urn": "urn:target:host-1", "nodes": [1, 2], "x": {"y": 1}}
    ]
    assert vv.stored_graphs(TENANT.upper()) == []  # the exact string: case matters


def test_the_same_graph_twice_is_stored_twice(vv: LocalVectorVue, loop: Cognitive) -> None:
    assert loop.graph().status_code == 202
    assert loop.graph().status_code == 202

    assert len(vv.stored_graphs(TENANT)) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"operator_id": ""},
        {"operator_id": "o" * 129},
        {"tenant_id": TENANT[:-1]},
        {"tenant_id": TENANT[:-1] + "g"},
        {"execution_fingerprint": "ab" * 31},
        {"execution_fingerprint": "zz" * 32},
        {"timestamp": "1790000040"},
        {"timestamp": 1.5},
        {"nonce": "n" * 7},
        {"nonce": "n" * 129},
        {"schema_version": ""},
        {"schema_version": "v" * 33},
        {"attestation_measurement_hash": "cd" * 33},
        {"graph": []},
        {"graph": "urn"},
        {"extra": 1},
    ],
)
def test_a_graph_body_schema_error_is_a_plain_500_after_the_nonce_is_used(
    vv: LocalVectorVue, loop: Cognitive, clock: Clock, change: dict[str, Any]
) -> None:
    nonce = new_nonce()
    document = {**graph_body(int(clock()), nonce), **change}

    assert is_plain_500(loop.post(GRAPH_PATH, document, nonce=nonce))
    assert loop.post(GRAPH_PATH, graph_body(int(clock()), nonce), nonce=nonce).status_code == 409
    assert vv.stored_graphs(TENANT) == []


@pytest.mark.parametrize("missing", ["operator_id", "graph", "schema_version", "timestamp"])
def test_a_graph_missing_a_key_is_a_plain_500(loop: Cognitive, clock: Clock, missing: str) -> None:
    document = graph_body(int(clock()), new_nonce())
    del document[missing]

    assert is_plain_500(loop.post(GRAPH_PATH, document))


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe", b"[]"])
@pytest.mark.parametrize("path", [GRAPH_PATH, QUERY_PATH])
def test_a_body_that_is_not_a_json_object_is_a_plain_500(
    loop: Cognitive, raw: bytes, path: str
) -> None:
    assert is_plain_500(loop.post(path, raw=raw))


def test_the_graph_boundaries_pass_the_schema(loop: Cognitive) -> None:
    assert loop.graph({}, nonce="n" * 128, schema_version="execution.graph.v1").status_code == 202
    assert loop.graph({}, nonce="n" * 8, execution_fingerprint="aB" * 32).status_code == 202
    # 128 characters pass the schema: the operator map is what refuses this one
    assert loop.graph(operator_id="o" * 128).status_code == 403


def test_the_body_timestamp_and_nonce_are_not_compared_with_the_headers(
    loop: Cognitive,
) -> None:
    document = graph_body(12, "another-nonce")  # neither equals the signed headers

    assert loop.post(GRAPH_PATH, document).status_code == 202


def test_a_wrong_schema_version_is_422_when_enforced(loop: Cognitive) -> None:
    response = loop.graph(schema_version="execution.graph.v2")

    assert response.status_code == 422
    assert "execution.graph.v1" in response.json()["detail"]


def test_any_schema_version_passes_when_enforcement_is_off(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        gateway_schema_versions=(),
        now=clock,
    )
    loop = Cognitive(vv, key, clock)

    assert loop.graph(schema_version="anything").status_code == 202


def test_422_comes_before_403(loop: Cognitive) -> None:
    response = loop.graph(schema_version="v2", operator_id="op-unknown")

    assert response.status_code == 422


@pytest.mark.parametrize("path", [GRAPH_PATH, QUERY_PATH])
@pytest.mark.parametrize(
    ("operator", "tenant", "text"),
    [
        ("op-unknown", TENANT, "Operator is not mapped to any tenant"),
        ("op-other", TENANT, "Operator tenant mapping violation"),
        (OPERATOR, TENANT.upper(), "Operator tenant mapping violation"),
    ],
)
def test_an_unmapped_operator_is_403(
    loop: Cognitive, clock: Clock, path: str, operator: str, tenant: str, text: str
) -> None:
    nonce = new_nonce()
    maker = graph_body if path == GRAPH_PATH else query_body
    document = maker(int(clock()), nonce, operator_id=operator, tenant_id=tenant)

    response = loop.post(path, document, nonce=nonce)

    assert response.status_code == 403
    assert response.json() == {"detail": text}


def test_the_graph_limit_is_per_operator_per_calendar_minute(loop: Cognitive, clock: Clock) -> None:
    assert [loop.graph().status_code for _ in range(3)] == [202, 202, 202]
    refused = loop.graph()
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Operator burst anomaly detected"}
    assert "retry-after" not in refused.headers
    assert loop.graph(operator_id="op-2").status_code == 202  # another operator's count

    clock.t = MINUTE_START + 60  # the next calendar minute
    assert loop.graph().status_code == 202


def test_the_graph_limit_is_apart_from_telemetrys(
    vv: LocalVectorVue, key: Ed25519PrivateKey, loop: Cognitive, clock: Clock
) -> None:
    producer = Producer(vv, key, clock)
    for _ in range(3):
        assert loop.graph().status_code == 202
    assert loop.graph().status_code == 429

    # telemetry's own counter (120) is untouched by the graphs
    assert producer.send().status_code == 202
    producer.close()


def test_the_query_has_no_rate_limit(loop: Cognitive) -> None:
    assert {loop.query().status_code for _ in range(8)} == {200}


# -- authentication and the shared replay store -----------------------------------------
@pytest.mark.parametrize("path", [GRAPH_PATH, QUERY_PATH])
@pytest.mark.parametrize(
    "headers",
    [
        {"X-Service-Identity": ""},
        {"X-Service-Identity": "someone-else"},
        {"X-Client-Cert-Sha256": "AB" * 32},
        {"X-Telemetry-Signature": ""},
        {"X-Telemetry-Signature": "not base64!"},
        {"X-Telemetry-Signature": base64.b64encode(b"\0" * 64).decode()},
        {"X-Telemetry-Timestamp": "soon"},
    ],
)
def test_identity_and_signature_problems_are_401(
    vv: LocalVectorVue, loop: Cognitive, path: str, headers: dict[str, str]
) -> None:
    response = loop.post(path, headers=headers)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert vv.stored_graphs(TENANT) == []


@pytest.mark.parametrize("skew", [-31, 31])
def test_a_timestamp_outside_the_window_is_401(loop: Cognitive, clock: Clock, skew: int) -> None:
    loop.clock = Clock(clock() + skew)

    assert loop.post(GRAPH_PATH).status_code == 401


def test_a_body_not_the_one_signed_is_401(
    loop: Cognitive, key: Ed25519PrivateKey, clock: Clock
) -> None:
    nonce = new_nonce()
    signed = json.dumps(graph_body(int(clock()), nonce)).encode()
    sent = json.dumps(graph_body(int(clock()), nonce, operator_id="op-2")).encode()
    headers = signed_headers(key, signed, int(clock()), nonce)

    response = loop.session.post(loop.vv.url + GRAPH_PATH, data=sent, headers=headers, timeout=5)

    assert response.status_code == 401


def test_one_replay_store_for_telemetry_and_both_cognitive_endpoints(
    vv: LocalVectorVue, key: Ed25519PrivateKey, loop: Cognitive, clock: Clock
) -> None:
    producer = Producer(vv, key, clock)
    assert producer.send(nonce="shared-nonce-1").status_code == 202

    graph = loop.post(GRAPH_PATH, nonce="shared-nonce-1")
    query = loop.post(QUERY_PATH, nonce="shared-nonce-1")

    assert graph.status_code == 409
    assert graph.json() == {"detail": "Replay detected: nonce already used"}
    assert query.status_code == 409
    assert loop.post(QUERY_PATH, nonce="shared-nonce-2").status_code == 200
    assert producer.send(nonce="shared-nonce-2").status_code == 409
    producer.close()


def test_a_refused_graph_still_uses_up_its_nonce(loop: Cognitive, clock: Clock) -> None:
    nonce = new_nonce()
    refused = loop.post(
        GRAPH_PATH, graph_body(int(clock()), nonce, operator_id="op-unknown"), nonce=nonce
    )
    assert refused.status_code == 403

    assert loop.post(GRAPH_PATH, nonce=nonce).status_code == 409


def test_another_method_is_405(vv: LocalVectorVue, loop: Cognitive) -> None:
    assert loop.session.get(vv.url + QUERY_PATH, timeout=5).status_code == 405


# -- the feedback query -----------------------------------------------------------------
def test_the_feedback_answer_has_every_field_and_a_verifiable_signature(
    vv: LocalVectorVue, loop: Cognitive, clock: Clock, feedback_key: Ed25519PrivateKey
) -> None:
    assert loop.graph({"target_urn": "urn:target:big", "nodes": list(range(8))}).status_code == 202
    clock.t += 5
    assert loop.graph({"nodes": list(range(7))}, operator_id="op-2").status_code == 202
    clock.t += 10

    response = loop.query()

    assert response.status_code == 200
    document = response.json()
    assert list(document) == RESPONSE_FIELDS
    assert uuid.UUID(document["request_id"]).version == 4
    assert document["status"] == "accepted"
    assert document["errors"] == []
    assert document["kid"] == "k-2026"
    assert document["signature_algorithm"] == "Ed25519"
    assert document["signed_at"] == int(clock())
    assert document["schema_version"] == "feedback.response.v1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", document["nonce"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{86}==", document["signature"])
    common = {
        "tenant_id": TENANT,
        "execution_fingerprint": FINGERPRINT.lower(),
        "control": "execution",
        "ttl_seconds": 1800,
        "timestamp": int(clock()),  # the query's time, not the graph's
        "schema_version": "feedback.adjustment.v1",
        "attestation_measurement_hash": MEASUREMENT.lower(),
    }
    tighten, observe = document["data"]
    assert {k: tighten[k] for k in common} == common
    assert {k: observe[k] for k in common} == common
    assert (tighten["target_urn"], tighten["action"], tighten["confidence"]) == (
        "urn:target:big",
        "tighten",
        0.82,
    )
    assert (observe["target_urn"], observe["action"], observe["confidence"]) == (
        "urn:target:unknown",
        "observe",
        0.55,
    )
    assert tighten["rationale"] and observe["rationale"]
    assert tighten["rationale"] != observe["rationale"]
    assert list(tighten) == [
        "tenant_id",
        "execution_fingerprint",
        "target_urn",
        "action",
        "confidence",
        "rationale",
        "control",
        "ttl_seconds",
        "timestamp",
        "schema_version",
        "attestation_measurement_hash",
    ]
    verify_feedback(document, TENANT, feedback_key.public_key())
    assert vv.feedback_public_keys["k-2026"].public_bytes_raw() == (
        feedback_key.public_key().public_bytes_raw()
    )
    assert set(vv.feedback_public_keys) == {"k-old", "k-2026"}


def test_the_signature_covers_the_data_and_the_tenant(
    loop: Cognitive, feedback_key: Ed25519PrivateKey
) -> None:
    assert loop.graph().status_code == 202
    document = loop.query().json()
    public = feedback_key.public_key()
    verify_feedback(document, TENANT, public)

    with pytest.raises(InvalidSignature):
        verify_feedback(document, TENANT.upper(), public)
    tampered = {**document, "data": [{**document["data"][0], "action": "tighten"}]}
    with pytest.raises(InvalidSignature):
        verify_feedback(tampered, TENANT, public)


def test_each_answer_has_a_fresh_nonce(loop: Cognitive) -> None:
    nonces = {loop.query().json()["nonce"] for _ in range(5)}

    assert len(nonces) == 5


def test_a_non_ascii_target_is_signed_in_the_ascii_escaped_form_and_sent_raw(
    loop: Cognitive, feedback_key: Ed25519PrivateKey
) -> None:
    target = "urn:target:caf\u00e9-\U0001f600"
    assert loop.graph({"target_urn": target}).status_code == 202

    response = loop.query()

    assert target.encode("utf-8") in response.content  # the body is not canonical
    document = response.json()
    assert document["data"][0]["target_urn"] == target
    verify_feedback(document, TENANT, feedback_key.public_key())
    # signed over raw UTF-8 instead, it does not verify
    raw_form = json.dumps(
        document["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert "\\ud83d\\ude00" in json.dumps(document["data"], sort_keys=True)
    parts = [
        TENANT,
        str(document["signed_at"]),
        document["nonce"],
        "feedback.response.v1",
        document["kid"],
        raw_form,
    ]
    with pytest.raises(InvalidSignature):
        feedback_key.public_key().verify(
            base64.b64decode(document["signature"]), "|".join(parts).encode()
        )


def test_the_body_is_not_in_canonical_form(loop: Cognitive) -> None:
    assert loop.graph().status_code == 202

    response = loop.query()

    canonical = json.dumps(response.json(), sort_keys=True, separators=(",", ":"))
    assert response.content.decode() != canonical
    assert response.content.startswith(b'{"request_id":')


@pytest.mark.parametrize(
    ("target", "expected"),
    [(12, "12"), (True, "True"), (None, "None"), ("x" * 512, "x" * 512)],
)
def test_a_target_urn_is_converted_to_a_string(
    loop: Cognitive, target: object, expected: str
) -> None:
    assert loop.graph({"target_urn": target}).status_code == 202

    assert loop.query().json()["data"][0]["target_urn"] == expected


def test_the_query_returns_the_last_limit_graphs_of_the_tenant_oldest_first(
    vv: LocalVectorVue, loop: Cognitive, clock: Clock
) -> None:
    for n in range(5):
        clock.t = MINUTE_START + 60 * n  # a new minute each: under the graph limit
        assert loop.graph({"target_urn": f"urn:t:{n}"}).status_code == 202
    assert (
        loop.graph(
            {"target_urn": "urn:other"}, operator_id="op-other", tenant_id=OTHER_TENANT
        ).status_code
        == 202
    )

    targets = [a["target_urn"] for a in loop.query(limit=3).json()["data"]]
    everything = [a["target_urn"] for a in loop.query().json()["data"]]

    assert targets == ["urn:t:2", "urn:t:3", "urn:t:4"]
    assert everything == [f"urn:t:{n}" for n in range(5)]  # default limit 100
    assert [a["target_urn"] for a in loop.query(operator_id="op-2", limit=1).json()["data"]] == [
        "urn:t:4"
    ]  # whichever operator posted them


def test_a_tenant_without_graphs_gets_an_empty_signed_list(
    loop: Cognitive, feedback_key: Ed25519PrivateKey
) -> None:
    document = loop.query().json()

    assert document["data"] == []
    verify_feedback(document, TENANT, feedback_key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "5"},
        {"extra": True},
        {"nonce": "short"},
        {"tenant_id": "t"},
    ],
)
def test_a_query_body_schema_error_is_a_plain_500(loop: Cognitive, change: dict[str, Any]) -> None:
    assert is_plain_500(loop.query(**change))


def test_limit_1000_is_accepted(loop: Cognitive) -> None:
    assert loop.query(limit=1000).status_code == 200


def test_the_newest_1000_graphs_are_kept_per_tenant(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        graph_limit_per_minute=1001,
        now=clock,
    )
    loop = Cognitive(vv, key, clock)
    for n in range(1001):
        assert loop.graph({"target_urn": f"urn:t:{n}"}).status_code == 202

    stored = vv.stored_graphs(TENANT)

    assert len(stored) == 1000
    assert stored[0]["graph"]["target_urn"] == "urn:t:1"


# -- poison -----------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["", "x" * 513])
def test_a_poison_graph_is_accepted_then_fails_every_query_whose_window_includes_it(
    vv: LocalVectorVue, loop: Cognitive, clock: Clock, target: str
) -> None:
    assert loop.graph({"target_urn": target}).status_code == 202
    clock.t += 60
    assert loop.graph({"target_urn": "urn:fine"}).status_code == 202

    assert is_plain_500(loop.query())
    assert is_plain_500(loop.query(limit=2))
    window_without_it = loop.query(limit=1)
    assert window_without_it.status_code == 200
    assert [a["target_urn"] for a in window_without_it.json()["data"]] == ["urn:fine"]
    assert len(vv.stored_graphs(TENANT)) == 2


def test_a_poison_graph_of_another_tenant_does_not_matter(loop: Cognitive) -> None:
    assert (
        loop.graph({"target_urn": ""}, operator_id="op-other", tenant_id=OTHER_TENANT).status_code
        == 202
    )

    assert loop.query().status_code == 200


def test_reset_forgets_the_graphs(vv: LocalVectorVue, loop: Cognitive) -> None:
    assert loop.graph({"target_urn": ""}).status_code == 202
    vv.reset()

    assert vv.stored_graphs(TENANT) == []
    assert loop.query().status_code == 200


# -- the receiver's own key -------------------------------------------------------------
def test_without_feedback_keys_a_fresh_default_key_signs(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=clock,
    )
    loop = Cognitive(vv, key, clock)

    document = loop.query().json()

    assert document["kid"] == "default"
    assert list(vv.feedback_public_keys) == ["default"]
    verify_feedback(document, TENANT, vv.feedback_public_keys["default"])


def test_an_active_kid_without_a_key_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="feedback_kid 'k9' is not in feedback_keys"):
        LocalVectorVue(
            api_token="t", feedback_keys={"k1": Ed25519PrivateKey.generate()}, feedback_kid="k9"
        )


def test_telemetry_still_works_beside_the_loop(vv: LocalVectorVue, loop: Cognitive) -> None:
    producer = Producer(vv, loop.key, loop.clock)
    body = msgspec.json.encode(event_body(int(loop.clock()), "nonce-tel-1"))

    assert producer.send(raw=body, nonce="nonce-tel-1").status_code == 202
    producer.close()


def test_an_injected_failure_uses_up_the_nonce_first(vv: LocalVectorVue, loop: Cognitive) -> None:
    vv.fail_next(1, 503)
    nonce = new_nonce()

    assert loop.post(GRAPH_PATH, nonce=nonce).status_code == 503
    assert loop.post(GRAPH_PATH, nonce=nonce).status_code == 409
    assert vv.stored_graphs(TENANT) == []


def test_the_fake_clock_drives_signed_at_and_the_adjustment_time(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey
) -> None:
    fake = FakeClock(MINUTE_START + 7.9)
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=fake.time,
    )
    loop = Cognitive(vv, key, Clock(fake.time()))
    assert loop.graph().status_code == 202
    fake.advance(20)
    loop.clock = Clock(fake.time())

    document = loop.query().json()

    assert document["signed_at"] == MINUTE_START + 27
    assert document["data"][0]["timestamp"] == MINUTE_START + 27
