"""Integration envelopes LocalVectorVue never sends: tampered after signing, signed with
another algorithm, for another tenant, over the request path instead of the status route's
template, echoing the client's secret, or forged until a later resend. EchoServer (real
TLS on 127.0.0.1) answers them, signed here from the contract's rules (forged_answers.py:
Python's hmac and json.dumps); the client is wired by the container as in production, the
secret in an environment variable named by `compliance_key_env`. Genuine answers, a wrong
secret, replays and unsigned answers: tests/integration/test_signed_answers_end_to_end.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest

from hostile.echo_server import EchoServer, Reply, Seen
from hostile.forged_answers import (
    SIGNED_AT,
    STATUS_TEMPLATE,
    event_answer,
    make_jwt,
    signed_envelope,
    tenant_of,
)
from vectorvue_client import VectorVueAPIError, VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.domain.envelope_signature import VectorVueSignatureError
from vectorvue_client.testing import FakeClock

# Written in upper case on purpose: the MAC uses the canonical (lowercase) form.
TENANT = "ABCDEF00-0000-4000-8000-00000000000A"
EVENT = {
    "event_id": "evt-1",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-02-22T10:00:00Z",
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open",
}


@pytest.fixture
def secret() -> str:
    return "cmp-" + token_hex(16)


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer(lambda seen: Reply.json(500, {"detail": "unscripted"})) as running:
        yield running


def build(
    server: EchoServer,
    tmp_path: Path,
    environ: dict[str, str],
    clock: FakeClock | None = None,
    **settings: Any,
) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=server.url,
        ca_bundle=server.ca_pem_path,
        audit_file=str(tmp_path / "audit.jsonl"),
        max_retries=0,
        timeout_seconds=5.0,
        **settings,
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": make_jwt(TENANT), **environ})
    if clock is not None:
        container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


def checking(server: EchoServer, tmp_path: Path, secret: str, **settings: Any) -> VectorVueClient:
    return build(
        server, tmp_path, {"VV_COMPLIANCE": secret}, compliance_key_env="VV_COMPLIANCE", **settings
    )


def audit_errors(tmp_path: Path) -> list[str | None]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["error"] for line in lines]


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ({"data": {"event_id": "evt-2"}}, "HMAC"),
        (
            {"signature": {"algorithm": "hmac-sha256", "signed_at": "2026-02-22T10:00:01+00:00"}},
            "signature.signature",
        ),
        (
            {
                "signature": {
                    "algorithm": "hmac-sha512",
                    "signed_at": SIGNED_AT,
                    "signature": "0" * 64,
                }
            },
            "algorithm",
        ),
        ({"signature": "deadbeef"}, "not an object"),
    ],
    ids=["tampered-data", "no-mac", "wrong-algorithm", "not-an-object"],
)
def test_a_bad_signature_is_invalid_and_reported(
    server: EchoServer, tmp_path: Path, secret: str, tamper: dict[str, Any], problem: str
) -> None:
    server.script = lambda seen: event_answer(secret, seen, **tamper)
    with checking(server, tmp_path, secret) as client:
        envelope = client.send_event(EVENT)
    assert envelope.success  # reported, not enforced: the call returns as usual
    assert envelope.signature_status == "invalid"
    assert problem in (envelope.signature_problem or "")
    assert any("signature invalid" in (error or "") for error in audit_errors(tmp_path))


def test_a_signature_made_for_another_tenant_is_invalid(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    other_tenant = str(uuid.uuid4())

    def script(seen: Seen) -> Reply:
        body = signed_envelope(secret, seen.path, other_tenant, {"event_id": "evt-1"})
        return Reply.json(202, body)

    server.script = script
    with checking(server, tmp_path, secret) as client:
        assert client.send_event(EVENT).signature_status == "invalid"
    # The MAC is over the canonical tenant, not the token's spelling of it.
    server.script = lambda seen: event_answer(secret, seen)
    with checking(server, tmp_path, secret) as client:
        assert client.send_event(EVENT).signature_status == "verified"
    assert tenant_of(server.requests[-1]) == TENANT.lower()


def test_enforced_a_tampered_signature_raises_naming_the_check(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    server.script = lambda seen: event_answer(secret, seen, data={"event_id": "forged"})
    enforcing = checking(server, tmp_path, secret, compliance_signatures="enforce")
    with enforcing as client, pytest.raises(VectorVueSignatureError) as caught:
        client.send_event(EVENT)
    assert isinstance(caught.value, VectorVueAPIError)
    assert caught.value.check.status == "invalid"
    assert "signature.signature" in str(caught.value)
    assert caught.value.status_code == 202


def test_a_status_answer_signed_over_the_request_path_is_invalid(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    # VectorVue signs the status route over its template, braces included: a MAC over the
    # path asked (with the id) is not VectorVue's and must not verify.
    request_id = str(uuid.uuid4())
    shown = {
        "request_id": request_id,
        "status": "accepted",
        "endpoint": "events",
        "counts": {"total": 1, "accepted": 1, "failed": 0},
        "failed_items": [],
        "created_at": "2026-02-22T10:00:00.123456Z",
        "updated_at": "2026-02-22T10:00:01Z",
    }
    held = {
        **shown,
        "created_at": "2026-02-22 10:00:00.123456+00:00",
        "updated_at": "2026-02-22 10:00:01+00:00",
    }

    def over_the_id(seen: Seen) -> Reply:
        assert seen.path == STATUS_TEMPLATE.replace("{request_id}", request_id)
        return Reply.json(200, signed_envelope(secret, seen.path, tenant_of(seen), shown, held))

    server.script = over_the_id
    with checking(server, tmp_path, secret) as client:
        assert client.ingest_status(request_id).signature_status == "invalid"


def test_the_mac_is_over_what_the_server_sent_before_masking(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    # The server echoes the client's own secret in the signed data: the client masks it
    # out of the envelope it returns, but the signature is over the bare value.
    def script(seen: Seen) -> Reply:
        data = {"event_id": "evt-1", "note": secret}
        return Reply.json(202, signed_envelope(secret, seen.path, tenant_of(seen), data))

    server.script = script
    with checking(server, tmp_path, secret) as client:
        envelope = client.send_event(EVENT)
    assert envelope.signature_status == "verified"
    assert secret not in repr(envelope)


def test_enforced_an_outbox_answer_that_does_not_verify_is_not_taken_as_delivered(
    server: EchoServer, tmp_path: Path, secret: str
) -> None:
    def batch_answer(seen: Seen, over: str | None) -> Reply:
        items = json.loads(seen.body)
        results = [
            {
                "index": i,
                "item_id": item["event_id"],
                "status": "accepted",
                "error_code": None,
                "error_message": None,
            }
            for i, item in enumerate(items)
        ]
        data = {
            "summary": {"total": len(items), "accepted": len(items), "failed": 0},
            "results": results,
        }
        return Reply.json(202, signed_envelope(over, seen.path, tenant_of(seen), data))

    server.script = lambda seen: batch_answer(seen, "forged-" + secret)
    clock = FakeClock()
    settings: dict[str, Any] = {
        "compliance_key_env": "VV_COMPLIANCE",
        "compliance_signatures": "enforce",
        "outbox_path": str(tmp_path / "outbox.sqlite3"),
    }
    environ = {"VV_COMPLIANCE": secret}
    with build(server, tmp_path, environ, clock=clock, **settings) as client:
        client.enqueue(EVENT)
        report = client.drain(10.0)
        assert (report.delivered, report.rescheduled, report.dead) == (0, 1, 0)
        assert "signature" in (report.last_error or "")
        # Resent later under the same key, and verified this time: delivered.
        server.script = lambda seen: batch_answer(seen, secret)
        clock.advance(3600.0)
        assert client.drain(10.0).delivered == 1
    assert len(server.requests) == 2
    assert len({seen.headers["idempotency-key"] for seen in server.requests}) == 1
