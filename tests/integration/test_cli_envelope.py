"""`vectorvue-client envelope verify`, the real console script in a subprocess (issue 15,
point 5): answers LocalVectorVue signed with its compliance secret (as VectorVue does),
saved to a file as an operator would, then checked: exit 0 verified, 1 invalid, 2 unsigned
or not checkable."""

from __future__ import annotations

import json
from pathlib import Path
from secrets import token_hex
from typing import Any

import pytest
import requests

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_cli import cli
from .test_signed_answers_end_to_end import static_jwt

TENANT = "10000000-0000-4000-8000-000000000001"
EVENTS = "/api/v1/integrations/spectrastrike/events"
STATUS_TEMPLATE = "/api/v1/integrations/spectrastrike/ingest/status/{request_id}"
EVENT = {
    "event_id": "e-1",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-02-22T10:00:00Z",
    "severity": "info",
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open",
}


@pytest.fixture
def secret() -> str:
    return "cmp-" + token_hex(16)


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, secret: str) -> LocalVectorVue:
    return local_vectorvue_factory(
        api_token=static_jwt(TENANT.upper()), compliance_signing_key=secret
    )


def answer(vv: LocalVectorVue, path: str, event: dict[str, Any] | None = None) -> Any:
    """LocalVectorVue's answer to a POST of `event` (a GET without one), as JSON."""
    with requests.Session() as session:
        session.trust_env = False
        headers = {"Authorization": f"Bearer {vv.api_token}"}
        if event is None:
            got = session.get(vv.url + path, headers=headers, verify=vv.ca_pem_path, timeout=5)
        else:
            got = session.post(
                vv.url + path, json=event, headers=headers, verify=vv.ca_pem_path, timeout=5
            )
    assert got.status_code in (200, 202), got.text
    return got.json()


def saved(tmp_path: Path, envelope: dict[str, Any]) -> str:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(envelope))
    return str(path)


def verify(secret: str | None, *args: str, key_env: bool = True) -> Any:
    env = {"VV_CMP": secret} if secret is not None else {}
    if key_env:
        env["VECTORVUE_COMPLIANCE_KEY_ENV"] = "VV_CMP"
    return cli("envelope", "verify", *args, env=env)


def test_a_genuine_answer_verifies(vv: LocalVectorVue, tmp_path: Path, secret: str) -> None:
    file = saved(tmp_path, answer(vv, EVENTS, EVENT))
    result = verify(secret, file, "--path", EVENTS, "--tenant", TENANT.upper(), "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["status"] == "verified"
    assert shown["tenant"] == TENANT
    assert secret not in result.stdout + result.stderr


def test_a_tampered_answer_is_invalid_and_says_why(
    vv: LocalVectorVue, tmp_path: Path, secret: str
) -> None:
    envelope = answer(vv, EVENTS, EVENT)
    assert envelope["data"] == {"event_id": "e-1"}
    envelope["data"] = {"event_id": "e-2"}
    result = verify(secret, saved(tmp_path, envelope), "--path", EVENTS, "--tenant", TENANT)
    assert result.returncode == 1
    assert result.stdout.startswith("invalid: signature.signature")


def test_another_tenant_or_secret_is_invalid(
    vv: LocalVectorVue, tmp_path: Path, secret: str
) -> None:
    file = saved(tmp_path, answer(vv, EVENTS, EVENT))
    other = "20000000-0000-4000-8000-000000000002"
    assert verify(secret, file, "--path", EVENTS, "--tenant", other).returncode == 1
    assert verify(secret + "x", file, "--path", EVENTS, "--tenant", TENANT).returncode == 1


def test_a_status_answer_verifies_from_the_path_with_its_id(
    vv: LocalVectorVue, tmp_path: Path, secret: str
) -> None:
    request_id = answer(vv, EVENTS, EVENT)["request_id"]
    path = STATUS_TEMPLATE.replace("{request_id}", request_id)
    file = saved(tmp_path, answer(vv, path))
    assert verify(secret, file, "--path", path, "--tenant", TENANT).returncode == 0
    assert verify(secret, file, "--path", STATUS_TEMPLATE, "--tenant", TENANT).returncode == 0
    assert verify(secret, file, "--path", EVENTS, "--tenant", TENANT).returncode == 1


def test_unsigned_and_not_checkable_exit_2(
    vv: LocalVectorVue,
    local_vectorvue_factory: LocalVectorVueFactory,
    tmp_path: Path,
    secret: str,
) -> None:
    plain = local_vectorvue_factory(api_token=static_jwt(TENANT))  # no compliance secret
    unsigned = saved(tmp_path, answer(plain, EVENTS, EVENT))
    result = verify(secret, unsigned, "--path", EVENTS, "--tenant", TENANT, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["status"] == "unsigned"
    (tmp_path / "signed.json").write_text(json.dumps(answer(vv, EVENTS, EVENT)))
    signed = str(tmp_path / "signed.json")
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


def test_the_secret_never_shows_even_when_the_answer_echoes_it(
    vv: LocalVectorVue, tmp_path: Path, secret: str
) -> None:
    envelope = answer(vv, EVENTS, {**EVENT, "event_id": secret})
    envelope["data"] = {"event_id": secret + "x"}  # invalid, and the problem is printed
    for flags in ((), ("--json",), ("--debug",)):
        result = verify(
            secret, saved(tmp_path, envelope), "--path", EVENTS, "--tenant", TENANT, *flags
        )
        assert result.returncode == 1
        assert secret not in result.stdout + result.stderr
