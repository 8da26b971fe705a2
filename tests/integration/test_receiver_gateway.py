"""LocalVectorVue's telemetry-gateway profile, driven over real HTTPS with raw `requests`:
acceptance, the replay store, the headers, media type, size and compressed bodies (a plain
500: nothing on VectorVue decompresses). The body rules, the operator mapping and the burst
limit are in test_receiver_gateway_body.py and test_receiver_gateway_rules.py, which share
the helpers below (as does test_receiver_mtls.py).

Every rule of the contract's POST /internal/v1/telemetry answers with the status the
contract names; the clock is injected, so windows and calendar minutes are exact.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

PATH = "/internal/v1/telemetry"
IDENTITY = "spectrastrike-producer"
TENANT = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
OTHER_TENANT = "0b9f4c1e-8a51-4e3a-9d07-2a6f5c3b1d20"
OPERATOR = "op-1"
MINUTE_START = 1_790_000_040  # a multiple of 60: the first second of a calendar minute
NO_CERT = "0" * 64  # the stated fingerprint when the connection presents no certificate
MIB = 1_048_576


class Clock:
    """The receiver's `now`, moved by the test."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def event_body(
    timestamp: int, nonce: str, event_id: str = "evt-1", **payload: Any
) -> dict[str, Any]:
    """A valid gateway body for this attempt; `payload` overrides payload fields."""
    party = {"tenant_id": TENANT, "operator_id": OPERATOR, "campaign_id": "camp-7"}
    return {
        **party,
        "execution_hash": "ab" * 32,
        "timestamp": timestamp,
        "nonce": nonce,
        "signed_metadata": dict(party),
        "payload": {
            "event_id": event_id,
            "event_type": "exploit.attempted",
            "source_system": "spectrastrike",
            "severity": "high",
            "observed_at": "2026-11-25T00:00:00Z",
            "mitre_techniques": ["T1190"],
            "mitre_tactics": ["TA0001"],
            "description": "exploit attempted against host-1",
            "attributes": {"attestation_measurement_hash": "cd" * 32, "schema_version": "1.0"},
            **payload,
        },
    }


def signed_headers(
    key: Ed25519PrivateKey, body: bytes, timestamp: int, nonce: str, cert_sha256: str = NO_CERT
) -> dict[str, str]:
    """The contract's headers, signed over f"{timestamp}.{nonce}." + body."""
    signature = key.sign(f"{timestamp}.{nonce}.".encode() + body)
    return {
        "Content-Type": "application/json",
        "X-Service-Identity": IDENTITY,
        "X-Client-Cert-Sha256": cert_sha256,
        "X-Telemetry-Timestamp": str(timestamp),
        "X-Telemetry-Nonce": nonce,
        "X-Telemetry-Signature": base64.b64encode(signature).decode("ascii"),
    }


def new_nonce() -> str:
    return uuid.uuid4().hex


class Producer:
    """Sends gateway requests the way a correct client does, each piece overridable."""

    def __init__(self, vv: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> None:
        self.vv, self.key, self.clock = vv, key, clock
        self.session = requests.Session()
        self.session.trust_env = False  # this machine sets REQUESTS_CA_BUNDLE
        self.session.verify = vv.ca_pem_path

    def send(
        self,
        document: dict[str, Any] | None = None,
        *,
        event_id: str = "evt-1",
        nonce: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        cert_sha256: str = NO_CERT,
        cert: tuple[str, str] | None = None,
    ) -> requests.Response:
        """POST one event: a fresh nonce and the clock's timestamp unless given."""
        timestamp = int(self.clock()) if timestamp is None else timestamp
        nonce = new_nonce() if nonce is None else nonce
        if raw is None:
            raw = msgspec.json.encode(document or event_body(timestamp, nonce, event_id))
        sent = {**signed_headers(self.key, raw, timestamp, nonce, cert_sha256), **(headers or {})}
        return self.session.post(self.vv.url + PATH, data=raw, headers=sent, cert=cert, timeout=5)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE_START + 0.5)


@pytest.fixture
def gateway(
    local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey, clock: Clock
) -> LocalVectorVue:
    return local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()},
        operator_tenants={OPERATOR: [TENANT]},
        now=clock,
    )


@pytest.fixture
def producer(gateway: LocalVectorVue, key: Ed25519PrivateKey, clock: Clock) -> Iterator[Producer]:
    p = Producer(gateway, key, clock)
    yield p
    p.close()


def detail_of(response: requests.Response) -> str:
    document = response.json()
    assert set(document) == {"detail"}
    text: str = document["detail"]
    return text


# -- acceptance, upsert, exactly-once ------------------------------------------------------
def test_a_valid_event_is_202_and_stored_once(gateway: LocalVectorVue, producer: Producer) -> None:
    response = producer.send(event_id="evt-1")

    assert response.status_code == 202
    document = response.json()
    assert document["accepted"] is True
    assert uuid.UUID(document["request_id"]).version == 4
    assert gateway.gateway_receipts(TENANT, "evt-1") == 1
    assert gateway.receipts("evt-1") == 1  # the profile-agnostic count sees it too
    stored = gateway.accepted_telemetry()[(TENANT, "evt-1")]
    assert stored["payload"]["event_id"] == "evt-1"
    assert gateway.requests[-1].client_cert_sha256 is None  # no certificate presented


def test_the_upsert_keeps_the_last_version_and_counts_every_receipt(
    gateway: LocalVectorVue, producer: Producer, clock: Clock
) -> None:
    t = int(clock())
    first = event_body(t, "nonce-first-1", "evt-1", description="first version")
    second = event_body(t, "nonce-second-2", "evt-1", description="second version")

    assert producer.send(first, nonce="nonce-first-1").status_code == 202
    assert producer.send(second, nonce="nonce-second-2").status_code == 202

    stored = gateway.accepted_telemetry()
    assert list(stored) == [(TENANT, "evt-1")]
    assert stored[(TENANT, "evt-1")]["payload"]["description"] == "second version"
    assert gateway.gateway_receipts(TENANT, "evt-1") == 2  # a resend: harmless, but seen


# -- replay store ---------------------------------------------------------------------------
def test_a_replayed_nonce_is_409(gateway: LocalVectorVue, producer: Producer) -> None:
    assert producer.send(nonce="nonce-0001").status_code == 202

    replay = producer.send(nonce="nonce-0001")

    assert replay.status_code == 409
    assert detail_of(replay) == "Replay detected: nonce already used"
    assert gateway.gateway_receipts(TENANT, "evt-1") == 1


def test_a_request_refused_for_its_schema_still_burns_its_nonce(
    gateway: LocalVectorVue, producer: Producer, clock: Clock
) -> None:
    t = int(clock())
    broken = event_body(t, "nonce-0002")
    broken["payload"]["unexpected"] = 1
    fixed = event_body(t, "nonce-0002")

    refused = producer.send(broken, nonce="nonce-0002")
    same_nonce = producer.send(fixed, nonce="nonce-0002")
    fresh = producer.send(event_body(t, "nonce-0003"), nonce="nonce-0003")

    assert refused.status_code == 422
    assert "unexpected" in detail_of(refused)
    assert same_nonce.status_code == 409  # the refusal used the pair up
    assert fresh.status_code == 202
    assert gateway.gateway_receipts(TENANT, "evt-1") == 1


def test_an_injected_503_burns_the_nonce_as_the_real_one_does(
    gateway: LocalVectorVue, producer: Producer, clock: Clock
) -> None:
    gateway.fail_next(1, 503, b'{"detail":"Service Unavailable"}')
    t = int(clock())

    failed = producer.send(event_body(t, "nonce-0004"), nonce="nonce-0004")
    same_nonce = producer.send(event_body(t, "nonce-0004"), nonce="nonce-0004")
    fresh = producer.send(event_body(t, "nonce-0005"), nonce="nonce-0005")

    assert (failed.status_code, same_nonce.status_code, fresh.status_code) == (503, 409, 202)


# -- headers: 401 ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        "X-Service-Identity",
        "X-Client-Cert-Sha256",
        "X-Telemetry-Timestamp",
        "X-Telemetry-Nonce",
        "X-Telemetry-Signature",
    ],
)
def test_a_missing_header_is_401_naming_it(producer: Producer, header: str) -> None:
    response = producer.send(headers={header: ""})  # requests drops it; empty means missing

    assert response.status_code == 401
    assert header in detail_of(response)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({"X-Service-Identity": "someone-else"}, "Unknown service identity"),
        ({"X-Client-Cert-Sha256": "AB" * 32}, "64 lowercase hex"),
        ({"X-Client-Cert-Sha256": "ab:" * 31 + "ab"}, "64 lowercase hex"),
        ({"X-Telemetry-Timestamp": "1790000040.5"}, "decimal integer"),
        ({"X-Telemetry-Nonce": "short"}, "8-128"),
        ({"X-Telemetry-Nonce": "n" * 129}, "8-128"),
    ],
)
def test_a_bad_header_is_401(producer: Producer, headers: dict[str, str], words: str) -> None:
    response = producer.send(headers=headers)

    assert response.status_code == 401
    assert words in detail_of(response)


@pytest.mark.parametrize(("age", "status"), [(30, 202), (31, 401), (-30, 202), (-31, 401)])
def test_the_timestamp_window_is_30_seconds(
    producer: Producer, clock: Clock, age: int, status: int
) -> None:
    clock.t = MINUTE_START  # a whole second: the window is compared with now() exactly
    response = producer.send(timestamp=MINUTE_START - age)

    assert response.status_code == status
    if status == 401:
        assert "window" in detail_of(response)


def test_a_signature_by_another_key_is_401(producer: Producer) -> None:
    producer.key = Ed25519PrivateKey.generate()

    response = producer.send()

    assert response.status_code == 401
    assert "Signature" in detail_of(response)


def test_a_body_changed_after_signing_is_401(producer: Producer, clock: Clock) -> None:
    t, nonce = int(clock()), new_nonce()
    signed = msgspec.json.encode(event_body(t, nonce))
    headers = signed_headers(producer.key, signed, t, nonce)
    reordered = msgspec.json.encode(msgspec.json.decode(signed), order="sorted")  # same JSON

    response = producer.send(raw=reordered, nonce=nonce, headers=headers)

    assert response.status_code == 401  # the signature covers the exact bytes


@pytest.mark.parametrize("mangle", ["unpadded", "not-base64", "too-short"])
def test_a_signature_that_is_not_standard_padded_base64_of_64_bytes_is_401(
    producer: Producer, clock: Clock, mangle: str
) -> None:
    t, nonce = int(clock()), new_nonce()
    raw = msgspec.json.encode(event_body(t, nonce))
    signature = producer.key.sign(f"{t}.{nonce}.".encode() + raw)
    value = {
        "unpadded": base64.b64encode(signature).decode().rstrip("="),
        "not-base64": "not base64!",
        "too-short": base64.b64encode(signature[:63]).decode(),
    }[mangle]

    response = producer.send(raw=raw, nonce=nonce, headers={"X-Telemetry-Signature": value})

    assert response.status_code == 401


# -- media type and size --------------------------------------------------------------------
def test_a_body_that_is_not_json_is_415(producer: Producer) -> None:
    response = producer.send(headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert "application/json" in detail_of(response)


def test_a_body_over_1_mib_is_413_before_it_is_read(gateway: LocalVectorVue) -> None:
    # Only the headers are sent: a server that waited for the body would time out.
    context = ssl.create_default_context(cafile=gateway.ca_pem_path)
    port = int(gateway.url.rsplit(":", 1)[1])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    try:
        connection.putrequest("POST", PATH)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(MIB + 1))
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 413
    assert b"413 Request Entity Too Large" in body  # the bundled nginx's HTML page
    assert response.getheader("Connection") == "close"
    assert gateway.requests[-1].body == b""


# -- gzip bodies ----------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_a_compressed_body_signed_as_sent_is_a_plain_500_and_burns_its_nonce(
    gateway: LocalVectorVue, producer: Producer, clock: Clock, encoding: str
) -> None:
    """Nothing on VectorVue decompresses a request, and the Content-Encoding header is not
    looked at: the gzip bytes pass the signature and then fail as text that is not UTF-8."""
    t, nonce = int(clock()), new_nonce()
    compressed = gzip.compress(msgspec.json.encode(event_body(t, nonce, "evt-gz")), mtime=0)

    response = producer.send(
        raw=compressed, nonce=nonce, timestamp=t, headers={"Content-Encoding": encoding}
    )
    again = producer.send(raw=compressed, nonce=nonce, timestamp=t)

    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert again.status_code == 409
    assert gateway.accepted_telemetry() == {}
