"""`vectorvue-client demo`: the client against an embedded LocalVectorVue, end to end.

Everything stays on 127.0.0.1: the receiver is started here with fresh certificates, and
the client is the production wiring (container, requests transport, verified TLS, HMAC
signing) with only its environment replaced, so no real secret is touched.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from dependency_injector import providers

from vectorvue_client.client import VectorVueClient
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.errors import VectorVueError, VectorVueSerializationError
from vectorvue_client.samples import sample_path

API_KEY_ENV = "VECTORVUE_DEMO_API_KEY"
SIGNING_ENV = "VECTORVUE_DEMO_SIGNING_SECRET"


@dataclass
class Tally:
    """What the demo did, step by step."""

    rows: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    refused: int = 0
    failed: int = 0

    def add(self, step: str, outcome: str, items: int, attempts: int, note: str = "") -> None:
        self.rows.append((step, outcome, items, attempts, note))


def _jsonl(name: str) -> list[dict[str, Any]]:
    with sample_path(name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def run_demo(out: TextIO) -> int:
    """Run the demo, print a summary to `out`; returns 0 when every step went as expected."""
    try:
        from vectorvue_client.testing.receiver import LocalVectorVue
    except ImportError:  # trustme is an extra
        out.write("the demo needs the testing extra: pip install 'vectorvue-client[testing]'\n")
        return 2
    token, signing = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    tally = Tally()
    started = time.perf_counter()
    with LocalVectorVue(api_token=token, signing_secret=signing) as receiver:
        config = VectorVueConfig(
            base_url=receiver.url,
            ca_bundle=receiver.ca_pem_path,
            api_key_env=API_KEY_ENV,
            signing_secret_env=SIGNING_ENV,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.5,
            deadline_seconds=20.0,
        )
        container = Container(config=config)
        container.environ.override(providers.Object({API_KEY_ENV: token, SIGNING_ENV: signing}))
        with container.client() as client:
            _steps(client, receiver, tally)
        stored = receiver.accepted_findings()
        deliveries = sum(receiver.receipts(i) for i in stored)
        url = receiver.url
    seconds = time.perf_counter() - started
    _print(out, tally, url, len(stored), deliveries, seconds)
    return 0 if tally.failed == 0 and len(stored) == len(_jsonl("findings.jsonl")) else 1


def _steps(client: VectorVueClient, receiver: Any, tally: Tally) -> None:
    findings = _jsonl("findings.jsonl")

    def step(name: str, items: int, action: Callable[[], Any], note: str = "") -> None:
        try:
            envelope = action()
        except VectorVueSerializationError as exc:
            tally.refused += 1
            tally.add(name, "refused locally", items, 0, str(exc)[:70])
            return
        except VectorVueError as exc:
            tally.failed += 1
            tally.add(name, "FAILED", items, 0, str(exc)[:70])
            return
        if isinstance(envelope, bool):
            tally.add(name, "healthy" if envelope else "UNHEALTHY", items, 1, note)
            tally.failed += 0 if envelope else 1
            return
        outcome = envelope.status if envelope.success else f"NOT ACCEPTED ({envelope.status})"
        tally.failed += 0 if envelope.success else 1
        tally.add(name, outcome, items, envelope.attempts, note)

    step("health check", 0, client.health_check)
    step("findings batch", len(findings), lambda: client.send_findings(findings))
    receiver.fail_next(2, 503, b'{"detail":"Service Unavailable"}')
    step(
        "finding during an outage",
        1,
        lambda: client.send_finding(findings[0]),
        "two 503s ridden out",
    )
    step("same finding again", 1, lambda: client.send_finding(findings[0]), "same id: stored once")
    bad = {k: v for k, v in _jsonl("bad-inputs.jsonl")[0].items() if k != "_why"}
    step("event with a bad severity", 1, lambda: client.send_event(bad))


def _print(
    out: TextIO, tally: Tally, receiver_url: str, stored: int, deliveries: int, seconds: float
) -> None:
    out.write(f"vectorvue-client demo against LocalVectorVue at {receiver_url} (verified TLS)\n\n")
    header = ("step", "outcome", "items", "attempts", "note")
    widths = [max(len(str(row[i])) for row in [header, *tally.rows]) for i in range(5)]
    for row in [header, *tally.rows]:
        out.write(
            "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n"
        )
    out.write(
        f"\nfindings stored by the receiver: {stored} distinct, from {deliveries} deliveries "
        "(resends carry the same deterministic id, so VectorVue stores each once)\n"
        f"refused locally: {tally.refused}; failed: {tally.failed}; {seconds:.2f} s\n"
    )
