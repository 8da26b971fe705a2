"""The bridge delivering through the telemetry-gateway profile, against a real RabbitMQ node
and LocalVectorVue serving the gateway (mutual TLS, a known service identity, Ed25519
signatures over the exact body, nonces burned on first sight): every envelope is stored
once by the gateway, what the gateway refuses is dead-lettered with its reason, and what
fails for a passing cause comes back through a delay queue and is signed afresh: a
resent nonce would be answered 409 (replay) by the gateway."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import build_bridge
from vectorvue_client.domain.bridge import HEADER_CODE, HEADER_HISTORY, HEADER_REASON
from vectorvue_client.service.bridge import BridgeReport
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.rabbitmq_node import RabbitMQNode
from vectorvue_client.testing.receiver_faults import Chaos
from vectorvue_client.testing.receiver_http import RecordedRequest

from .fleet_support import (
    Running,
    body_of,
    counts,
    declare_as_spectrastrike,
    drain_queue,
    envelope,
    publish,
    text,
    until,
)

BATCH = 10
IDENTITY = "spectrastrike-producer"
TELEMETRY = "/internal/v1/telemetry"
TENANT = envelope("template", 0)["attributes"]["tenant_id"]  # the sample's tenant
OPERATOR = envelope("template", 0)["actor"]  # ... and its operator


class Gateway:
    """LocalVectorVue serving the gateway to one identity, and the key that identity signs
    with (written to a PEM file for the client's `signing_key_file`)."""

    def __init__(self, factory: LocalVectorVueFactory, tmp_path: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.receiver = factory(
            require_client_cert=True,
            gateway_identities={IDENTITY: self.key.public_key()},
            operator_tenants={OPERATOR: [TENANT]},  # any other operator gets a 403
        )
        self.key_file = tmp_path / "ed25519.pem"
        self.key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def posts(self) -> list[RecordedRequest]:
        """Every request to the telemetry route, refused and faulted ones included."""
        return [r for r in self.receiver.requests if r.method == "POST" and r.path == TELEMETRY]

    def signed_afresh(self) -> list[RecordedRequest]:
        """The posts, each checked here too (not only by the receiver): signed by our
        key over its own timestamp, nonce and body, which carries that timestamp and
        nonce, and no (timestamp, nonce) or nonce used twice."""
        posts = self.posts()
        for post in posts:
            timestamp, nonce = (
                post.headers["x-telemetry-timestamp"],
                post.headers["x-telemetry-nonce"],
            )
            signature = base64.b64decode(post.headers["x-telemetry-signature"], validate=True)
            self.key.public_key().verify(signature, f"{timestamp}.{nonce}.".encode() + post.body)
            body = msgspec.json.decode(post.body)
            assert (str(body["timestamp"]), body["nonce"]) == (timestamp, nonce)
            assert post.headers["x-service-identity"] == IDENTITY
            assert post.client_cert_sha256 == post.headers["x-client-cert-sha256"]
        nonces = [post.headers["x-telemetry-nonce"] for post in posts]
        assert len(set(nonces)) == len(nonces), "a nonce was sent twice"
        return posts

    def event_id_of(self, post: RecordedRequest) -> str:
        event_id: str = msgspec.json.decode(post.body)["payload"]["event_id"]
        return event_id

    def stored(self) -> set[str]:
        return {event_id for _, event_id in self.receiver.accepted_telemetry()}


@pytest.fixture
def gateway(local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path) -> Gateway:
    return Gateway(local_vectorvue_factory, tmp_path)


@pytest.fixture
def config(
    gateway: Gateway,
    rabbitmq: RabbitMQNode,
    queue_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> VectorVueConfig:
    monkeypatch.setenv("VECTORVUE_BROKER_URL", rabbitmq.url)
    declare_as_spectrastrike(rabbitmq.url, queue_name)
    vv = gateway.receiver
    cert = vv.issue_client_cert(IDENTITY)
    return VectorVueConfig(
        base_url=vv.url,
        profile="telemetry-gateway",
        ca_bundle=vv.ca_pem_path,
        client_cert=cert.cert_path,
        client_key=cert.key_path,
        service_identity=IDENTITY,
        signing_key_file=str(gateway.key_file),
        attestation_measurement_hash="5e" * 32,
        batch_size=BATCH,
        max_retries=0,  # every failure goes to the bridge: the delay queue, or the DLQ
        broker_queue=queue_name,
        broker_dead_letter_queue=f"{queue_name}.dlq",
        bridge_linger_seconds=0.05,
        bridge_backoff_base_seconds=0.05,  # delay queues of 50, 100 and 200 ms
        bridge_backoff_max_seconds=0.2,
        bridge_max_attempts=4,
    )


@pytest.fixture
def run_bridge(config: VectorVueConfig) -> Iterator[Any]:
    started: list[Running] = []

    def start(**changes: Any) -> Running:
        running = Running(build_bridge(msgspec.structs.replace(config, **changes)))
        started.append(running)
        return running

    yield start
    for running in started:
        if running.report is None:
            running.finish()


def settle(running: Running, messages: int) -> BridgeReport:
    """Wait until `messages` messages are acked or dead-lettered (one in a delay queue is
    neither yet), then stop the bridge: its report. What ends in the wrong place fails
    the test's assertions at once, not a wait."""
    report = running.bridge.report
    until(lambda: report.acked + report.dead_lettered == messages, f"{messages} settled")
    return running.finish()


def test_every_envelope_is_stored_once_by_the_gateway_one_signed_request_each(
    config: VectorVueConfig, rabbitmq: RabbitMQNode, gateway: Gateway, run_bridge: Any
) -> None:
    documents = [envelope(config.broker_queue, n) for n in range(25)]
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge()
    report = settle(running, 25)
    ids = {d["event_id"] for d in documents}
    assert set(gateway.receiver.accepted_telemetry()) == {(TENANT, i) for i in ids}
    assert all(gateway.receiver.gateway_receipts(TENANT, i) == 1 for i in ids)
    posts = gateway.signed_afresh()
    assert sorted(map(gateway.event_id_of, posts)) == sorted(ids)  # one request per event
    assert (report.received, report.acked, report.dead_lettered, report.retried) == (25, 25, 0, 0)
    assert report.items_accepted == 25
    assert counts(rabbitmq.url, config.broker_queue) == 0
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0


def test_an_event_the_gateway_refuses_is_dead_lettered_with_its_reason(
    config: VectorVueConfig, rabbitmq: RabbitMQNode, gateway: Gateway, run_bridge: Any
) -> None:
    # The gateway allows attributes.schema_version "1.0" only; the client sends an
    # event's own version as it is (the gateway's list is the gateway's to enforce), so
    # the gateway's schema check answers 422 for the second one, and for it alone.
    documents = [envelope(config.broker_queue, n) for n in range(3)]
    documents[1]["attributes"] = {**documents[1]["attributes"], "schema_version": "0.9"}
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge(bridge_linger_seconds=2.0)  # the three in one round
    report = settle(running, 3)
    [(body, headers)] = drain_queue(rabbitmq.url, config.broker_dead_letter_queue)
    assert body == body_of(documents[1])  # SpectraStrike's bytes, as published
    assert "schema_version" in text(headers[HEADER_REASON])
    assert text(headers[HEADER_CODE]) == "http_422"
    assert gateway.stored() == {documents[0]["event_id"], documents[2]["event_id"]}
    assert len(gateway.signed_afresh()) == 3  # a refusal is not retried
    assert (report.acked, report.dead_lettered, report.retried) == (2, 1, 0)
    assert counts(rabbitmq.url, config.broker_queue) == 0


def test_an_operator_the_gateway_does_not_map_ends_in_the_dead_letters_with_its_history(
    config: VectorVueConfig, rabbitmq: RabbitMQNode, gateway: Gateway, run_bridge: Any
) -> None:
    # A 403 may be the gateway's mapping, which its operator can fix: the bridge tries
    # again (each attempt signed afresh) until bridge_max_attempts, then dead-letters.
    stranger = {**envelope(config.broker_queue, 0), "actor": "op-unmapped"}
    mapped = envelope(config.broker_queue, 1)
    publish(rabbitmq.url, config.broker_queue, [body_of(stranger), body_of(mapped)])
    running = run_bridge()
    report = settle(running, 2)
    [(body, headers)] = drain_queue(rabbitmq.url, config.broker_dead_letter_queue)
    assert body == body_of(stranger)
    assert text(headers[HEADER_REASON]).startswith("gave up after 4 attempts")
    assert "not mapped" in text(headers[HEADER_REASON])
    assert text(headers[HEADER_CODE]) == "http_403"
    assert len(headers[HEADER_HISTORY]) == 4
    posts = gateway.signed_afresh()
    assert [gateway.event_id_of(p) for p in posts].count(stranger["event_id"]) == 4
    assert gateway.stored() == {mapped["event_id"]}
    assert (report.acked, report.retried) == (1, 3)


@pytest.mark.parametrize(
    ("status", "said"),
    [(503, b'{"detail":"Service Unavailable"}'), (429, b'{"detail":"Operator burst anomaly"}')],
)
def test_a_transient_failure_is_retried_through_the_delay_queue_and_signed_afresh(
    status: int,
    said: bytes,
    config: VectorVueConfig,
    rabbitmq: RabbitMQNode,
    gateway: Gateway,
    run_bridge: Any,
) -> None:
    # An injected fault answers after the gateway has burned the request's nonce: the
    # retry is accepted only because it is signed with a new one.
    gateway.receiver.fail_next(2, status, said)
    documents = [envelope(config.broker_queue, n) for n in range(5)]
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    running = run_bridge(bridge_linger_seconds=2.0)  # the five in one round
    report = settle(running, 5)
    ids = [d["event_id"] for d in documents]
    assert all(gateway.receiver.gateway_receipts(TENANT, i) == 1 for i in ids)
    posts = gateway.signed_afresh()
    sent = [gateway.event_id_of(p) for p in posts]
    assert sorted(sent) == sorted([*ids, ids[0], ids[1]])  # the first two, twice each
    assert (report.acked, report.dead_lettered, report.retried) == (5, 0, 2)
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0
    assert counts(rabbitmq.url, f"{config.broker_queue}.retry.50ms") == 0


def test_a_replay_answer_is_retried_with_a_fresh_nonce_not_dead_lettered(
    config: VectorVueConfig, rabbitmq: RabbitMQNode, gateway: Gateway, run_bridge: Any
) -> None:
    # The gateway answers 409 to a (timestamp, nonce) it has seen: the event was not
    # processed and a new attempt, signed afresh, is safe. It is not the event's fault:
    # the message must come back through a delay queue, not go to the dead letters.
    gateway.receiver.fail_next(1, 409, b'{"detail":"Replay detected: nonce already used"}')
    document = envelope(config.broker_queue, 0)
    publish(rabbitmq.url, config.broker_queue, [body_of(document)])
    running = run_bridge()
    report = settle(running, 1)
    assert (report.acked, report.retried, report.dead_lettered) == (1, 1, 0)
    assert gateway.receiver.gateway_receipts(TENANT, document["event_id"]) == 1
    assert len(gateway.signed_afresh()) == 2
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0


def test_under_random_503s_and_429s_every_event_is_stored_once(
    config: VectorVueConfig, rabbitmq: RabbitMQNode, gateway: Gateway, run_bridge: Any
) -> None:
    gateway.receiver.chaos(Chaos(unavailable=0.2, rate_limited=0.15), seed=14)
    documents = [envelope(config.broker_queue, n) for n in range(30)]
    publish(rabbitmq.url, config.broker_queue, [body_of(d) for d in documents])
    # 20 attempts: a message failing them all (p = 0.35^20) would be a broken bridge.
    running = run_bridge(bridge_max_attempts=20)
    report = settle(running, 30)
    faults = dict(gateway.receiver.faults.chaos_counts)
    assert faults.get("503", 0) > 0 and faults.get("429", 0) > 0, faults
    ids = {d["event_id"] for d in documents}
    assert all(gateway.receiver.gateway_receipts(TENANT, i) == 1 for i in ids)
    posts = gateway.signed_afresh()
    assert len(posts) == 30 + sum(faults.values())  # every fault came back as a retry
    assert report.retried == sum(faults.values())
    assert report.dead_lettered == 0
    assert counts(rabbitmq.url, config.broker_queue) == 0
    assert counts(rabbitmq.url, config.broker_dead_letter_queue) == 0
