"""LocalVectorVue's integration API: login and JWTs, and the rate limit, driven over real
HTTPS with `requests`. The 1 MiB cap, gzip bodies and Retry-After on injected faults are in
test_receiver_bodies.py, which shares the helpers below."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import requests

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import MINUTE_START, Clock

LOGIN = "/api/v1/client/auth/login"
EVENTS = "/api/v1/integrations/spectrastrike/events"
STATUS = "/api/v1/integrations/spectrastrike/ingest/status/"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # a UUID no ingest was given
TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
USERS = {
    "alice": ("correct horse", TENANT, "operator"),
    "bob": ("battery staple", TENANT, "viewer"),
}
SECRET = "signing-secret-3b9e"
MIB = 1_048_576


def event(event_id: str = "evt-1", message: str = "scan completed") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source_system": "spectrastrike",
        "event_type": "scan.completed",
        "occurred_at": "2026-11-25T00:00:00Z",
        "severity": "low",
        "asset_ref": "host-1",
        "message": message,
        "metadata": {},
    }


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    decoded: dict[str, Any] = msgspec.json.decode(base64.urlsafe_b64decode(padded))
    return decoded


def hmac_headers(body: bytes, timestamp: int) -> dict[str, str]:
    """The integration API's request signature over the bytes as sent."""
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-Timestamp": str(timestamp), "X-Signature": digest.hexdigest()}


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START)


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, clock: Clock) -> LocalVectorVue:
    return local_vectorvue_factory(users=USERS, signing_secret=SECRET, now=clock)


@pytest.fixture
def session(vv: LocalVectorVue) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE
        s.verify = vv.ca_pem_path
        yield s


def login(session: requests.Session, vv: LocalVectorVue, user: str = "alice") -> str:
    password, tenant, _ = USERS[user]
    credentials = {"username": user, "password": password, "tenant_id": tenant}
    response = session.post(vv.url + LOGIN, json=credentials, timeout=5)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def post_event(
    session: requests.Session,
    vv: LocalVectorVue,
    token: str,
    clock: Clock,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST an event signed at the receiver's time."""
    body = msgspec.json.encode(event()) if body is None else body
    sent = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        **hmac_headers(body, int(clock())),
        **(headers or {}),
    }
    return session.post(vv.url + EVENTS, data=body, headers=sent, timeout=5)


# -- login and JWT --------------------------------------------------------------------------
def test_login_returns_a_jwt_that_works_as_a_bearer_token(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    password, tenant, _ = USERS["alice"]
    credentials = {"username": "alice", "password": password, "tenant_id": tenant}
    response = session.post(vv.url + LOGIN, json=credentials, timeout=5)

    assert response.status_code == 200
    document = response.json()
    assert set(document) == {"access_token", "token_type", "expires_in", "tenant_id", "username"}
    assert (document["token_type"], document["expires_in"]) == ("bearer", 43200)
    assert (document["tenant_id"], document["username"]) == (TENANT, "alice")
    first = document["access_token"].split(".")[0]
    header = msgspec.json.decode(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    assert header["alg"] == "HS256"
    claims = claims_of(document["access_token"])
    assert claims == {
        "sub": "alice",
        "tenant_id": TENANT,
        "role": "operator",
        "iat": MINUTE_START,
        "exp": MINUTE_START + 43200,
    }
    assert post_event(session, vv, document["access_token"], clock).status_code == 202
    assert vv.receipts("evt-1") == 1
    assert vv.logins == 1


@pytest.mark.parametrize(
    ("username", "password", "tenant"),
    [
        ("alice", "wrong", TENANT),
        ("alice", "correct horse", "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20"),
        ("mallory", "correct horse", TENANT),
    ],
)
def test_wrong_credentials_are_401_and_still_counted(
    vv: LocalVectorVue, session: requests.Session, username: str, password: str, tenant: str
) -> None:
    credentials = {"username": username, "password": password, "tenant_id": tenant}

    response = session.post(vv.url + LOGIN, json=credentials, timeout=5)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid credentials"}
    assert vv.logins == 1  # a client looping on a refused login shows here


def test_an_expired_jwt_is_401_token_expired(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock
) -> None:
    vv = local_vectorvue_factory(users=USERS, jwt_ttl_seconds=60, now=clock)
    with requests.Session() as session:
        session.trust_env, session.verify = False, vv.ca_pem_path
        token = login(session, vv)
        status = vv.url + STATUS + UNKNOWN_ID
        bearer = {"Authorization": f"Bearer {token}"}

        clock.t = MINUTE_START + 59
        still_valid = session.get(status, headers=bearer, timeout=5)
        clock.t = MINUTE_START + 60
        expired = session.get(status, headers=bearer, timeout=5)

    assert still_valid.status_code == 404  # authenticated: the id is simply unknown
    assert expired.status_code == 401
    assert expired.json() == {"detail": "Token expired"}
    assert expired.headers["WWW-Authenticate"] == "Bearer"


def test_the_advertised_expires_in_can_lie_but_exp_does_not(
    local_vectorvue_factory: LocalVectorVueFactory, clock: Clock
) -> None:
    vv = local_vectorvue_factory(
        users=USERS, jwt_ttl_seconds=600, advertised_expires_in=86400, now=clock
    )
    with requests.Session() as session:
        session.trust_env, session.verify = False, vv.ca_pem_path
        password, tenant, _ = USERS["bob"]
        credentials = {"username": "bob", "password": password, "tenant_id": tenant}
        document = session.post(vv.url + LOGIN, json=credentials, timeout=5).json()

    assert document["expires_in"] == 86400
    assert claims_of(document["access_token"])["exp"] == MINUTE_START + 600


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "role": "admin"}
    forged = base64.urlsafe_b64encode(msgspec.json.encode(claims)).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _unsigned(token: str) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{token.split('.')[1]}."


@pytest.mark.parametrize("forge", [_tampered, _unsigned, lambda t: t[:-4] + "AAAA", str.upper])
def test_a_forged_jwt_is_401_invalid_jwt(
    vv: LocalVectorVue, session: requests.Session, forge: Any
) -> None:
    token = forge(login(session, vv))

    response = session.get(
        vv.url + STATUS + UNKNOWN_ID, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid JWT"}


def test_a_jwt_of_another_receiver_is_401(
    local_vectorvue_factory: LocalVectorVueFactory, vv: LocalVectorVue, session: requests.Session
) -> None:
    other = local_vectorvue_factory(users=USERS, ca=vv.ca)  # same CA, its own JWT key
    token = login(session, other)
    response = session.get(
        vv.url + STATUS + "x", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid JWT"}


# -- rate limit -----------------------------------------------------------------------------
def test_the_241st_request_in_60_seconds_is_429_without_retry_after(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    bearer = {"Authorization": f"Bearer {vv.api_token}"}
    status = vv.url + STATUS + UNKNOWN_ID
    answers = []
    for i in range(240):  # spread over 59.75 s, all SpectraStrike routes count
        clock.t = MINUTE_START + i * 0.25
        answers.append(session.get(status, headers=bearer, timeout=5).status_code)
    over = session.get(status, headers=bearer, timeout=5)
    other_client = session.get(
        status, headers={"Authorization": f"Bearer {login(session, vv)}"}, timeout=5
    )
    clock.t = MINUTE_START + 60.0  # the first request has left the sliding window
    freed = session.get(status, headers=bearer, timeout=5)

    assert answers == [404] * 240
    assert over.status_code == 429
    assert over.json() == {"detail": "Rate limit exceeded"}
    assert "retry-after" not in {name.lower() for name in over.headers}
    assert other_client.status_code == 404  # per client
    assert freed.status_code == 404


def test_the_rate_limit_is_configurable_and_counts_posts(
    local_vectorvue_factory: LocalVectorVueFactory,
) -> None:
    vv = local_vectorvue_factory(rate_limit_per_minute=2)
    with requests.Session() as session:
        session.trust_env, session.verify = False, vv.ca_pem_path
        bearer = {"Authorization": f"Bearer {vv.api_token}"}
        statuses = [
            session.post(vv.url + EVENTS, json=event(f"evt-{i}"), headers=bearer, timeout=5)
            for i in range(3)
        ]

    assert [r.status_code for r in statuses] == [202, 202, 429]
    assert vv.receipts("evt-2") == 0


# -- the pytest plugin ----------------------------------------------------------------------
def test_the_plugin_fixture_is_a_started_receiver_with_a_random_token(
    local_vectorvue: LocalVectorVue,
) -> None:
    with requests.Session() as session:
        session.trust_env, session.verify = False, local_vectorvue.ca_pem_path
        bearer = {"Authorization": f"Bearer {local_vectorvue.api_token}"}
        response = session.post(local_vectorvue.url + EVENTS, json=event(), headers=bearer)

    assert len(local_vectorvue.api_token) >= 32
    assert response.status_code == 202
    assert local_vectorvue.receipts("evt-1") == 1
