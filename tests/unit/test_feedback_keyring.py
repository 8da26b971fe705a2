"""The feedback keyring file: kid -> base64 of the raw 32-byte key, or a PEM file path
(relative to the keyring file); every mistake a VectorVueConfigError naming the setting."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from vectorvue_client.adapters.keyring_file import load_keyring
from vectorvue_client.domain.errors import VectorVueConfigError

OLD = Ed25519PrivateKey.from_private_bytes(bytes(32))
NEW = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def write(tmp_path: Path, table: object) -> str:
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps(table))
    return str(path)


def test_raw_base64_and_relative_pem_both_load(tmp_path: Path) -> None:
    (tmp_path / "new.pem").write_bytes(
        NEW.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    raw = base64.b64encode(OLD.public_key().public_bytes_raw()).decode()
    keyring = load_keyring(write(tmp_path, {"2026-05": raw, "2026-11": "new.pem"}))
    assert keyring["2026-05"].public_bytes_raw() == OLD.public_key().public_bytes_raw()
    assert keyring["2026-11"].public_bytes_raw() == NEW.public_key().public_bytes_raw()


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({}, "non-empty JSON object"),
        (["k"], "non-empty JSON object"),
        ({"k": ""}, "kid 'k'"),
        ({"k": 5}, "kid 'k'"),
        ({"k": "missing.pem"}, "kid 'k'"),
    ],
)
def test_mistakes_name_the_setting(tmp_path: Path, table: object, words: str) -> None:
    with pytest.raises(VectorVueConfigError) as caught:
        load_keyring(write(tmp_path, table))
    assert caught.value.field == "feedback_keyring_file"
    assert words in caught.value.rule


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (tmp_path / "rsa.pem").write_bytes(
        rsa.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(VectorVueConfigError, match="not an Ed25519 key"):
        load_keyring(write(tmp_path, {"k": "rsa.pem"}))


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(VectorVueConfigError, match="is not JSON"):
        load_keyring(str(bad))
    with pytest.raises(VectorVueConfigError, match="keyring file"):
        load_keyring(str(tmp_path / "none.json"))
