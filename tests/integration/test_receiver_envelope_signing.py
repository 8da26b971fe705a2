"""LocalVectorVue signs integration-API envelopes as VectorVue does when it has a compliance
signing secret (design/vectorvue-contract.md, "Signed responses", 2), driven over real HTTPS
with `requests`. Every expected MAC is computed here with `hmac` over bytes the test builds
from the contract's rules (path|tenant|signed_at|canonical data, Python's json.dumps with
sort_keys and compact separators), and signed_at is a literal written from the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import requests

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import MINUTE_START, Clock

LOGIN = "/api/v1/client/auth/login"
PREFIX = "/api/v1/integrations/spectrastrike/"
STATUS_TEMPLATE = PREFIX + "ingest/status/{request_id}"
TENANT_UPPER = "6F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F"  # the claim; signed lower-cased
TENANT = TENANT_UPPER.lower()
USERS = {"alice": ("correct horse", TENANT_UPPER, "operator")}
SECRET = "compliance-secret-9d1f"
# MINUTE_START + 0.25 s, written out by hand: 1_790_000_040 is 2026-09-21 14:14:00 UTC
SIGNED_AT = "2026-09-21T14:14:00.250000+00:00"
SIGNED_AT_WHOLE = "2026-09-21T14:14:00+00:00"


def event(event_id: str = "evt-1", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source_system": "spectrastrike",
        "event_type": "scan.completed",
        "occurred_at": "2026-11-25T00:00:00Z",
        "severity": "low",
        "asset_ref": "host-1",
        "message": "scan completed",
        "metadata": {},
        **fields,
    }


def finding(finding_id: str = "fnd-1") -> dict[str, Any]:
    return {
        "finding_id": finding_id,
        "title": "Open port",
        "description": "port 22 is open",
        "severity": "medium",
        "first_seen": "2026-11-25T00:00:00Z",
    }


def expected_mac(path: str, tenant: str, signed_at: str, data: Any, secret: str = SECRET) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    message = f"{path}|{tenant}|{signed_at}|{canonical}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START + 0.25)


def start(factory: LocalVectorVueFactory, clock: Clock, **options: Any) -> LocalVectorVue:
    return factory(users=USERS, now=clock, **options)


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, clock: Clock) -> LocalVectorVue:
    return start(local_vectorvue_factory, clock, compliance_signing_key=SECRET)


class Client:
    def __init__(self, vv: LocalVectorVue, token: str | None = None) -> None:
        self.vv = vv
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = vv.ca_pem_path
        self.token = token or self.login()

    def login(self) -> str:
        password, tenant, _ = USERS["alice"]
        credentials = {"username": "alice", "password": password, "tenant_id": tenant}
        response = self.session.post(self.vv.url + LOGIN, json=credentials, timeout=5)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def post(
        self, route: str, document: Any, headers: dict[str, str] | None = None
    ) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.session.post(
            self.vv.url + PREFIX + route, data=json.dumps(document), headers=sent, timeout=5
        )

    def status(self, request_id: str) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.token}"}
        url = self.vv.url + PREFIX + "ingest/status/" + request_id
        return self.session.get(url, headers=sent, timeout=5)


@pytest.fixture
def client(vv: LocalVectorVue) -> Iterator[Client]:
    c = Client(vv)
    yield c
    c.session.close()


@pytest.mark.parametrize(
    ("route", "document", "data"),
    [
        ("events", event("evt-9"), {"event_id": "evt-9"}),
        ("findings", finding("fnd-9"), {"finding_id": "fnd-9"}),
    ],
)
def test_a_single_item_202_is_signed_over_path_tenant_signed_at_and_data(
    client: Client, route: str, document: dict[str, Any], data: dict[str, Any]
) -> None:
    response = client.post(route, document)

    assert response.status_code == 202
    envelope = response.json()
    assert envelope["data"] == data
    signature = envelope["signature"]
    assert list(signature) == ["algorithm", "signed_at", "signature"]
    assert signature["algorithm"] == "hmac-sha256"
    assert signature["signed_at"] == SIGNED_AT
    assert signature["signature"] == expected_mac(PREFIX + route, TENANT, SIGNED_AT, data)


@pytest.mark.parametrize(
    ("route", "items"),
    [
        ("events/batch", [event("evt-1"), event("evt-2", severity="loud")]),
        ("findings/batch", [finding("fnd-1"), {"finding_id": "fnd-2"}]),
        ("events/batch", [{"event_id": "bad"}, {"event_id": "worse"}]),  # every item failed
    ],
)
def test_a_batch_202_is_signed_even_when_items_failed(
    client: Client, route: str, items: list[dict[str, Any]]
) -> None:
    response = client.post(route, items)

    assert response.status_code == 202
    envelope = response.json()
    assert envelope["data"]["summary"]["failed"] >= 1
    assert envelope["signature"]["signature"] == expected_mac(
        PREFIX + route, TENANT, SIGNED_AT, envelope["data"]
    )


def test_signed_at_has_no_microseconds_on_a_whole_second(client: Client, clock: Clock) -> None:
    clock.t = MINUTE_START

    signature = client.post("events", event()).json()["signature"]

    assert signature["signed_at"] == SIGNED_AT_WHOLE
    assert signature["signature"] == expected_mac(
        PREFIX + "events", TENANT, SIGNED_AT_WHOLE, {"event_id": "evt-1"}
    )


def test_the_mac_covers_path_tenant_and_data(client: Client) -> None:
    signature = client.post("events", event("evt-1")).json()["signature"]["signature"]

    assert signature != expected_mac(
        PREFIX + "events", TENANT_UPPER, SIGNED_AT, {"event_id": "evt-1"}
    )
    assert signature != expected_mac(PREFIX + "findings", TENANT, SIGNED_AT, {"event_id": "evt-1"})
    assert signature != expected_mac(PREFIX + "events", TENANT, SIGNED_AT, {"event_id": "evt-2"})
    assert signature != expected_mac(
        PREFIX + "events", TENANT, SIGNED_AT, {"event_id": "evt-1"}, "other secret"
    )


def test_the_status_200_is_signed_over_the_template_path_and_internal_date_times(
    client: Client, clock: Clock
) -> None:
    request_id = str(uuid.uuid4())
    posted = client.post("events/batch", [event("evt-1")], {"X-Request-ID": request_id})
    assert posted.status_code == 202
    clock.t = MINUTE_START + 5

    response = client.status(request_id)

    assert response.status_code == 200
    envelope = response.json()
    data = envelope["data"]
    assert data["created_at"] == "2026-09-21T14:14:00.250000Z"  # as the response shows it
    assert data["updated_at"] == "2026-09-21T14:14:00.250000Z"
    internal = {
        **data,
        "created_at": "2026-09-21 14:14:00.250000+00:00",  # as the server signs it
        "updated_at": "2026-09-21 14:14:00.250000+00:00",
    }
    signed_at = "2026-09-21T14:14:05+00:00"
    assert envelope["signature"]["signed_at"] == signed_at
    assert envelope["signature"]["signature"] == expected_mac(
        STATUS_TEMPLATE, TENANT, signed_at, internal
    )
    assert envelope["signature"]["signature"] != expected_mac(
        PREFIX + "ingest/status/" + request_id, TENANT, signed_at, internal
    )


@pytest.mark.parametrize(
    ("route", "document", "status"),
    [
        ("events", {"event_id": "bad"}, 422),
        ("events/batch", {"not": "an array"}, 422),
    ],
)
def test_error_envelopes_carry_a_null_signature(
    client: Client, route: str, document: Any, status: int
) -> None:
    response = client.post(route, document)

    assert response.status_code == status
    assert response.json()["signature"] is None


def test_a_409_envelope_carries_a_null_signature(client: Client) -> None:
    assert client.post("events", event(), {"Idempotency-Key": "k-1"}).status_code == 202

    conflict = client.post("events", event(message="other"), {"Idempotency-Key": "k-1"})

    assert conflict.status_code == 409
    assert conflict.json()["signature"] is None


def test_a_detail_error_carries_nothing(vv: LocalVectorVue, client: Client) -> None:
    response = client.status(str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json() == {"detail": "Ingest request not found"}


def test_an_idempotent_replay_keeps_the_original_signed_at_and_signature(
    client: Client, clock: Clock
) -> None:
    first = client.post("events", event(), {"Idempotency-Key": "k-7"}).json()
    clock.t = MINUTE_START + 42

    replay = client.post("events", event(), {"Idempotency-Key": "k-7"})

    assert replay.headers["X-Idempotent-Replay"] == "true"
    envelope = replay.json()
    assert envelope["status"] == "replayed"  # not covered by the signature
    assert envelope["signature"] == first["signature"]
    assert envelope["signature"]["signed_at"] == SIGNED_AT
    # a new request (another key) is signed at the new time
    fresh = client.post("events", event("evt-2"), {"Idempotency-Key": "k-8"}).json()
    assert fresh["signature"]["signed_at"] == "2026-09-21T14:14:42+00:00"


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_without_a_secret_every_signature_is_null(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock, secret: str | None
) -> None:
    vv = start(local_vectorvue_factory, clock, compliance_signing_key=secret)
    client = Client(vv)
    request_id = str(uuid.uuid4())

    posted = client.post("events", event(), {"X-Request-ID": request_id})

    assert posted.status_code == 202
    assert posted.json()["signature"] is None
    assert client.status(request_id).json()["signature"] is None


def test_the_secret_is_trimmed(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock
) -> None:
    vv = start(local_vectorvue_factory, clock, compliance_signing_key=f"  {SECRET}\n")
    client = Client(vv)

    signature = client.post("events", event()).json()["signature"]["signature"]

    assert signature == expected_mac(PREFIX + "events", TENANT, SIGNED_AT, {"event_id": "evt-1"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_static_token_signs_for_the_tenant_claim_it_carries(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock
) -> None:
    claims = {"sub": "svc", "tenant_id": TENANT_UPPER}
    token = ".".join(
        (_b64url(b'{"alg":"HS256","typ":"JWT"}'), _b64url(msgspec.json.encode(claims)), "sig")
    )
    vv = start(local_vectorvue_factory, clock, compliance_signing_key=SECRET, api_token=token)
    opaque = start(local_vectorvue_factory, clock, compliance_signing_key=SECRET)

    signed = Client(vv, token).post("events", event()).json()["signature"]["signature"]
    blank = Client(opaque, opaque.api_token).post("events", event()).json()["signature"]

    assert signed == expected_mac(PREFIX + "events", TENANT, SIGNED_AT, {"event_id": "evt-1"})
    # an opaque static key carries no tenant: signed for the empty string
    assert blank["signature"] == expected_mac(
        PREFIX + "events", "", SIGNED_AT, {"event_id": "evt-1"}
    )
