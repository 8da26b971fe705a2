"""`vectorvue-client send --dry-run` through the real console script: with --json, each
item's payload, exactly as a real send POSTs it, in the configured profile; no base_url
and no credential needed; no secret printed."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
TENANT = "10000000-0000-0000-0000-000000000001"  # the one nmap-result.json names
IDENTITY = "spectrastrike-producer"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
        check=False,
    )


def would_send(ran: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert ran.returncode == 0, ran.stderr
    items: list[dict[str, Any]] = json.loads(ran.stdout)["would_send"]
    return items


def posted(vv: LocalVectorVue) -> list[dict[str, Any]]:
    """Every item POSTed, in order: the elements of each batch, or each single body."""
    out: list[dict[str, Any]] = []
    for request in vv.requests:
        if request.method == "POST":
            body = json.loads(request.body)
            out.extend(body if isinstance(body, list) else [body])
    return out


def test_an_integration_dry_run_shows_the_payloads_a_send_posts_without_base_url(
    local_vectorvue: LocalVectorVue,
) -> None:
    """No VECTORVUE_* setting at all (no base_url, no API key): each listed item carries
    its payload, the same object, keys in the same order, as the real send then POSTs
    (an nmap result: one event per host, normalized)."""
    sample = str(sample_path("nmap-result.json"))
    items = would_send(cli("send", sample, "--dry-run", "--json", env={}))
    assert [item["kind"] for item in items] == ["event"] * 3
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
    }
    sent = cli("send", sample, "--json", env=env)
    assert sent.returncode == 0, sent.stderr
    payloads = [item["payload"] for item in items]
    assert payloads == posted(local_vectorvue)
    assert [list(p) for p in payloads] == [list(p) for p in posted(local_vectorvue)]
    assert [item["id"] for item in items] == [p["event_id"] for p in payloads]

    # A bad base_url is still a configuration error: only a missing one is not needed.
    bad = cli("send", sample, "--dry-run", env={"VECTORVUE_BASE_URL": "http://example.test"})
    assert bad.returncode == 2
    assert bad.stderr.startswith("vectorvue-client: base_url: must use https://")


def test_a_gateway_dry_run_shows_gateway_bodies_without_base_url_or_secret(
    local_vectorvue_factory: LocalVectorVueFactory,
) -> None:
    """The gateway profile: each payload is the gateway request body (operator, campaign,
    tenant, the event under "payload"), with timestamp and nonce null (each attempt sets
    and signs its own); equal, but for those two, to what the real send POSTs; no
    base_url needed, and the signing key is nowhere in the output."""
    key = Ed25519PrivateKey.generate()
    vv = local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()}, operator_tenants={"op-001": [TENANT]}
    )
    cert = vv.issue_client_cert(IDENTITY)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secret = base64.b64encode(seed).decode()
    gateway = {
        "VECTORVUE_PROFILE": "telemetry-gateway",
        "VECTORVUE_CA_BUNDLE": vv.ca_pem_path,
        "VECTORVUE_CLIENT_CERT": cert.cert_path,
        "VECTORVUE_CLIENT_KEY": cert.key_path,
        "VECTORVUE_SERVICE_IDENTITY": IDENTITY,
        "VECTORVUE_SIGNING_KEY_ENV": "GATEWAY_KEY",
        "GATEWAY_KEY": secret,
        "VECTORVUE_OPERATOR_ID": "op-001",
        "VECTORVUE_CAMPAIGN_ID": "cmp-001",
        "VECTORVUE_TENANT_ID": TENANT,
        "VECTORVUE_ATTESTATION_MEASUREMENT_HASH": "0" * 64,
    }
    sample = str(sample_path("nmap-result.json"))
    ran = cli("send", sample, "--dry-run", "--json", env=gateway)
    assert secret not in ran.stdout + ran.stderr
    items = would_send(ran)
    payloads = [item["payload"] for item in items]
    assert {(p["operator_id"], p["campaign_id"], p["tenant_id"]) for p in payloads} == {
        ("op-001", "cmp-001", TENANT)
    }
    assert all(p["timestamp"] is None and p["nonce"] is None for p in payloads)
    assert [item["id"] for item in items] == [p["payload"]["event_id"] for p in payloads]

    sent = cli("send", sample, "--json", env={**gateway, "VECTORVUE_BASE_URL": vv.url})
    assert sent.returncode == 0, sent.stderr
    bodies = posted(vv)
    assert [{**b, "timestamp": None, "nonce": None} for b in bodies] == payloads
