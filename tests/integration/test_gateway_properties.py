"""Properties of gateway delivery over real TLS: whatever SpectraStrike emits, what the
client's local validation lets through the gateway accepts (never a 422), and the bytes
signed are exactly the bytes the gateway received."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unit.test_spectrastrike_strategies import (
    cloudevents,
    envelopes,
    integration_events,
    metasploit_results,
    nmap_results,
)
from vectorvue_client import VectorVueClient, VectorVueConfig, VectorVueSerializationError
from vectorvue_client.adapters.signer_ed25519 import Ed25519Signer, certificate_sha256
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock, LocalVectorVue

TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"


@dataclass
class SigningWitness:
    """The real Ed25519 signer, recording every body it signed."""

    inner: Ed25519Signer
    bodies: list[bytes] = field(default_factory=list)

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        self.bodies.append(body)
        return self.inner.sign(body, timestamp=timestamp, nonce=nonce)


@dataclass
class Rig:
    receiver: LocalVectorVue
    client: VectorVueClient
    witness: SigningWitness


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    """One gateway and one client for every example. Only the configured default operator
    is mapped to the tenant: the strategies' own operators and tenants get the gateway's
    403 (an authorization decision, not a validation one)."""
    clock = FakeClock()
    key = Ed25519PrivateKey.generate()
    with LocalVectorVue(
        api_token="unused-token-123456",
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={"op-default": [TENANT]},
        now=clock.time,
        gateway_burst_per_minute=10**6,
    ) as receiver:
        cert = receiver.issue_client_cert(IDENTITY)
        config = VectorVueConfig(
            base_url=receiver.url,
            profile="telemetry-gateway",
            ca_bundle=receiver.ca_pem_path,
            client_cert=cert.cert_path,
            client_key=cert.key_path,
            service_identity=IDENTITY,
            signing_key_env="UNUSED",
            operator_id="op-default",
            campaign_id="cmp-default",
            tenant_id=TENANT,
            attestation_measurement_hash="ab" * 32,
            max_retries=0,
            gateway_rate_per_minute=100_000,
        )
        witness = SigningWitness(
            Ed25519Signer(
                key,
                service_identity=IDENTITY,
                client_cert_sha256=certificate_sha256(cert.cert_path),
            )
        )
        container = Container(config=config)
        container.clock.override(clock)
        container.signer.override(witness)
        with container.client() as client:
            yield Rig(receiver, client, witness)


DOCUMENTS = st.one_of(
    envelopes(), cloudevents(), nmap_results(), metasploit_results(), integration_events()
)


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=DOCUMENTS)
def test_what_passes_local_validation_the_gateway_accepts_and_signed_bytes_arrive(
    rig: Rig, document: dict[str, Any]
) -> None:
    """Local refusal, or every event answered 202 (or 403 where the gateway does not map
    that operator to that tenant): never a 422, 401, 409 or 413. Every POST body the
    receiver got is exactly a body the signer signed, in order."""
    rig.receiver.reset()
    rig.witness.bodies.clear()
    try:
        envelope = rig.client.send_outputs([document])
    except VectorVueSerializationError:
        assert rig.receiver.requests == []  # refused locally: nothing left
        return
    refused = [i for i in envelope.items if not i.accepted]
    assert all(i.error_code == "http_403" for i in refused), refused
    received = [r.body for r in rig.receiver.requests if r.method == "POST"]
    assert received == rig.witness.bodies
    assert len(rig.receiver.accepted_telemetry()) == len(received) - len(refused)
