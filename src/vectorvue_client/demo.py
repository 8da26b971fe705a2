"""`vectorvue-client demo`: the client end to end, in both profiles, on loopback only.

Two embedded LocalVectorVues (the integration API with HMAC signing; the telemetry gateway
with mutual TLS and Ed25519), fresh certificates and keys, the production wiring (container,
requests transport, verified TLS, SQLite outbox in a temporary directory) with only its
environment replaced, and the bundled SpectraStrike samples. Each profile's run enqueues the
samples, meets a simulated outage (503 with Retry-After), rides it out through the outbox,
and ends with every item delivered or dead-lettered with the reason. What is simulated is
said before, and checked after: the exit code says whether it all went as scripted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.cli.common import EXIT_OK, EXIT_REJECTED, table
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.outbox import DeadLetter
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


# What the demo does on purpose, said before it starts and checked after it ends.
OUTAGE_REQUESTS: Final = 6
OUTAGE = (
    f"VectorVue answers 503 (Retry-After 1) to the next {OUTAGE_REQUESTS} requests once the "
    "samples are enqueued; the outbox reschedules and delivers them"
)
NO_TECHNIQUE = "names no MITRE technique, which the gateway requires (the client never guesses one)"
SQL_QUOTE = "also quotes 'or 1=1', which the gateway refuses as SQL"
# (profile, sample, document number in the sample) -> (the fields the refusal must name, why)
REFUSED_ON_PURPOSE: Final[dict[tuple[str, str, int], tuple[tuple[str, ...], str]]] = {
    ("telemetry-gateway", "findings.jsonl", 2): (("payload.mitre_techniques",), NO_TECHNIQUE),
    ("telemetry-gateway", "findings.jsonl", 3): (("payload.mitre_techniques",), NO_TECHNIQUE),
    ("telemetry-gateway", "findings.jsonl", 4): (
        ("payload.mitre_techniques", "payload.description"),
        f"{NO_TECHNIQUE}; {SQL_QUOTE}",
    ),
}
# The words of the table's header, and the --json keys of each profile: the same.
COUNTS: Final = ("enqueued", "delivered", "rescheduled", "dead_lettered", "stored")


@dataclass
class Run:
    """What happened in one profile, and whether it is what the script expects."""

    profile: str
    enqueued: int = 0
    delivered: int = 0
    rescheduled: int = 0  # item deliveries put back in line (the outage's 503s)
    dead_lettered: int = 0
    stored: int = 0
    seconds: float = 0.0
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # empty: as the script expects


def documents() -> list[tuple[str, int, dict[str, Any]]]:
    """(sample name, document number in it from 1, document) for every bundled sample."""
    out: list[tuple[str, int, dict[str, Any]]] = []
    for name in SAMPLES:
        text = sample_path(name).read_text(encoding="utf-8")
        docs = (
            [json.loads(text)]
            if name.endswith(".json")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
        out.extend((name, number, doc) for number, doc in enumerate(docs, 1))
    return out


def run_demo(out: TextIO, *, as_json: bool = False) -> int:
    """Run both profiles and print what was simulated and what happened. Unlike `send`,
    whose dead letters exit 1, the demo's dead letters are part of its script: it exits 0
    when everything ended as the script expects (each refusal on purpose happened, for its
    reason; every other item was stored exactly once; the outage was met), else 1."""
    # Imported here: the receiver needs the testing extra, which the CLI checks first.
    from vectorvue_client.testing.receiver import LocalVectorVue

    if not as_json:
        _print_intro(out)
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
    code = EXIT_OK if not any(r.unexpected for r in runs) else EXIT_REJECTED
    if as_json:
        _print_json(out, runs, code)
    else:
        _print_table(out, runs, code)
    return code


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
    origin: dict[str, tuple[str, int]] = {}  # outbox key -> (sample, document number)
    started = time.monotonic()
    with client:
        for name, number, document in documents():
            try:
                keys = client.enqueue(document)
            except VectorVueSerializationError as exc:
                run.unexpected.append(f"{name} #{number} refused at enqueue: {exc.rules()}")
                continue
            run.enqueued += len(keys)
            origin.update(dict.fromkeys(keys, (name, number)))
        receiver.fail_next(OUTAGE_REQUESTS, 503, retry_after=1)
        give_up_at = time.monotonic() + 25.0
        while client.outbox.stats().pending and time.monotonic() <= give_up_at:
            run.rescheduled += client.drain(10.0).rescheduled
            if client.outbox.stats().pending:
                time.sleep(0.2)
        stats = client.outbox.stats()
        run.delivered = stats.delivered
        dead = client.outbox.dead_letters(1000)
    run.seconds = time.monotonic() - started
    run.dead_lettered = len(dead)
    judge(run, receiver, origin, dead)
    return run


def judge(
    run: Run, receiver: Any, origin: dict[str, tuple[str, int]], dead: list[DeadLetter]
) -> None:
    """Fill run.dead_letters and run.unexpected: each difference from the script, said."""
    expected = {
        (sample, number): spec
        for (profile, sample, number), spec in REFUSED_ON_PURPOSE.items()
        if profile == run.profile
    }
    for letter in dead:
        sample, number = origin.get(letter.key, ("?", 0))
        fields, _ = expected.pop((sample, number), ((), ""))
        on_purpose = bool(fields) and all(f"{f}: " in letter.reason for f in fields)
        run.dead_letters.append(
            {
                "key": letter.key,
                "sample": sample,
                "document": number,
                "reason": letter.reason,
                "on_purpose": on_purpose,
            }
        )
        if not on_purpose:
            run.unexpected.append(f"{sample} #{number} dead-lettered: {letter.reason}")
    for sample, number in expected:
        run.unexpected.append(f"{sample} #{number} was to be refused, and was not")
    if run.profile == "telemetry-gateway":
        receipts = [receiver.gateway_receipts(t, e) for t, e in receiver.accepted_telemetry()]
    else:
        ids = [*receiver.accepted_events(), *receiver.accepted_findings()]
        receipts = [receiver.receipts(i) for i in ids]
    run.stored = len(receipts)
    if any(n != 1 for n in receipts):
        run.unexpected.append("VectorVue stored an item more than once")
    if run.stored != run.enqueued - run.dead_lettered or run.delivered != run.stored:
        run.unexpected.append(
            f"{run.enqueued - run.dead_lettered} item(s) were to be stored, "
            f"{run.delivered} delivered, {run.stored} stored"
        )
    if not run.rescheduled:
        run.unexpected.append("the outage was not met (nothing rescheduled)")


def _print_intro(out: TextIO) -> None:
    out.write(
        "vectorvue-client demo: the bundled SpectraStrike samples, through the client's\n"
        "outbox, to two LocalVectorVues on 127.0.0.1 (integration-api, telemetry-gateway).\n"
        f"Simulated on purpose:\n  - the outage: {OUTAGE}\n"
    )
    for (profile, sample, number), (_, why) in REFUSED_ON_PURPOSE.items():
        out.write(
            f"  - refused on the {profile} profile, dead-lettered: {sample} #{number}: {why}\n"
        )
    out.write(
        "    (the client applies the gateway's rules before sending, as VectorVue would)\n"
        "Expected: every other item stored exactly once.\n\n"
    )
    out.flush()


def _print_table(out: TextIO, runs: list[Run], code: int) -> None:
    rows = [(r.profile, *(getattr(r, name) for name in COUNTS), f"{r.seconds:.2f}") for r in runs]
    out.write(table(rows, ("profile", *COUNTS, "seconds")) + "\n")
    out.write("(rescheduled: item deliveries the outage's 503s put back in line)\n")
    for r in runs:
        out.write(f"\n{r.profile}:\n")
        for d in r.dead_letters:
            why = "on purpose" if d["on_purpose"] else "NOT EXPECTED"
            out.write(f"  dead_lettered ({why}): {d['sample']} #{d['document']}: {d['reason']}\n")
        for line in r.unexpected:
            out.write(f"  unexpected: {line}\n")
        if not r.unexpected:
            out.write("  as the script expects\n")
    verdict = (
        "everything ended as the script expects"
        if code == EXIT_OK
        else "something did not end as the script expects (see 'unexpected')"
    )
    out.write(
        f"\nexit {code}: {verdict}. The demo's dead letters are part of its script: "
        "unlike send (1 on any dead letter), it exits 0 when each refusal on purpose "
        "happened for its reason and every other item was stored exactly once.\n"
    )


def _print_json(out: TextIO, runs: list[Run], code: int) -> None:
    simulated = {
        "outage": OUTAGE,
        "refused_on_purpose": [
            {"profile": p, "sample": s, "document": n, "fields": list(f), "why": why}
            for (p, s, n), (f, why) in REFUSED_ON_PURPOSE.items()
        ],
    }
    profiles = [
        {
            "profile": r.profile,
            **{n: getattr(r, n) for n in COUNTS},
            "seconds": r.seconds,
            "dead_letters": r.dead_letters,
            "unexpected": r.unexpected,
        }
        for r in runs
    ]
    data = {
        "simulated": simulated,
        "profiles": profiles,
        "as_expected": code == EXIT_OK,
        "exit_code": code,
    }
    out.write(json.dumps(data, sort_keys=True) + "\n")
