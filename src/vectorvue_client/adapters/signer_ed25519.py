"""Signer for the telemetry gateway: Ed25519 over "<timestamp>.<nonce>." + body.

The gateway checks, on every request: who we are (X-Service-Identity), which client
certificate we presented (X-Client-Cert-Sha256), when and with which one-time nonce we
signed (X-Telemetry-Timestamp, X-Telemetry-Nonce), and the signature itself
(X-Telemetry-Signature: standard base64, padded). The timestamp and nonce come from the
client's Clock and Entropy ports, fresh for every attempt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret, remember

_SEED_BYTES: Final = 32
_HEX_SEED: Final = re.compile(rb"^[0-9a-fA-F]{64}\Z")
_MAX_KEY_FILE: Final = 64 * 1024


class Ed25519Signer:
    """Signs gateway requests with one Ed25519 key, as one service identity."""

    def __init__(
        self, key: Ed25519PrivateKey, *, service_identity: str, client_cert_sha256: str
    ) -> None:
        self._key = key
        self._identity = (
            ("X-Service-Identity", service_identity),
            ("X-Client-Cert-Sha256", client_cert_sha256),
        )

    def sign(self, body: bytes, *, timestamp: int, nonce: str) -> tuple[tuple[str, str], ...]:
        """Identity headers, and the signature of exactly `body` at `timestamp` with `nonce`."""
        message = f"{timestamp}.{nonce}.".encode() + body
        signature = base64.b64encode(self._key.sign(message)).decode("ascii")
        return (
            *self._identity,
            ("X-Telemetry-Timestamp", str(timestamp)),
            ("X-Telemetry-Nonce", nonce),
            ("X-Telemetry-Signature", signature),
        )

    def identity(self) -> tuple[tuple[str, str], ...]:
        """The identity headers alone (a federation bundle check carries no signature)."""
        return self._identity

    def sign_message(self, message: bytes) -> str:
        """Standard base64 (padded) of the Ed25519 signature of exactly `message`."""
        return base64.b64encode(self._key.sign(message)).decode("ascii")


def load_ed25519_key(material: bytes, *, field: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from any of the forms operators keep one in: a raw 32-byte
    seed, the seed as 64 hex characters or as base64, a PKCS#8 PEM ("BEGIN PRIVATE KEY"),
    or an OpenSSH private key. Encrypted keys are refused (no passphrase is configured).

    Errors name `field` and never quote the material. The material, and the key in every
    encoding a server could echo it in, are registered as known secrets (ADR 0021), also
    when the material is refused (it may still be a secret of some other kind).
    """
    stripped = material.strip()
    _remember_material(material)
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in stripped:
            key: object = serialization.load_ssh_private_key(stripped, password=None)
        elif b"-----BEGIN" in stripped:
            key = serialization.load_pem_private_key(stripped, password=None)
        elif len(material) == _SEED_BYTES:
            key = Ed25519PrivateKey.from_private_bytes(material)
        elif _HEX_SEED.match(stripped):
            key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(stripped.decode()))
        else:
            seed = base64.b64decode(stripped, validate=True)
            if len(seed) != _SEED_BYTES:
                raise ValueError("not a 32-byte seed")
            key = Ed25519PrivateKey.from_private_bytes(seed)
    except TypeError:  # cryptography's word for "this key needs a password"
        raise VectorVueConfigError(field, "the key is encrypted; give an unencrypted key") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise VectorVueConfigError(
            field,
            "is not an Ed25519 private key (expected a 32-byte seed, its hex or base64, "
            "a PKCS#8 PEM or an OpenSSH private key)",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise VectorVueConfigError(field, f"holds a {type(key).__name__}, not an Ed25519 key")
    remember(*key_forms(key))
    return key


def key_forms(key: Ed25519PrivateKey) -> tuple[str, ...]:
    """The private key as text in each form it could be echoed in: the raw 32 bytes as
    standard base64 and base64url (padded and not) and as hex (both cases), the PKCS#8 DER
    as base64, and the PKCS#8 PEM (whole, and its body line)."""
    none = serialization.NoEncryption()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, none)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, none)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, none)
    standard = base64.b64encode(raw).decode("ascii")
    url = base64.urlsafe_b64encode(raw).decode("ascii")
    der64 = base64.b64encode(der).decode("ascii")
    # The unpadded forms are prefixes of the padded ones: what a server strips "=" from.
    return (
        standard,
        standard.rstrip("="),
        url,
        url.rstrip("="),
        raw.hex(),
        raw.hex().upper(),
        der64,
        der64.rstrip("="),
        *_pem_texts(pem.decode("ascii")),
    )


def _remember_material(material: bytes) -> None:
    """Register the key as the operator wrote it: the text whole, and each line of a PEM
    or OpenSSH body (an echo may quote one line)."""
    try:
        text = material.decode("utf-8")
    except UnicodeDecodeError:
        return  # a raw binary seed: key_forms covers what it can be echoed as
    remember(text, text.strip(), *_pem_texts(text))


# A line of a key's base64 body: long enough not to be a word of prose.
_BODY_LINE: Final = re.compile(r"[A-Za-z0-9+/=]{16,}")


def _pem_texts(text: str) -> tuple[str, ...]:
    lines = [line.strip() for line in text.splitlines()]
    body = [line for line in lines if _BODY_LINE.fullmatch(line)]
    return (text, text.strip(), "".join(body), *body)


def load_ed25519_key_file(path: str, *, field: str = "signing_key_file") -> Ed25519PrivateKey:
    """`load_ed25519_key` of a file's bytes (a raw seed file is 32 bytes exactly)."""
    file = Path(path)
    try:
        if file.stat().st_size > _MAX_KEY_FILE:
            raise VectorVueConfigError(field, f"{path} is too large to be a key file")
        material = file.read_bytes()
    except OSError as exc:
        raise VectorVueConfigError(field, f"cannot read {path}: {exc.strerror}") from None
    return load_ed25519_key(material, field=field)


def load_ed25519_key_secret(secret: Secret, *, field: str = "signing_key_env") -> Ed25519PrivateKey:
    """`load_ed25519_key` of a key held as text by a credential source (PEM, hex, base64)."""
    return load_ed25519_key(secret.reveal().encode(), field=field)


def certificate_sha256(path: str, *, field: str = "client_cert") -> str:
    """Lowercase hex SHA-256 of the DER of the (first) certificate in a PEM file: the value
    of X-Client-Cert-Sha256, and the form of a pin."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise VectorVueConfigError(field, f"cannot read {path}: {exc.strerror}") from None
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise VectorVueConfigError(field, f"{path} holds no PEM certificate") from None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
