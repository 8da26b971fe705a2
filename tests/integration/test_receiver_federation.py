"""LocalVectorVue's POST /internal/v1/federation/verify (design/vectorvue-contract.md, "Other
/internal/v1 endpoints a producer may call"), driven over real HTTPS with raw `requests`:
each bundle is signed in the test with `cryptography` over the contract's string
operator_id|campaign_id|execution_hash|timestamp|nonce, and the expected bundle_hash is
hashlib's SHA-256 of that string."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory
from vectorvue_client.testing.receiver import LocalVectorVue

from .test_receiver_gateway import IDENTITY, MINUTE_START, NO_CERT, Clock

PATH = "/internal/v1/federation/verify"


def signed_string(bundle: dict[str, Any]) -> bytes:
    parts = ("operator_id", "campaign_id", "execution_hash", "timestamp", "nonce")
    return "|".join(str(bundle[part]) for part in parts).encode("utf-8")


def bundle(key: Ed25519PrivateKey, **fields: Any) -> dict[str, Any]:
    """A bundle signed by `key`; `fields` change it after signing."""
    unsigned = {
        "operator_id": "op-1",
        "campaign_id": "camp-\u00e9t\u00e9",  # non-ASCII: signed as UTF-8
        "execution_hash": "Ab" * 32,
        "timestamp": 1_790_000_000,
        "nonce": "nonce-123456",
    }
    signature = base64.b64encode(key.sign(signed_string(unsigned))).decode()
    return {**unsigned, "signature": signature, **fields}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def vv(local_vectorvue_factory: LocalVectorVueFactory, key: Ed25519PrivateKey) -> LocalVectorVue:
    return local_vectorvue_factory(
        gateway_identities={IDENTITY: key.public_key()}, now=Clock(MINUTE_START)
    )


@pytest.fixture
def session(vv: LocalVectorVue) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        s.verify = vv.ca_pem_path
        yield s


def send(
    session: requests.Session,
    vv: LocalVectorVue,
    document: Any,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    sent = {"X-Service-Identity": IDENTITY, "X-Client-Cert-Sha256": NO_CERT, **(headers or {})}
    data = raw if raw is not None else json.dumps(document).encode()
    return session.post(vv.url + PATH, data=data, headers=sent, timeout=5)


def test_a_good_bundle_is_200_with_its_hash(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    signed = bundle(key)

    response = send(session, vv, {"bundle": signed})

    assert response.status_code == 200
    expected = hashlib.sha256(signed_string(signed)).hexdigest()
    assert response.json() == {"accepted": True, "bundle_hash": expected}


def test_no_replay_or_clock_check(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    old = bundle(key)  # timestamp far from the receiver's clock

    assert send(session, vv, {"bundle": old}).status_code == 200
    assert send(session, vv, {"bundle": old}).status_code == 200  # the same nonce again


@pytest.mark.parametrize(
    "change",
    [
        {"operator_id": "op-2"},
        {"timestamp": 1_790_000_001},
        {"nonce": "nonce-654321"},
        {"execution_hash": "ab" * 32},  # the case is signed as sent
    ],
)
def test_a_bundle_changed_after_signing_is_401(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    response = send(session, vv, {"bundle": bundle(key, **change)})

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_another_keys_signature_is_401(vv: LocalVectorVue, session: requests.Session) -> None:
    response = send(session, vv, {"bundle": bundle(Ed25519PrivateKey.generate())})

    assert response.status_code == 401


def test_a_signature_that_is_base64_but_not_a_signature_is_401(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    short = base64.b64encode(b"0123456789abcdef").decode()

    assert send(session, vv, {"bundle": bundle(key, signature=short)}).status_code == 401


def test_an_undecodable_signature_is_a_plain_500(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    response = send(session, vv, {"bundle": bundle(key, signature="abcdefghijklm")})  # 13 chars

    assert response.status_code == 500
    assert response.text == "Internal Server Error"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Service-Identity": ""},
        {"X-Service-Identity": "someone-else"},
        {"X-Client-Cert-Sha256": ""},
        {"X-Client-Cert-Sha256": "AB" * 32},
    ],
)
def test_identity_problems_are_401(
    vv: LocalVectorVue,
    session: requests.Session,
    key: Ed25519PrivateKey,
    headers: dict[str, str],
) -> None:
    assert send(session, vv, {"bundle": bundle(key)}, headers=headers).status_code == 401


def test_no_telemetry_signature_headers_are_needed(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    request = send(session, vv, {"bundle": bundle(key)})

    assert request.status_code == 200
    assert not any(h.startswith("x-telemetry") for h in vv.requests[-1].headers)


@pytest.mark.parametrize(
    ("document", "loc"),
    [
        ({}, ["body", "bundle"]),
        ({"bundle": {}}, ["body", "bundle", "operator_id"]),
        ({"extra": 1, "bundle": None}, ["body", "extra"]),
        ("bundle", ["body"]),
    ],
)
def test_a_body_schema_error_is_a_list_form_422_before_the_identity_check(
    vv: LocalVectorVue, session: requests.Session, document: Any, loc: list[str]
) -> None:
    response = send(session, vv, document, headers={"X-Service-Identity": ""})

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert detail[0]["loc"] == loc


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"operator_id": ""}, "operator_id"),
        ({"campaign_id": "c" * 129}, "campaign_id"),
        ({"execution_hash": "zz" * 32}, "execution_hash"),
        ({"execution_hash": "ab" * 31}, "execution_hash"),
        ({"timestamp": "1790000000"}, "timestamp"),
        ({"nonce": "n" * 11}, "nonce"),
        ({"nonce": "n" * 129}, "nonce"),
        ({"signature": "s" * 11}, "signature"),
        ({"signature": "s" * 4097}, "signature"),
        ({"extra": 1}, "extra"),
    ],
)
def test_each_bundle_field_rule_is_a_422_naming_it(
    vv: LocalVectorVue,
    session: requests.Session,
    key: Ed25519PrivateKey,
    change: dict[str, Any],
    field: str,
) -> None:
    response = send(session, vv, {"bundle": bundle(key, **change)})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "bundle", field]


@pytest.mark.parametrize("raw", [b"", b"{nope"])
def test_a_missing_or_broken_body_is_a_list_form_422(
    vv: LocalVectorVue, session: requests.Session, raw: bytes
) -> None:
    response = send(session, vv, None, raw=raw)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_the_boundaries_pass_the_schema(
    vv: LocalVectorVue, session: requests.Session, key: Ed25519PrivateKey
) -> None:
    for fields in (
        {"operator_id": "o" * 128, "campaign_id": "c", "nonce": "n" * 12},
        {"operator_id": "o", "campaign_id": "c" * 128, "nonce": "n" * 128},
    ):
        unsigned = {**bundle(key), **fields}
        signature = base64.b64encode(key.sign(signed_string(unsigned))).decode()
        response = send(session, vv, {"bundle": {**unsigned, "signature": signature}})
        assert response.status_code == 200, response.text
