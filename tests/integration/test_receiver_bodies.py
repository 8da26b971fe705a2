"""LocalVectorVue's integration API: the 1 MiB cap on request bodies (413 before the body
is read), gzip bodies signed as sent (a gzip bomb is a 413) and Retry-After on injected
faults, driven over real HTTPS with `requests`."""

from __future__ import annotations

import gzip
import http.client
import ssl
from collections.abc import Iterator

import msgspec
import pytest
import requests

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_auth import EVENTS, MIB, SECRET, event, hmac_headers, post_event
from .test_receiver_gateway import MINUTE_START, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START)


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, clock: Clock) -> LocalVectorVue:
    """A receiver that signs-checks requests (HMAC) on the injected clock."""
    return local_vectorvue_factory(signing_secret=SECRET, now=clock)


@pytest.fixture
def session(vv: LocalVectorVue) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE
        s.verify = vv.ca_pem_path
        yield s


# -- body size ------------------------------------------------------------------------------
def test_a_body_over_1_mib_is_413_before_it_is_read(vv: LocalVectorVue) -> None:
    # Only the headers go out: a server that waited for the body would hang until timeout.
    context = ssl.create_default_context(cafile=vv.ca_pem_path)
    port = int(vv.url.rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    try:
        connection.putrequest("POST", EVENTS)
        connection.putheader("Authorization", f"Bearer {vv.api_token}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(MIB + 1))
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 413
    assert msgspec.json.decode(body) == {"detail": "Request entity too large"}
    (recorded,) = vv.requests
    assert recorded.headers["content-length"] == str(MIB + 1)
    assert recorded.body == b""


def test_a_client_sending_1_mib_plus_1_reads_the_413(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    response = post_event(session, vv, vv.api_token, clock, body=b" " * (MIB + 1))

    assert response.status_code == 413
    assert response.json() == {"detail": "Request entity too large"}
    assert session.get(vv.url + "/healthz", timeout=5).status_code == 200  # a new connection


def test_a_body_of_exactly_1_mib_is_read(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    compact = msgspec.json.encode(event())
    padded = compact + b" " * (MIB - len(compact))  # trailing whitespace is valid JSON

    response = post_event(session, vv, vv.api_token, clock, body=padded)

    assert len(padded) == MIB
    assert response.status_code == 202


# -- gzip request bodies --------------------------------------------------------------------
def test_a_gzip_body_signed_over_its_compressed_bytes_is_accepted(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    compressed = gzip.compress(msgspec.json.encode(event("evt-gz")))

    response = post_event(
        session, vv, vv.api_token, clock, body=compressed, headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 202
    assert vv.receipts("evt-gz") == 1
    assert vv.requests[-1].body == compressed  # recorded as received


def test_a_gzip_body_signed_over_its_uncompressed_bytes_is_401(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    plain = msgspec.json.encode(event("evt-gz"))
    headers = {"Content-Encoding": "gzip", **hmac_headers(plain, int(clock()))}

    response = post_event(
        session, vv, vv.api_token, clock, body=gzip.compress(plain), headers=headers
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid signature"}


def test_a_gzip_bomb_is_413(vv: LocalVectorVue, session: requests.Session, clock: Clock) -> None:
    bomb = gzip.compress(b'"' + b"a" * (64 * MIB) + b'"')  # ~64 KiB on the wire
    at_cap = gzip.compress(msgspec.json.encode(event()).ljust(MIB))

    exploded = post_event(
        session, vv, vv.api_token, clock, body=bomb, headers={"Content-Encoding": "gzip"}
    )
    fits = post_event(
        session, vv, vv.api_token, clock, body=at_cap, headers={"Content-Encoding": "gzip"}
    )

    assert len(bomb) < MIB // 8
    assert exploded.status_code == 413
    assert exploded.json() == {"detail": "Request entity too large"}
    assert fits.status_code == 202


@pytest.mark.parametrize(
    ("encoding", "body", "status"), [("br", b"\x00", 415), ("gzip", b"not gzip at all", 400)]
)
def test_an_unknown_encoding_is_415_and_a_broken_gzip_400(
    vv: LocalVectorVue,
    session: requests.Session,
    clock: Clock,
    encoding: str,
    body: bytes,
    status: int,
) -> None:
    response = post_event(
        session, vv, vv.api_token, clock, body=body, headers={"Content-Encoding": encoding}
    )

    assert response.status_code == status


# -- injected faults ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("retry_after", "header"), [(7, "7"), ("Wed, 25 Nov 2026 00:00:07 GMT", None)]
)
def test_fail_next_can_add_a_retry_after(
    vv: LocalVectorVue,
    session: requests.Session,
    clock: Clock,
    retry_after: int | str,
    header: str | None,
) -> None:
    vv.fail_next(1, 503, retry_after=retry_after)

    response = post_event(session, vv, vv.api_token, clock)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == (header or retry_after)
