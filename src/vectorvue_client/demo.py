"""`vectorvue-client demo`: the client end to end, in both profiles, on loopback only.

Two embedded LocalVectorVues (the integration API with HMAC signing; the telemetry gateway
with mutual TLS and Ed25519), fresh certificates and keys, the production wiring (container,
requests transport, verified TLS, SQLite outbox in a temporary directory) with only its
environment replaced, and the bundled SpectraStrike samples. Each profile's run enqueues the
samples, meets a simulated outage (503 with Retry-After), rides it out through the outbox,
and ends with every item delivered or dead-lettered with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.samples import sample_path
from vectorvue_client.service.client import VectorVueClient

TENANT = "10000000-0000-0000-0000-000000000001"
IDENTITY = "spectrastrike-producer"
# A demo deployment's attestation measurement: configured, as a real one would be.
ATTESTATION = hashlib.sha256(b"vectorvue-client demo build").hexdigest()
SAMPLES = (
    "nmap-result.json",
    "metasploit-result.json",
    "findings.jsonl",
    "broker-envelope.jsonl",
    "cloudevent.json",
    "internal-event.json",
)
# Short backoffs so that the demo's outage is ridden out in about a second.
QUICK: Final[dict[str, Any]] = {
    "max_retries": 1,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 0.2,
    "outbox_backoff_base_seconds": 0.05,
    "outbox_backoff_max_seconds": 0.3,
}


@dataclass
class Run:
    """What happened in one profile."""

    profile: str
    enqueued: int = 0
    refused: list[str] = field(default_factory=list)
    delivered: int = 0
    retried: int = 0
    dead: list[str] = field(default_factory=list)
    stored: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


def documents() -> list[tuple[str, dict[str, Any]]]:
    """(sample name, document) for every bundled sample document."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name in SAMPLES:
        text = sample_path(name).read_text(encoding="utf-8")
        docs = (
            [json.loads(text)]
            if name.endswith(".json")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        out.extend((name, doc) for doc in docs)
    return out


def run_demo(out: TextIO, *, as_json: bool = False) -> int:
    """Run both profiles, print the summary; 0 when every item ended delivered (and stored
    once by the receiver) or dead-lettered with its reason."""
    # Imported here: the receiver needs the testing extra, which the CLI checks first.
    from vectorvue_client.testing.receiver import LocalVectorVue

    runs = []
    with tempfile.TemporaryDirectory(prefix="vectorvue-demo-") as tmp, ExitStack() as stack:
        signing = secrets.token_urlsafe(24)
        api = stack.enter_context(
            LocalVectorVue(api_token=secrets.token_urlsafe(24), signing_secret=signing)
        )
        key = Ed25519PrivateKey.generate()
        gateway = stack.enter_context(
            LocalVectorVue(
                api_token=secrets.token_urlsafe(24),
                require_client_cert=True,
                gateway_identities={IDENTITY: key.public_key()},
                operator_tenants={op: [TENANT] for op in ("op-001", "op-002", "nmap-wrapper")},
            )
        )
        runs.append(_run(_integration_client(api, signing, Path(tmp)), api, "integration-api"))
        runs.append(_run(_gateway_client(gateway, key, Path(tmp)), gateway, "telemetry-gateway"))
    ok = all(r.stored == r.delivered and r.delivered + len(r.dead) == r.enqueued for r in runs)
    _print(out, runs, as_json)
    return 0 if ok else 1


def _integration_client(receiver: Any, signing: str, tmp: Path) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=receiver.url,
        ca_bundle=receiver.ca_pem_path,
        signing_secret_env="DEMO_SIGNING_SECRET",  # noqa: S106 - a variable's name
        outbox_path=str(tmp / "integration-outbox.sqlite3"),
        **QUICK,
    )
    return _wired(config, {"VECTORVUE_API_KEY": receiver.api_token, "DEMO_SIGNING_SECRET": signing})


def _gateway_client(receiver: Any, key: Ed25519PrivateKey, tmp: Path) -> VectorVueClient:
    cert = receiver.issue_client_cert(IDENTITY)
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    config = VectorVueConfig(
        base_url=receiver.url,
        profile="telemetry-gateway",
        ca_bundle=receiver.ca_pem_path,
        client_cert=cert.cert_path,
        client_key=cert.key_path,
        service_identity=IDENTITY,
        signing_key_env="DEMO_GATEWAY_KEY",
        operator_id="op-001",
        campaign_id="cmp-001",
        tenant_id=TENANT,
        attestation_measurement_hash=ATTESTATION,
        outbox_path=str(tmp / "gateway-outbox.sqlite3"),
        **QUICK,
    )
    return _wired(config, {"DEMO_GATEWAY_KEY": base64.b64encode(seed).decode()})


def _wired(config: VectorVueConfig, environ: dict[str, str]) -> VectorVueClient:
    container = Container(config=config)
    container.environ.override(environ)
    client: VectorVueClient = container.client()
    return client


def _run(client: VectorVueClient, receiver: Any, profile: str) -> Run:
    run = Run(profile)
    started = time.monotonic()
    with client:
        for name, document in documents():
            try:
                run.enqueued += len(client.enqueue(document))
            except VectorVueSerializationError as exc:
                run.refused.append(f"{name}: {exc.rules()}")
        # The outage: VectorVue answers 503 (Retry-After 1) to the next six requests.
        receiver.fail_next(6, 503, retry_after=1)
        give_up_at = time.monotonic() + 25.0
        while client.outbox.stats().pending and time.monotonic() <= give_up_at:
            run.retried += client.drain(10.0).rescheduled
            if client.outbox.stats().pending:
                time.sleep(0.2)
        stats = client.outbox.stats()
        run.delivered = stats.delivered
        run.dead = [f"{d.key}: {d.reason}" for d in client.outbox.dead_letters(1000)]
    run.seconds = time.monotonic() - started
    stored = (
        receiver.accepted_telemetry()
        if profile == "telemetry-gateway"
        else {**receiver.accepted_events(), **receiver.accepted_findings()}
    )
    run.stored = len(stored)
    return run


def _print(out: TextIO, runs: list[Run], as_json: bool) -> None:
    if as_json:
        out.write(json.dumps([asdict(r) | {"items_per_second": r.rate} for r in runs]) + "\n")
        return
    header = ("profile", "sent", "accepted", "retried", "dead-lettered", "seconds", "items/s")
    rows = [
        (
            r.profile,
            r.enqueued,
            r.delivered,
            r.retried,
            len(r.dead),
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}",
        )
        for r in runs
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    out.write("vectorvue-client demo: SpectraStrike samples -> LocalVectorVue on 127.0.0.1\n\n")
    for row in [header, *rows]:
        out.write("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)).rstrip() + "\n")
    for r in runs:
        out.write(f"\n{r.profile}: VectorVue stored {r.stored} distinct item(s)\n")
        for line in r.refused:
            out.write(f"  refused at enqueue: {line}\n")
        for line in r.dead:
            out.write(f"  dead-lettered: {line}\n")
