"""-q, the default and -v/-vv: the library's log records reach the operator's stderr through
the real console script, one line each, and never with a secret in them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue

from .test_cli import cli as run_cli

FINDINGS = str(sample_path("findings.jsonl"))


@pytest.fixture
def key_file_env(local_vectorvue: LocalVectorVue, tmp_path: Path) -> dict[str, str]:
    """The API key in a file group and others may read (0644), as the only source. The mode
    check reads the file's mode bits, not whether this process may read it: root sees the
    warning as anyone does."""
    key = tmp_path / "api-key"
    key.write_text(local_vectorvue.api_token + "\n")
    os.chmod(key, 0o644)  # the world-readable key file is the point
    return {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_CREDENTIAL_SOURCES": "file",
        "VECTORVUE_API_KEY_FILE": str(key),
    }


@pytest.fixture
def env(local_vectorvue: LocalVectorVue) -> dict[str, str]:
    """The API key in the environment, as an operator exports it."""
    return {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
    }


def _printed(ran: subprocess.CompletedProcess[str]) -> str:
    return ran.stdout + ran.stderr


def test_a_world_readable_key_file_is_warned_about_by_default(
    local_vectorvue: LocalVectorVue, key_file_env: dict[str, str]
) -> None:
    """No flag: the credentials logger's warning prints once, on one line, naming the file
    and its mode, and the key it holds is nowhere; the send itself succeeds."""
    ran = run_cli("send", FINDINGS, env=key_file_env)
    assert ran.returncode == 0, ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if "has mode 0644" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: vectorvue_client.credentials: credential file ")
    assert key_file_env["VECTORVUE_API_KEY_FILE"] in warnings[0]
    assert local_vectorvue.api_token not in _printed(ran)
    assert len(local_vectorvue.accepted_findings()) == 4


def test_quiet_hides_the_warning_but_not_an_error(key_file_env: dict[str, str]) -> None:
    """-q, before or after the command: the same send prints no warning; an error still
    prints its one line."""
    for args in (("-q", "send", FINDINGS), ("send", FINDINGS, "--quiet")):
        ran = run_cli(*args, env=key_file_env)
        assert ran.returncode == 0, ran.stderr
        assert "warning" not in ran.stderr
        assert "0644" not in ran.stderr
    missing = run_cli("-q", "send", "/nonexistent/findings.jsonl", env=key_file_env)
    assert missing.returncode == 2
    assert len(missing.stderr.splitlines()) == 1
    assert missing.stderr.startswith("vectorvue-client: ")


def test_verbose_adds_the_audit_records_and_twice_the_debug_lines(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    """-v: one info audit record per operation, no debug line. -vv (here one -v on each
    side of the command, which counts the same): urllib3's request lines as well. The API
    key, which every request carries, is in none of them."""
    once = run_cli("send", FINDINGS, "-v", env=env)
    assert once.returncode == 0, once.stderr
    assert "info: vectorvue_client.audit: vectorvue {" in once.stderr
    assert "debug: " not in once.stderr
    twice = run_cli("-v", "send", FINDINGS, "--verbose", env=env)
    assert twice.returncode == 0, twice.stderr
    lines = twice.stderr.splitlines()
    assert any(line.startswith("info: vectorvue_client.audit: ") for line in lines)
    assert any(
        line.startswith("debug: urllib3.connectionpool: ") and '"POST /api/' in line
        for line in lines
    ), twice.stderr
    for text in (once, twice):
        assert local_vectorvue.api_token not in _printed(text)


def test_quiet_and_verbose_together_are_a_usage_error(env: dict[str, str]) -> None:
    """-q with -v, wherever each is given, asks for opposite things: exit 2, one line
    naming both, nothing run."""
    for args in (("-q", "-v", "health"), ("-q", "health", "-v"), ("health", "-qv")):
        ran = run_cli(*args, env=env)
        assert ran.returncode == 2, args
        assert ran.stderr.splitlines() == [
            "vectorvue-client: -q/--quiet and -v/--verbose ask for opposite things; "
            "give one of them"
        ]
        assert ran.stdout == ""
