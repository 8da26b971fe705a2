"""The signed-answer rules that need no server: which paths are signed (and under which
path), the tenant read from a token, and one verdict for a batch sent in parts."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from hostile.forged_answers import SIGNED_AT, mac
from vectorvue_client.domain.envelope import ResponseEnvelope, merge_batches
from vectorvue_client.domain.envelope_signature import check_envelope, signed_path, token_tenant
from vectorvue_client.domain.redaction import Secret

BASE = "/api/v1/integrations/spectrastrike"


@pytest.mark.parametrize(
    ("path", "signed"),
    [
        (f"{BASE}/events", f"{BASE}/events"),
        (f"{BASE}/events/batch", f"{BASE}/events/batch"),
        (f"{BASE}/findings", f"{BASE}/findings"),
        (f"{BASE}/findings/batch", f"{BASE}/findings/batch"),
        (
            f"{BASE}/ingest/status/0b6f2c1e-5d4a-4c3b-9e8f-7a6b5c4d3e2f",
            f"{BASE}/ingest/status/{{request_id}}",
        ),
        (f"{BASE}/ingest/status/{{request_id}}", f"{BASE}/ingest/status/{{request_id}}"),
        (f"{BASE}/ingest/status/a/b", None),
        (f"{BASE}/events/", None),
        ("/api/v1/client/events", None),
        ("/internal/v1/telemetry", None),
        ("/healthz", None),
    ],
)
def test_signed_paths(path: str, signed: str | None) -> None:
    assert signed_path(path) == signed


def jwt(claims: dict[str, Any]) -> str:
    def b64(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'HS256'})}.{b64(claims)}.c2ln"


def test_the_tenant_is_the_claim_in_canonical_form() -> None:
    upper = "ABCDEF00-0000-4000-8000-00000000000A"
    assert token_tenant(jwt({"tenant_id": upper})) == upper.lower()
    assert token_tenant(jwt({"tenant_id": "abcdef0000004000800000000000000a"})) == upper.lower()
    assert token_tenant(jwt({"sub": "x"})) is None
    assert token_tenant(jwt({"tenant_id": "acme"})) is None
    assert token_tenant(jwt({"tenant_id": 7})) is None
    assert token_tenant("vvk_opaque_key") is None


def part(status: str, problem: str | None = None) -> ResponseEnvelope:
    return ResponseEnvelope(
        success=True,
        status_code=202,
        request_id="r",
        error=None,
        status="accepted",
        signature_status=status,  # type: ignore[arg-type]
        signature_problem=problem,
    )


@pytest.mark.parametrize(
    ("statuses", "whole"),
    [
        (["verified", "verified"], "verified"),
        (["verified", "invalid"], "invalid"),
        (["unsigned", "invalid"], "invalid"),
        (["verified", "unsigned"], "unsigned"),
        (["not_checked", "not_checked"], "not_checked"),
    ],
)
def test_a_batch_in_parts_reports_its_worst_part(statuses: list[str], whole: str) -> None:
    parts = [part(s, None if s == "verified" else f"{s} here") for s in statuses]
    merged = merge_batches(parts, 2)
    assert merged.signature_status == whole
    assert merged.signature_problem == (None if whole == "verified" else f"{whole} here")


SECRET = Secret("unit-compliance-key-0123456789")
EVENTS = f"{BASE}/events"
TENANT = "10000000-0000-4000-8000-000000000001"


def envelope(**signature: Any) -> dict[str, Any]:
    data = {"event_id": "é-1"}
    good = {
        "algorithm": "hmac-sha256",
        "signed_at": SIGNED_AT,
        "signature": mac(SECRET.reveal(), EVENTS, TENANT, SIGNED_AT, data),
    }
    return {"data": data, "signature": {**good, **signature}}


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        (envelope(), "verified", None),
        ({"data": {}, "signature": None}, "unsigned", "null or absent"),
        ({"data": {}}, "unsigned", "null or absent"),
        ([1, 2], "unsigned", "not a signed envelope"),
        (envelope(algorithm="HMAC-SHA256"), "invalid", "signature.algorithm"),
        (envelope(signed_at=None), "invalid", "signature.signed_at"),
        (envelope(signed_at="2026-02-22T10:00:00Z"), "invalid", "differs"),
        (envelope(signature="A" * 64), "invalid", "64 lowercase hex"),
        (envelope(signature="a" * 63), "invalid", "64 lowercase hex"),
        ({"signature": envelope()["signature"]}, "invalid", "data: absent"),
    ],
)
def test_each_check_of_an_envelope(body: Any, status: str, problem: str | None) -> None:
    check = check_envelope(body, path=EVENTS, tenant=TENANT, secret=SECRET)
    assert check.status == status
    assert (check.problem is None) if problem is None else (problem in (check.problem or ""))


def test_a_token_without_a_tenant_cannot_verify() -> None:
    check = check_envelope(envelope(), path=EVENTS, tenant=None, secret=SECRET)
    assert (check.status, "tenant_id" in (check.problem or "")) == ("invalid", True)
