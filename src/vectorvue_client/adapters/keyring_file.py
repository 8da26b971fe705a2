"""The feedback keyring: kid -> the Ed25519 public key VectorVue's gateway signs feedback
with under that kid. No endpoint publishes these keys: they come out of band, in a JSON
file (setting `feedback_keyring_file`), as SpectraStrike configures them:

    {"2026-11": "keys/feedback-2026-11.pub.pem",
     "2026-05": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}

each value either the base64 (standard, padded) of the raw 32-byte public key or the path
of a PEM public key (SubjectPublicKeyInfo), relative to the keyring file's directory. Keep
the old kid during a rotation: answers signed before the switch still verify.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vectorvue_client.domain.errors import VectorVueConfigError

_FIELD: Final = "feedback_keyring_file"
_RAW_KEY: Final = re.compile(r"^[A-Za-z0-9+/]{43}=\Z")  # 32 bytes, standard base64
_MAX_FILE: Final = 1 << 20


def load_keyring(path: str) -> dict[str, Ed25519PublicKey]:
    """The keyring of the JSON file at `path`; a VectorVueConfigError naming the setting
    (and the kid) when anything in it is wrong."""
    text = _read(Path(path), "the keyring file")
    try:
        table = json.loads(text)
    except ValueError:
        raise VectorVueConfigError(_FIELD, f"{path} is not JSON") from None
    if not isinstance(table, dict) or not table:
        raise VectorVueConfigError(
            _FIELD, f"{path} must hold a non-empty JSON object: kid -> public key"
        )
    keyring = {}
    for kid, value in table.items():
        if not kid or not isinstance(value, str) or not value.strip():
            raise VectorVueConfigError(
                _FIELD, f"kid {kid!r}: must map a non-empty kid to a key or a PEM file path"
            )
        keyring[kid] = _public_key(kid, value.strip(), Path(path).parent)
    return keyring


def _public_key(kid: str, value: str, base: Path) -> Ed25519PublicKey:
    if _RAW_KEY.match(value):
        try:
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise VectorVueConfigError(
                _FIELD, f"kid {kid!r}: not a valid Ed25519 public key"
            ) from None
    pem = _read(base / value, f"kid {kid!r}: the PEM file")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise VectorVueConfigError(
            _FIELD,
            f"kid {kid!r}: {value} is neither the base64 of a raw 32-byte key nor a PEM public key",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise VectorVueConfigError(_FIELD, f"kid {kid!r}: {value} is not an Ed25519 key")
    return key


def _read(path: Path, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except OSError as exc:
        raise VectorVueConfigError(_FIELD, f"{what} {path}: {exc.strerror}") from None
    if len(data) > _MAX_FILE:
        raise VectorVueConfigError(_FIELD, f"{what} {path} is larger than 1 MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VectorVueConfigError(_FIELD, f"{what} {path} is not UTF-8 text") from None
