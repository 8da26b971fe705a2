"""The SQLite outbox on the telemetry gateway: a 409 there says the request's (timestamp,
nonce) was seen before (a replay), not that the event is wrong. The event was not
processed, and the next attempt is signed afresh: it waits for a later drain, it is never
buried as refused. A FakeClock drives the client and the receiver, so the backoff between
the drains is stepped over, not waited for."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.samples import sample_path
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

IDENTITY = "spectrastrike-producer"
ENVELOPE = json.loads(sample_path("broker-envelope.jsonl").read_text().splitlines()[0])
TENANT = ENVELOPE["attributes"]["tenant_id"]


def test_a_replay_answer_reschedules_the_event_and_the_next_drain_delivers_it(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    clock = FakeClock()
    key = Ed25519PrivateKey.generate()
    vv = local_vectorvue_factory(
        require_client_cert=True,
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={ENVELOPE["actor"]: [TENANT]},
        now=clock.time,
    )
    key_file = tmp_path / "ed25519.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = vv.issue_client_cert(IDENTITY)
    config = VectorVueConfig(
        base_url=vv.url,
        profile="telemetry-gateway",
        ca_bundle=vv.ca_pem_path,
        client_cert=cert.cert_path,
        client_key=cert.key_path,
        service_identity=IDENTITY,
        signing_key_file=str(key_file),
        attestation_measurement_hash="5e" * 32,
        outbox_path=str(tmp_path / "outbox.sqlite3"),
        max_retries=0,  # the 409 reaches the outbox as it is
    )
    container = Container(config=config)
    container.clock.override(clock)
    client: VectorVueClient = container.client()
    with client:
        client.enqueue(ENVELOPE)
        vv.fail_next(1, 409, b'{"detail":"Replay detected: nonce already used"}')
        first = client.drain()
        assert (first.delivered, first.rescheduled, first.dead) == (0, 1, 0), first
        assert first.next_due_in_seconds is not None
        clock.advance(first.next_due_in_seconds)
        second = client.drain()
        assert (second.delivered, second.dead, second.pending) == (1, 0, 0), second
        assert client.outbox.stats().dead == 0
    assert vv.gateway_receipts(TENANT, ENVELOPE["event_id"]) == 1
    first_post, second_post = (r for r in vv.requests if r.method == "POST")
    assert first_post.headers["x-telemetry-nonce"] != second_post.headers["x-telemetry-nonce"]
