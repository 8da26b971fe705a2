"""The Signer contract, run against every signer (HMAC, Ed25519) and the recording fake;
then what each real signer must do exactly as VectorVue verifies it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.adapters.signer_ed25519 import (
    Ed25519Signer,
    certificate_sha256,
    load_ed25519_key,
    load_ed25519_key_file,
)
from vectorvue_client.adapters.signer_hmac import HmacSigner
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.ports import Signer
from vectorvue_client.testing import FakeCredentialSource, RecordingSigner

KEY = "vvs_contract-signing-secret-0123456789"
SEED = bytes(range(32))
CERT_SHA = "ab" * 32
BODY = b'{"event_id":"e-1"}'


def ed25519() -> Ed25519Signer:
    return Ed25519Signer(
        Ed25519PrivateKey.from_private_bytes(SEED),
        service_identity="spectrastrike-producer",
        client_cert_sha256=CERT_SHA,
    )


@pytest.fixture(params=["hmac", "ed25519", "recording"])
def signer(request: pytest.FixtureRequest) -> Signer:
    if request.param == "hmac":
        return HmacSigner(FakeCredentialSource(KEY))
    if request.param == "ed25519":
        return ed25519()
    return RecordingSigner()


def test_signatures_are_deterministic_string_headers(signer: Signer) -> None:
    """Same body, timestamp and nonce -> the same headers, all plain strings."""
    a = signer.sign(BODY, timestamp=1_795_564_800, nonce="nonce-0001")
    b = signer.sign(BODY, timestamp=1_795_564_800, nonce="nonce-0001")
    assert a == b
    assert a
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in a)


def test_signatures_cover_the_body_and_the_time(signer: Signer) -> None:
    """Changing one byte of the body, or the timestamp, changes the signature."""
    base = signer.sign(BODY, timestamp=1_795_564_800, nonce="nonce-0001")
    assert (
        signer.sign(BODY.replace(b"1", b"2"), timestamp=1_795_564_800, nonce="nonce-0001") != base
    )
    assert signer.sign(BODY, timestamp=1_795_564_801, nonce="nonce-0001") != base


def test_hmac_signature_is_what_the_integration_api_verifies() -> None:
    """X-Signature = lowercase hex HMAC-SHA256(secret, f"{timestamp}." + body)."""
    headers = dict(
        HmacSigner(FakeCredentialSource(KEY)).sign(BODY, timestamp=1700000000, nonce="n" * 8)
    )
    expected = hmac.new(KEY.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-Timestamp": "1700000000", "X-Signature": expected}


def test_ed25519_signature_is_what_the_gateway_verifies() -> None:
    """Every gateway header, and a standard padded base64 Ed25519 signature over
    f"{timestamp}.{nonce}." + body that the public key verifies (and that covers the nonce)."""
    headers = dict(ed25519().sign(BODY, timestamp=1700000000, nonce="nonce-abcdef"))
    assert headers["X-Service-Identity"] == "spectrastrike-producer"
    assert headers["X-Client-Cert-Sha256"] == CERT_SHA
    assert headers["X-Telemetry-Timestamp"] == "1700000000"
    assert headers["X-Telemetry-Nonce"] == "nonce-abcdef"
    raw = base64.b64decode(headers["X-Telemetry-Signature"], validate=True)
    assert base64.b64encode(raw).decode() == headers["X-Telemetry-Signature"]  # padded, std
    public = Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    public.verify(raw, b"1700000000.nonce-abcdef." + BODY)  # raises if wrong
    other = dict(ed25519().sign(BODY, timestamp=1700000000, nonce="nonce-abcdeg"))
    assert other["X-Telemetry-Signature"] != headers["X-Telemetry-Signature"]


def _pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@pytest.mark.parametrize(
    "material",
    [
        SEED,
        SEED.hex().encode(),
        SEED.hex().upper().encode() + b"\n",
        base64.b64encode(SEED) + b"\n",
        _pem(Ed25519PrivateKey.from_private_bytes(SEED)),
        Ed25519PrivateKey.from_private_bytes(SEED).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
    ],
    ids=["raw-seed", "hex", "hex-upper-newline", "base64", "pkcs8-pem", "openssh"],
)
def test_every_key_form_loads_the_same_key(material: bytes) -> None:
    """Raw seed, hex, base64, PKCS#8 PEM and OpenSSH all give the same private key."""
    key = load_ed25519_key(material, field="signing_key_file")
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert raw == SEED


@pytest.mark.parametrize(
    ("material", "words"),
    [
        (_pem(Ed25519PrivateKey.from_private_bytes(SEED), b"pw"), "encrypted"),
        (
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "not an Ed25519 key",
        ),
        (b"correct horse battery staple", "is not an Ed25519 private key"),
        (base64.b64encode(bytes(31)), "is not an Ed25519 private key"),
        (b"", "is not an Ed25519 private key"),
    ],
    ids=["encrypted", "rsa", "garbage", "short-seed", "empty"],
)
def test_bad_keys_are_config_errors_that_quote_nothing(material: bytes, words: str) -> None:
    """Each bad key names the field and the rule, and never repeats the material."""
    with pytest.raises(VectorVueConfigError) as caught:
        load_ed25519_key(material, field="signing_key_env")
    assert caught.value.field == "signing_key_env"
    assert words in caught.value.rule
    if material:
        assert material.decode(errors="replace")[:12] not in str(caught.value)


def test_key_files_load_and_missing_ones_are_named(tmp_path: Path) -> None:
    """A seed file of 32 raw bytes loads; a missing file is an error naming its path."""
    path = tmp_path / "seed.bin"
    path.write_bytes(SEED)
    assert (
        load_ed25519_key_file(str(path)).public_key()
        == Ed25519PrivateKey.from_private_bytes(SEED).public_key()
    )
    with pytest.raises(VectorVueConfigError) as caught:
        load_ed25519_key_file(str(tmp_path / "absent.pem"))
    assert caught.value.field == "signing_key_file"
    assert "absent.pem" in caught.value.rule


def test_certificate_sha256_is_the_der_fingerprint(tmp_path: Path) -> None:
    """X-Client-Cert-Sha256 is SHA-256 of the certificate's DER, computed here with ssl."""
    cert = trustme.CA().issue_cert("spectrastrike-producer")
    path = tmp_path / "client.pem"
    cert.cert_chain_pems[0].write_to_path(str(path))
    der = ssl.PEM_cert_to_DER_cert(path.read_text())
    assert certificate_sha256(str(path)) == hashlib.sha256(der).hexdigest()
    not_a_cert = tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(not_a_cert))
    with pytest.raises(VectorVueConfigError) as caught:
        certificate_sha256(str(not_a_cert))
    assert caught.value.field == "client_cert"
