"""LocalVectorVue's integration API: the bundled nginx's 1 MiB cap on request bodies (its
HTML 413 before the body is read), gzip bodies (nothing on VectorVue decompresses: a plain
500) and Retry-After on injected faults, driven over real HTTPS with `requests`."""

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
    assert b"413 Request Entity Too Large" in body  # nginx's HTML page
    (recorded,) = vv.requests
    assert recorded.headers["content-length"] == str(MIB + 1)
    assert recorded.body == b""


def test_a_client_sending_1_mib_plus_1_reads_the_413(
    vv: LocalVectorVue, session: requests.Session, clock: Clock
) -> None:
    response = post_event(session, vv, vv.api_token, clock, body=b" " * (MIB + 1))

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "text/html"
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
@pytest.mark.parametrize("signed_over", ["compressed", "plain"])
def test_a_gzip_body_is_a_plain_500_and_a_closed_connection(
    vv: LocalVectorVue, session: requests.Session, clock: Clock, signed_over: str
) -> None:
    """Nothing on VectorVue decompresses a request: the gzip bytes are not UTF-8, which
    fails in the signature check already (whatever the signature covers)."""
    plain = msgspec.json.encode(event("evt-gz"))
    compressed = gzip.compress(plain)
    signed = compressed if signed_over == "compressed" else plain
    headers = {"Content-Encoding": "gzip", **hmac_headers(signed, int(clock()))}

    response = post_event(session, vv, vv.api_token, clock, body=compressed, headers=headers)

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert vv.receipts("evt-gz") == 0


def test_without_a_signing_secret_a_gzip_body_is_a_500_too(
    local_vectorvue_factory: LocalVectorVueFactory, session: requests.Session, clock: Clock
) -> None:
    unsigned = local_vectorvue_factory(now=clock)
    compressed = gzip.compress(msgspec.json.encode(event("evt-gz")))

    response = session.post(
        unsigned.url + EVENTS,
        data=compressed,
        headers={
            "Authorization": f"Bearer {unsigned.api_token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        verify=unsigned.ca_pem_path,
        timeout=5,
    )

    assert response.status_code == 500
    assert unsigned.receipts("evt-gz") == 0


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
