"""`vectorvue-client envelope verify`, the real console script in a subprocess (issue 15,
point 5): saved answers signed with the contract's rules (signed_server.py: Python's hmac
and json.dumps), exit 0 verified, 1 invalid, 2 unsigned or not checkable."""

from __future__ import annotations

import json
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest

from .signed_server import STATUS_TEMPLATE, signed_envelope
from .test_cli import cli

TENANT = "10000000-0000-4000-8000-000000000001"
EVENTS = "/api/v1/integrations/spectrastrike/events"


@pytest.fixture
def secret() -> str:
    return "cmp-" + token_hex(16)


def saved(tmp_path: Path, envelope: dict[str, Any]) -> str:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(envelope))
    return str(path)


def verify(secret: str | None, *args: str, key_env: bool = True) -> Any:
    env = {"VV_CMP": secret} if secret is not None else {}
    if key_env:
        env["VECTORVUE_COMPLIANCE_KEY_ENV"] = "VV_CMP"
    return cli("envelope", "verify", *args, env=env)


def test_a_genuine_answer_verifies(tmp_path: Path, secret: str) -> None:
    file = saved(tmp_path, signed_envelope(secret, EVENTS, TENANT, {"event_id": "e-1"}))
    result = verify(secret, file, "--path", EVENTS, "--tenant", TENANT.upper(), "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "verified"
    assert shown["tenant"] == TENANT
    assert secret not in result.stdout + result.stderr


def test_a_tampered_answer_is_invalid_and_says_why(tmp_path: Path, secret: str) -> None:
    envelope = signed_envelope(secret, EVENTS, TENANT, {"event_id": "e-1"})
    envelope["data"] = {"event_id": "e-2"}
    result = verify(secret, saved(tmp_path, envelope), "--path", EVENTS, "--tenant", TENANT)
    assert result.returncode == 1
    assert result.stdout.startswith("invalid: signature.signature")


def test_another_tenant_is_invalid(tmp_path: Path, secret: str) -> None:
    file = saved(tmp_path, signed_envelope(secret, EVENTS, TENANT, {"event_id": "e-1"}))
    other = "20000000-0000-4000-8000-000000000002"
    assert verify(secret, file, "--path", EVENTS, "--tenant", other).returncode == 1


def test_a_status_answer_verifies_from_the_path_with_its_id(tmp_path: Path, secret: str) -> None:
    request_id = "0b6f2c1e-5d4a-4c3b-9e8f-7a6b5c4d3e2f"
    shown = {"request_id": request_id, "created_at": "2026-02-22T10:00:00Z", "updated_at": None}
    held = {**shown, "created_at": "2026-02-22 10:00:00+00:00"}
    file = saved(tmp_path, signed_envelope(secret, STATUS_TEMPLATE, TENANT, shown, held))
    path = STATUS_TEMPLATE.replace("{request_id}", request_id)
    assert verify(secret, file, "--path", path, "--tenant", TENANT).returncode == 0
    assert verify(secret, file, "--path", STATUS_TEMPLATE, "--tenant", TENANT).returncode == 0


def test_unsigned_and_not_checkable_exit_2(tmp_path: Path, secret: str) -> None:
    unsigned = saved(tmp_path, signed_envelope(None, EVENTS, TENANT, {"event_id": "e-1"}))
    result = verify(secret, unsigned, "--path", EVENTS, "--tenant", TENANT, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["status"] == "unsigned"
    signed = saved(tmp_path, signed_envelope(secret, EVENTS, TENANT, {"event_id": "e-1"}))
    no_key = verify(None, signed, "--path", EVENTS, "--tenant", TENANT, key_env=False)
    assert no_key.returncode == 2
    assert "compliance_key_env" in no_key.stderr
    unset = verify(None, signed, "--path", EVENTS, "--tenant", TENANT)
    assert unset.returncode == 2
    assert "VV_CMP" in unset.stderr
    unsigned_route = verify(secret, signed, "--path", "/api/v1/client/events", "--tenant", TENANT)
    assert unsigned_route.returncode == 2
    assert "--path" in unsigned_route.stderr
    bad_tenant = verify(secret, signed, "--path", EVENTS, "--tenant", "acme")
    assert bad_tenant.returncode == 2
    (tmp_path / "text.json").write_text("not json")
    not_json = verify(secret, str(tmp_path / "text.json"), "--path", EVENTS, "--tenant", TENANT)
    assert not_json.returncode == 2


def test_the_secret_never_shows_even_when_the_answer_echoes_it(tmp_path: Path, secret: str) -> None:
    envelope = signed_envelope(secret, EVENTS, TENANT, {"event_id": secret})
    envelope["data"] = {"event_id": secret + "x"}  # invalid, and the problem is printed
    for flags in ((), ("--json",), ("--debug",)):
        result = verify(
            secret, saved(tmp_path, envelope), "--path", EVENTS, "--tenant", TENANT, *flags
        )
        assert result.returncode == 1
        assert secret not in result.stdout + result.stderr
