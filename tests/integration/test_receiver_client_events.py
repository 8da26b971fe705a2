"""LocalVectorVue's POST /api/v1/client/events (design/vectorvue-contract.md, section of that
name), driven over real HTTPS with raw `requests`: the order of the checks (body schema
before the token, then the allow-lists, then the per-user rate limit), the answer, and what
is stored (metadata reduced). The clock is injected: the sliding window is exact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import MINUTE_START, Clock

PATH = "/api/v1/client/events"
LOGIN = "/api/v1/client/auth/login"
TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
OTHER_TENANT = "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20"
USERS = {
    "Alice": ("pw-a", TENANT, "operator"),
    "bob": ("pw-b", TENANT, "viewer"),
    "carol": ("pw-c", OTHER_TENANT, "viewer"),
}


def body(**fields: Any) -> dict[str, Any]:
    return {"event_type": "finding_viewed", "object_type": "Finding", **fields}


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START)


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, clock: Clock) -> LocalVectorVue:
    return local_vectorvue_factory(users=USERS, now=clock, rate_limit_per_minute=5)


@pytest.fixture
def session(vv: LocalVectorVue) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        s.verify = vv.ca_pem_path
        yield s


def login(session: requests.Session, vv: LocalVectorVue, user: str = "Alice") -> str:
    password, tenant, _ = USERS[user]
    credentials = {"username": user, "password": password, "tenant_id": tenant}
    response = session.post(vv.url + LOGIN, json=credentials, timeout=5)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def send(
    session: requests.Session,
    vv: LocalVectorVue,
    token: str | None,
    document: Any = None,
    *,
    raw: bytes | None = None,
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body() if document is None else document)
    return session.post(vv.url + PATH, data=data, headers=headers, timeout=5)


def test_an_event_is_202_accepted_and_stored_normalized(
    vv: LocalVectorVue, session: requests.Session
) -> None:
    document = body(
        event_type="  report_downloaded ",
        object_type=" REPORT",
        object_id="rep-1",
        severity=" HIGH ",
        timestamp="2026-11-25T10:00:00",  # no zone: UTC
        metadata_json={"page": 2},
        unknown_key="ignored",
    )

    response = send(session, vv, login(session, vv), document)

    assert response.status_code == 202
    assert response.json() == {"accepted": True}
    assert vv.client_events() == [
        {
            "tenant_id": TENANT,
            "user": "Alice",
            "event_type": "REPORT_DOWNLOADED",
            "object_type": "report",
            "object_id": "rep-1",
            "severity": "high",
            "timestamp": "2026-11-25T10:00:00+00:00",
            "metadata_json": {"page": 2},
        }
    ]


def test_the_timestamp_defaults_to_now_and_is_kept_in_utc(
    vv: LocalVectorVue, session: requests.Session
) -> None:
    token = login(session, vv)
    assert send(session, vv, token).status_code == 202
    assert send(session, vv, token, body(timestamp="2026-11-25T12:00:00+02:00")).status_code == 202

    stored = [event["timestamp"] for event in vv.client_events()]

    assert stored == ["2026-09-21T14:14:00+00:00", "2026-11-25T10:00:00+00:00"]


def test_the_metadata_is_reduced_before_storage(
    vv: LocalVectorVue, session: requests.Session
) -> None:
    metadata: dict[str, Any] = {
        " padded ": "kept",
        "   ": "empty key dropped",
        "IP": "1.2.3.4",
        "ip_address": "x",
        " IpAddr": "x",
        "User_Agent": "x",
        "ua": "x",
        "keystrokes": "x",
        "KeyPress": "x",
        "keyboard": "x",
        "k" * 81: 1,
        "nested": {"a": [1, 2]},
        "long": ["y" * 600],
        "flag": True,
        "none": None,
        "text": "z" * 600,  # a scalar string is not cut
    }
    metadata.update({f"extra-{n:02d}": n for n in range(30)})

    assert send(session, vv, login(session, vv), body(metadata_json=metadata)).status_code == 202

    stored = vv.client_events()[0]["metadata_json"]
    assert len(stored) == 24
    assert stored["padded"] == "kept"
    assert not {"IP", "ip_address", "IpAddr", "User_Agent", "ua", "", "KeyPress"} & set(stored)
    assert stored["k" * 80] == 1
    assert stored["nested"] == "{'a': [1, 2]}"
    assert stored["long"] == str(["y" * 600])[:512]
    assert (stored["flag"], stored["none"], stored["text"]) == (True, None, "z" * 600)
    assert list(stored)[-1] == "extra-16"  # the first 24 surviving keys (7 + 17)


@pytest.mark.parametrize(
    ("document", "loc"),
    [
        ({"object_type": "finding"}, ["body", "event_type"]),
        ({"event_type": "FINDING_VIEWED"}, ["body", "object_type"]),
        (body(event_type="ab"), ["body", "event_type"]),
        (body(event_type="A" * 65), ["body", "event_type"]),
        (body(object_type="ab"), ["body", "object_type"]),
        (body(object_type="a" * 33), ["body", "object_type"]),
        (body(event_type=7), ["body", "event_type"]),
        (body(object_id="o" * 129), ["body", "object_id"]),
        (body(severity="s" * 33), ["body", "severity"]),
        (body(timestamp="yesterday"), ["body", "timestamp"]),
        (body(metadata_json=[1]), ["body", "metadata_json"]),
        ([body()], ["body"]),
    ],
)
@pytest.mark.parametrize("with_token", [True, False])
def test_a_schema_error_is_a_list_form_422_before_the_token_is_checked(
    vv: LocalVectorVue,
    session: requests.Session,
    document: Any,
    loc: list[str],
    with_token: bool,
) -> None:
    token = login(session, vv) if with_token else None

    response = send(session, vv, token, document)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == loc
    assert errors[0]["msg"]
    assert vv.client_events() == []


@pytest.mark.parametrize("raw", [b"", b"{nope"])
def test_a_missing_or_broken_body_is_a_list_form_422(
    vv: LocalVectorVue, session: requests.Session, raw: bytes
) -> None:
    response = send(session, vv, None, raw=raw)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_the_boundaries_pass(vv: LocalVectorVue, session: requests.Session) -> None:
    token = login(session, vv)
    document = body(object_id="o" * 128, severity="s" * 32, metadata_json={}, timestamp=1790000000)

    assert send(session, vv, token, document).status_code == 202
    assert vv.client_events()[0]["timestamp"] == "2026-09-21T14:13:20+00:00"


@pytest.mark.parametrize("token", [None, "not-a-token", "a.b.c"])
def test_a_valid_body_without_a_good_token_is_401(
    vv: LocalVectorVue, session: requests.Session, token: str | None
) -> None:
    response = send(session, vv, token)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_the_static_token_is_accepted(vv: LocalVectorVue, session: requests.Session) -> None:
    assert send(session, vv, vv.api_token).status_code == 202


@pytest.mark.parametrize(
    ("document", "text"),
    [
        (body(event_type="PAGE_VIEWED"), "Unsupported event_type: PAGE_VIEWED"),
        (body(object_type=" Tenant "), "Unsupported object_type: tenant"),
    ],
)
def test_outside_the_allow_lists_is_422_after_the_token(
    vv: LocalVectorVue, session: requests.Session, document: dict[str, Any], text: str
) -> None:
    assert send(session, vv, None, document).status_code == 401

    response = send(session, vv, login(session, vv), document)

    assert response.status_code == 422
    assert response.json() == {"detail": text}


def test_120_per_sliding_minute_per_tenant_and_lower_cased_user(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock, session: requests.Session
) -> None:
    users = {**USERS, "alice": ("pw-a2", TENANT, "operator")}  # same user, other case
    vv = local_vectorvue_factory(users=users, now=clock)
    session.verify = vv.ca_pem_path
    upper = login_as(session, vv, users, "Alice")
    lower = login_as(session, vv, users, "alice")
    other = login_as(session, vv, users, "bob")

    for n in range(120):
        clock.t = MINUTE_START + n * 0.25
        assert send(session, vv, upper if n % 2 else lower).status_code == 202
    refused = send(session, vv, upper)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Event rate limit exceeded"}
    assert "retry-after" not in refused.headers
    assert send(session, vv, other).status_code == 202  # another user's budget
    # a bad event is refused before the limit: it says 422, not 429
    assert send(session, vv, upper, body(event_type="PAGE_VIEWED")).status_code == 422

    clock.t = MINUTE_START + 60  # the first one left the window (refusals were not counted)
    assert send(session, vv, upper).status_code == 202
    assert send(session, vv, upper).status_code == 429
    assert len(vv.client_events()) == 122


def test_the_integration_limiter_does_not_apply(
    vv: LocalVectorVue, session: requests.Session
) -> None:
    token = login(session, vv)

    statuses = {send(session, vv, token).status_code for _ in range(8)}  # the API's limit is 5

    assert statuses == {202}


def test_reset_forgets_the_events(vv: LocalVectorVue, session: requests.Session) -> None:
    assert send(session, vv, login(session, vv)).status_code == 202
    vv.reset()

    assert vv.client_events() == []


def login_as(
    session: requests.Session,
    vv: LocalVectorVue,
    users: dict[str, tuple[str, str, str]],
    user: str,
) -> str:
    password, tenant, _ = users[user]
    credentials = {"username": user, "password": password, "tenant_id": tenant}
    response = session.post(vv.url + LOGIN, json=credentials, timeout=5)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
