"""Signed integration envelopes and client events end to end: the client wired by the
container as in production against LocalVectorVue with a compliance signing secret (real
TLS on 127.0.0.1, a FakeClock shared by both sides). LocalVectorVue signs as VectorVue does
(receiver_signing.py, written from the contract); the client checks with the secret named
by `compliance_key_env`. The token is a JWT whose tenant_id claim is in upper case: the
server signs the canonical (lower-case) form."""

from __future__ import annotations

import base64
import json
import uuid
from secrets import token_hex
from typing import Any

import pytest

from vectorvue_client import (
    VectorVueClient,
    VectorVueConfig,
    VectorVueConfigError,
    VectorVueSerializationError,
    VectorVueSignatureError,
)
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

TENANT = "ABCDEF00-0000-4000-8000-00000000000A"
EVENT = {
    "event_id": "evt-1",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-02-22T10:00:00Z",
    "severity": "info",
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open \u00e9 \u2713 \U0001d11e",
}


def static_jwt(tenant: str, sub: str = "SpectraStrike-Bot") -> str:
    """A JWT-shaped static token with `tenant_id` and `sub` claims: LocalVectorVue trusts
    the configured token and reads its claims, as VectorVue does with a static key."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"sub": sub, "tenant_id": tenant, "role": "operator", "exp": 4102444800}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def secret() -> str:
    return "cmp-" + token_hex(16)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, secret: str, clock: FakeClock) -> Any:
    return local_vectorvue_factory(
        api_token=static_jwt(TENANT), compliance_signing_key=secret, now=clock.time
    )


def client_for(
    vv: LocalVectorVue, clock: FakeClock, key: str | None, **settings: Any
) -> VectorVueClient:
    """A client checking signatures with `key` (None: no compliance_key_env at all)."""
    environ = {"VECTORVUE_API_KEY": vv.api_token}
    if key is not None:
        environ["VV_COMPLIANCE"] = key
        settings.setdefault("compliance_key_env", "VV_COMPLIANCE")
    config = VectorVueConfig(
        base_url=vv.url, ca_bundle=vv.ca_pem_path, max_retries=0, timeout_seconds=5.0, **settings
    )
    container = Container(config=config)
    container.environ.override(environ)
    container.clock.override(clock)
    client: VectorVueClient = container.client()
    return client


def test_send_event_and_send_batch_answers_verify(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    events = [{**EVENT, "event_id": f"evt-{i}"} for i in range(3)]
    with client_for(vv, clock, secret, batch_size=2) as client:
        single = client.send_event(EVENT)
        batch = client.send_batch(events)
    assert (single.signature_status, single.signature_problem) == ("verified", None)
    assert (batch.signature_status, batch.signature_problem) == ("verified", None)
    assert [r.path.rsplit("/", 1)[-1] for r in vv.requests] == ["events", "batch", "batch"]
    assert sorted(vv.accepted_events()) == ["evt-0", "evt-1", "evt-2"]


def test_ingest_status_verifies_over_the_template_path_and_the_servers_dates(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    # Signed over ".../ingest/status/{request_id}" and dates as the database holds them
    # ("2026-... 10:00:00.250000+00:00") while shown as "...T10:00:00.25Z".
    clock.advance(0.25)
    with client_for(vv, clock, secret) as client:
        sent = client.send_event(EVENT)
        assert sent.request_id is not None
        status = client.ingest_status(sent.request_id)
    assert status.success
    assert status.data["request_id"] == sent.request_id
    assert (status.signature_status, status.signature_problem) == ("verified", None)


def test_an_idempotent_replay_verifies_with_its_original_signature(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    with client_for(vv, clock, secret, compliance_signatures="enforce") as client:
        first = client.send_event(EVENT)
        clock.advance(3600.0)  # a new signature now would carry another signed_at
        again = client.send_event(EVENT)
    assert not first.replayed and again.replayed
    assert again.signature_status == "verified"
    assert vv.receipts("evt-1") == 1
    keys = {r.headers["idempotency-key"] for r in vv.requests}
    assert len(keys) == 1


def test_a_wrong_secret_is_reported_invalid_and_raised_when_enforced(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    wrong = "another-" + secret
    with client_for(vv, clock, wrong) as client:
        reported = client.send_event(EVENT)
    assert reported.success  # reported, not enforced: the call returns as usual
    assert reported.signature_status == "invalid"
    assert "HMAC" in (reported.signature_problem or "")
    assert wrong not in repr(reported) and secret not in repr(reported)
    enforcing = client_for(vv, clock, wrong, compliance_signatures="enforce")
    with enforcing as client, pytest.raises(VectorVueSignatureError) as caught:
        client.send_event({**EVENT, "event_id": "evt-2"})
    assert caught.value.check.status == "invalid"
    assert caught.value.status_code == 202
    assert wrong not in str(caught.value)


def test_without_a_key_nothing_is_checked(vv: LocalVectorVue, clock: FakeClock) -> None:
    with client_for(vv, clock, None) as client:
        assert client.send_event(EVENT).signature_status == "not_checked"


def test_the_key_is_the_trimmed_secret(vv: LocalVectorVue, clock: FakeClock, secret: str) -> None:
    # The server keys its MAC with the trimmed secret; the variable may hold a newline.
    with client_for(vv, clock, f" {secret}\n") as client:
        assert client.send_event(EVENT).signature_status == "verified"


def test_an_unsigned_answer_is_unsigned_and_raised_when_enforced(
    local_vectorvue_factory: LocalVectorVueFactory, clock: FakeClock, secret: str
) -> None:
    # A server without a compliance secret answers `"signature": null`.
    unsigned = local_vectorvue_factory(api_token=static_jwt(TENANT), now=clock.time)
    with client_for(unsigned, clock, secret) as client:
        envelope = client.send_event(EVENT)
    assert envelope.success and envelope.signature_status == "unsigned"
    enforcing = client_for(unsigned, clock, secret, compliance_signatures="enforce")
    with enforcing as client, pytest.raises(VectorVueSignatureError, match="unsigned"):
        client.send_event({**EVENT, "event_id": "evt-2"})


def test_enforce_without_a_key_is_a_config_error() -> None:
    with pytest.raises(VectorVueConfigError, match="compliance_signatures"):
        VectorVueConfig(base_url="https://vv.example", compliance_signatures="enforce")


def test_a_client_event_is_accepted_and_stored(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    with client_for(vv, clock, secret, compliance_signatures="enforce") as client:
        envelope = client.send_client_event(
            " finding_viewed ",
            "Finding",
            object_id="f-1",
            severity="HIGH",
            timestamp=1771754400,
            metadata={"view": "table"},
        )
    assert envelope.success and envelope.status_code == 202
    assert envelope.signature_status == "not_checked"  # VectorVue does not sign this route
    (stored,) = vv.client_events()
    assert stored["tenant_id"] == str(uuid.UUID(TENANT))
    assert stored["user"] == "SpectraStrike-Bot"
    assert (stored["event_type"], stored["object_type"]) == ("FINDING_VIEWED", "finding")
    assert (stored["object_id"], stored["severity"]) == ("f-1", "high")
    assert stored["timestamp"].startswith("2026-02-22T10:00:00")
    assert stored["metadata_json"] == {"view": "table"}


def test_an_unlisted_event_type_is_refused_locally_and_never_sent(
    vv: LocalVectorVue, clock: FakeClock, secret: str
) -> None:
    with client_for(vv, clock, secret) as client:
        with pytest.raises(VectorVueSerializationError) as caught:
            client.send_client_event("FINDING_DELETED", "finding")
        assert caught.value.field == "event_type"
        with pytest.raises(VectorVueSerializationError) as kind:
            client.send_client_event("FINDING_VIEWED", "asset")
        assert kind.value.field == "object_type"
    assert vv.requests == []
    assert vv.client_events() == []
