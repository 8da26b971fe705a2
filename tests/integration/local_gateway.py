"""A client on the telemetry-gateway profile wired by the container as in production,
against LocalVectorVue with mutual TLS: the producer's Ed25519 key and client certificate,
the operator -> tenant map, and the feedback keyring written from
`vv.feedback_public_keys` in the keyring file format the client reads (kid -> base64 of
the raw public key). A FakeClock is shared by the client and the receiver, so signatures,
windows and pacing are exact and nothing waits on the wall clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

IDENTITY = "spectrastrike-producer"
OPERATOR = "op-1"
TENANT = "a0000000-0000-4000-8000-00000000000b"
OTHER_TENANT = "b0000000-0000-4000-8000-00000000000c"
MEASUREMENT = "AB" * 32


def write_keyring(path: Path, keys: Mapping[str, Ed25519PublicKey]) -> str:
    """The keyring file the client reads: kid -> standard base64 of the raw public key."""
    table = {kid: base64.b64encode(key.public_bytes_raw()).decode() for kid, key in keys.items()}
    path.write_text(json.dumps(table))
    return str(path)


@dataclass
class Gateway:
    """A started LocalVectorVue on the gateway profile and the client settings for it."""

    vv: LocalVectorVue
    clock: FakeClock | None
    settings: dict[str, Any]

    def client(self, **more: Any) -> VectorVueClient:
        """A client on these settings (`more` overrides them), on the shared clock."""
        container = Container(config=VectorVueConfig(**{**self.settings, **more}))
        if self.clock is not None:
            container.clock.override(self.clock)
        client: VectorVueClient = container.client()
        return client

    def env(self, **more: Any) -> dict[str, str]:
        """The settings as VECTORVUE_* environment variables (for the console script)."""
        merged = {**self.settings, **more}
        return {f"VECTORVUE_{k.upper()}": str(v) for k, v in merged.items() if v is not None}


def start_gateway(
    factory: LocalVectorVueFactory,
    tmp_path: Path,
    clock: FakeClock | None = None,
    *,
    operators: Mapping[str, list[str]] | None = None,
    **options: Any,
) -> Gateway:
    """LocalVectorVue with mutual TLS that knows the producer's key and maps OPERATOR to
    TENANT (unless `operators` says otherwise); `options` are LocalVectorVue's. Without
    `clock` both sides run on the real one (for a subprocess)."""
    key = Ed25519PrivateKey.generate()
    now = {"now": clock.time} if clock is not None else {}
    vv = factory(
        require_client_cert=True,
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]} if operators is None else operators,
        **now,
        **options,
    )
    key_file = tmp_path / "producer.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = vv.issue_client_cert(IDENTITY)
    settings: dict[str, Any] = {
        "base_url": vv.url,
        "profile": "telemetry-gateway",
        "ca_bundle": vv.ca_pem_path,
        "client_cert": cert.cert_path,
        "client_key": cert.key_path,
        "service_identity": IDENTITY,
        "signing_key_file": str(key_file),
        "operator_id": OPERATOR,
        "tenant_id": TENANT,
        "attestation_measurement_hash": MEASUREMENT,
        "feedback_keyring_file": write_keyring(tmp_path / "keyring.json", vv.feedback_public_keys),
        "max_retries": 3,
    }
    return Gateway(vv, clock, settings)
