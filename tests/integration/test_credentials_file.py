"""FileCredentialSource on real files in tmp_path: content rules, refusals, the permission
warning, and Kubernetes-style symlinked secret mounts."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from vectorvue_client.adapters.credentials_file import (
    MAX_CREDENTIAL_FILE_BYTES,
    FileCredentialSource,
)
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret

VALUE = "vvk_file-secret-0123456789"
FIELD = "api_key_file"


def write(path: Path, content: bytes | str, mode: int = 0o600) -> Path:
    """Write `content` to `path` with `mode` (not subject to the umask)."""
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    path.chmod(mode)
    return path


def source(path: Path, warnings: list[str] | None = None) -> FileCredentialSource:
    """A source on `path` whose permission warnings go to `warnings` (None: the default)."""
    return FileCredentialSource(
        str(path), field=FIELD, warn=None if warnings is None else warnings.append
    )


def rule_of(path: Path, *, secret: str = VALUE) -> str:
    """The rule of the error `get` raises: it names FIELD and the path, never `secret`."""
    with pytest.raises(VectorVueConfigError) as caught:
        source(path).get()
    error = caught.value
    assert error.field == FIELD and str(path) in error.rule
    assert secret not in str(error) and secret not in repr(error)
    return error.rule


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (VALUE, VALUE),
        (VALUE + "\n", VALUE),
        (VALUE + "\r\n", VALUE),
        (VALUE + "\n\n", VALUE + "\n"),  # one newline only: the rest is the value's
        (" " + VALUE + " \n", " " + VALUE + " "),  # other whitespace is kept
        (VALUE + "\r", VALUE + "\r"),  # a bare CR is not a line ending here
    ],
)
def test_one_trailing_newline_is_stripped_and_nothing_else(
    tmp_path: Path, content: str, expected: str
) -> None:
    """As `echo` and editors write files: exactly one "\\n" or "\\r\\n" goes."""
    secret = source(write(tmp_path / "key", content)).get()
    assert isinstance(secret, Secret) and secret.reveal() == expected


def test_the_file_is_read_at_every_get(tmp_path: Path) -> None:
    """A rewritten file (a rotation) is picked up at the next get."""
    path = write(tmp_path / "key", VALUE)
    credentials = source(path)
    assert credentials.get().reveal() == VALUE
    write(path, "rotated-value-42")
    assert credentials.get().reveal() == "rotated-value-42"


@pytest.mark.parametrize("content", ["", "\n", "\r\n", "  \t\n"])
def test_an_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    """Empty or blank after the newline: a misconfiguration, not a credential."""
    assert "is empty" in rule_of(write(tmp_path / "key", content))


def test_a_missing_file_is_refused_naming_field_and_path(tmp_path: Path) -> None:
    """No file: the rule names the path and says to check the mount."""
    assert "does not exist" in rule_of(tmp_path / "absent")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    """The mount point instead of the key inside it: not a regular file."""
    assert "not a regular file" in rule_of(tmp_path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A named pipe would block a plain open() until a writer came; it is refused at once."""
    os.mkfifo(tmp_path / "pipe")
    assert "not a regular file" in rule_of(tmp_path / "pipe")


def test_a_file_over_64_kib_is_refused_and_64_kib_is_not(tmp_path: Path) -> None:
    """The cap is exact: 64 KiB is read, one byte more is refused."""
    at_cap = "k" * MAX_CREDENTIAL_FILE_BYTES
    assert source(write(tmp_path / "at-cap", at_cap)).get().reveal() == at_cap
    big = write(tmp_path / "big", VALUE + "x" * MAX_CREDENTIAL_FILE_BYTES)
    assert "larger than 65536 bytes" in rule_of(big)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8: refused, and not quoted."""
    assert "not valid UTF-8" in rule_of(write(tmp_path / "key", b"\xff\xfe" + VALUE.encode()))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    """No read permission: "cannot be opened (Permission denied)"."""
    assert "Permission denied" in rule_of(write(tmp_path / "key", VALUE, mode=0o000))


def test_a_path_through_a_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    """An open() that fails for another reason (here ENOTDIR, which root meets too)."""
    assert "Not a directory" in rule_of(write(tmp_path / "key", VALUE) / "child")


def test_a_file_others_may_read_warns_once_with_path_and_mode(tmp_path: Path) -> None:
    """0644: served, and one warning per source naming the path and mode, never the value."""
    path = write(tmp_path / "key", VALUE, mode=0o644)
    warnings: list[str] = []
    credentials = source(path, warnings)
    for _ in range(3):
        assert credentials.get().reveal() == VALUE
    [warning] = warnings
    assert str(path) in warning and "0644" in warning and VALUE not in warning


def test_an_owner_only_file_does_not_warn(tmp_path: Path) -> None:
    """0600 and 0400 are what a secret file should be: no warning."""
    warnings: list[str] = []
    for mode in (0o600, 0o400):
        source(write(tmp_path / f"key-{mode:o}", VALUE, mode=mode), warnings).get()
    assert warnings == []


def test_the_default_warning_goes_to_the_credentials_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without `warn`, the warning is logged on vectorvue_client.credentials."""
    path = write(tmp_path / "key", VALUE, mode=0o640)
    with caplog.at_level(logging.WARNING, logger="vectorvue_client.credentials"):
        FileCredentialSource(str(path), field=FIELD).get()
    [record] = caplog.records
    assert record.name == "vectorvue_client.credentials" and "0640" in record.getMessage()
    assert VALUE not in caplog.text


def kubernetes_mount(root: Path, value: str, stamp: str) -> Path:
    """What the kubelet writes: <root>/..<stamp>/api_key, ..data -> ..<stamp>, and
    api_key -> ..data/api_key; a new version swaps ..data atomically."""
    version = root / f"..{stamp}"
    version.mkdir()
    write(version / "api_key", value, mode=0o400)
    (root / "..data_tmp").symlink_to(version.name)
    (root / "..data_tmp").replace(root / "..data")
    if not (root / "api_key").is_symlink():
        (root / "api_key").symlink_to("..data/api_key")
    return root / "api_key"


def test_kubernetes_symlinked_secrets_are_followed_across_a_rotation(tmp_path: Path) -> None:
    """Symlinks are followed (the decision in credentials_file.py): the kubelet's layout
    works, and its atomic ..data swap is picked up at the next get, with no warning for
    the 0400 target although the links themselves are 0777."""
    warnings: list[str] = []
    credentials = source(kubernetes_mount(tmp_path, VALUE, "2026_11_25_12_00_00.1"), warnings)
    assert credentials.get().reveal() == VALUE
    kubernetes_mount(tmp_path, "rotated-by-kubelet", "2026_11_25_13_00_00.2")
    assert credentials.get().reveal() == "rotated-by-kubelet"
    assert warnings == []


def test_a_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    """The checks apply to what the link points at: a dangling link is a missing file, a
    link to a directory is not a regular file, a link to a 0644 file warns."""
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert "does not exist" in rule_of(tmp_path / "dangling")
    (tmp_path / "to-dir").symlink_to(tmp_path, target_is_directory=True)
    assert "not a regular file" in rule_of(tmp_path / "to-dir")
    (tmp_path / "to-open").symlink_to(write(tmp_path / "open", VALUE, mode=0o644))
    warnings: list[str] = []
    assert source(tmp_path / "to-open", warnings).get().reveal() == VALUE
    assert len(warnings) == 1 and "0644" in warnings[0]
